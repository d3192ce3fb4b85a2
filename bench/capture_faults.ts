/**
 * The two capture faults of issue 10 that are not fixed yet, measured so that a fix can show its effect:
 *  - item 4: event-loop lag (perf_hooks monitorEventLoopDelay) while a `file:` source on a FIFO stalls and
 *    is torn down (the writer keeps the FIFO open, sends nothing): GStreamer's set_state(NULL) blocks in
 *    the main thread until the writer goes away;
 *  - item 5: RSS growth per re-open of a `gst:` chain (each EOS re-opens; gstreamer-superficial never frees
 *    a pipeline).
 *
 *   npm run build && node dist/bench/capture_faults.js [--reopens 100] [--writer-hold-s 8]
 */
import { spawn, execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { openSource } from '../src/capture/open_source.js';

const arg = (name: string, dflt: number) => {
  const i = process.argv.indexOf(name);
  return i > 0 ? Number(process.argv[i + 1]) : dflt;
};
const REOPENS = arg('--reopens', 100);
const HOLD_S = arg('--writer-hold-s', 8);
const dir = mkdtempSync(path.join(tmpdir(), 'dermstream-capfaults-'));

async function stallLag(): Promise<{ maxLagMs: number; p99LagMs: number; stallToClosedMs: number }> {
  const avi = path.join(dir, 'clip.avi');
  execFileSync('gst-launch-1.0', ['-q', 'videotestsrc', 'num-buffers=20', '!', 'video/x-raw,width=320,height=240,framerate=30/1', '!', 'jpegenc', '!', 'avimux', '!', 'filesink', `location=${avi}`]);
  const fifo = path.join(dir, 'stall.fifo');
  execFileSync('mkfifo', [fifo]);
  const writer = spawn('sh', ['-c', `(cat '${avi}'; sleep ${HOLD_S}) > '${fifo}'`], { stdio: 'ignore' });
  // Enabled before the source opens: a histogram enabled right before a blocking call never samples it.
  const h = monitorEventLoopDelay({ resolution: 10 });
  h.enable();
  const cap = openSource(`file:${fifo}`, { stallTimeoutMs: 1000 });
  let stalledAt = 0;
  let closedAt = 0;
  cap.events$.subscribe((e) => {
    if (e.type === 'stalled') {
      stalledAt = performance.now();
    }
    if (e.type === 'closed') closedAt = performance.now();
  });
  await new Promise<void>((resolve) => cap.frames$.subscribe({ error: () => resolve(), complete: () => resolve() }));
  await new Promise((r) => setTimeout(r, 200));
  h.disable();
  writer.kill();
  return { maxLagMs: h.max / 1e6, p99LagMs: h.percentile(99) / 1e6, stallToClosedMs: closedAt - stalledAt };
}

async function reopenRss(): Promise<{ reopens: number; rssAt10MB: number; rssAtEndMB: number; perReopenKB: number }> {
  const cap = openSource('gst:videotestsrc is-live=true num-buffers=3 ! video/x-raw,width=640,height=480,framerate=30/1', { restart: { initialMs: 1, maxMs: 1, jitter: 0 } });
  let opens = 0;
  let rss10 = 0;
  return new Promise((resolve) => {
    const sub = cap.frames$.subscribe();
    cap.events$.subscribe((e) => {
      if (e.type !== 'opening') return;
      opens++;
      if (opens === 10) rss10 = process.memoryUsage().rss;
      if (opens === REOPENS) {
        sub.unsubscribe();
        global.gc?.();
        const end = process.memoryUsage().rss;
        resolve({ reopens: REOPENS, rssAt10MB: rss10 / 2 ** 20, rssAtEndMB: end / 2 ** 20, perReopenKB: (end - rss10) / 1024 / (REOPENS - 10) });
      }
    });
  });
}

const lag = await stallLag();
const rss = await reopenRss();
rmSync(dir, { recursive: true, force: true });
const text = `# capture faults still open (issue 10, items 4 and 5)

${cpus().length}× ${cpus()[0]?.model ?? 'cpu'}, Node ${process.version}

| fault | measure | value |
| --- | --- | ---: |
| 4: file: on a FIFO, writer holds it ${HOLD_S} s | event-loop lag max / p99 over the run | ${lag.maxLagMs.toFixed(0)} / ${lag.p99LagMs.toFixed(0)} ms |
| 4 | stall detected → source closed | ${lag.stallToClosedMs.toFixed(0)} ms |
| 5: gst: 640×480 chain re-opened at each EOS | RSS after 10 → after ${rss.reopens} re-opens | ${rss.rssAt10MB.toFixed(0)} → ${rss.rssAtEndMB.toFixed(0)} MB |
| 5 | RSS per re-open | ${rss.perReopenKB.toFixed(0)} kB |
`;
console.log(text);
const out = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../bench/results');
writeFileSync(path.join(out, 'capture_faults.md'), text);
writeFileSync(path.join(out, 'capture_faults.json'), `${JSON.stringify({ lag, rss, holdS: HOLD_S }, null, 2)}\n`);
process.exit(0);
