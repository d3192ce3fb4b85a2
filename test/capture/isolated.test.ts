import { execFileSync, spawn } from 'node:child_process';
import path from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { afterAll, describe, expect, it } from 'vitest';
import type { CaptureError } from '../../src/capture/errors.js';
import { isolatedChildCount } from '../../src/capture/gst_isolated.js';
import { livePipelineCount } from '../../src/capture/gst_source.js';
import { openSource } from '../../src/capture/open_source.js';
import { makeMjpegAvi, record, sleep, tempDir } from './helpers.js';

/**
 * Issue 10, items 4 and 5: GStreamer in a child process per session (capture isolate). Reproduced first
 * in-process: the stalled FIFO below held the event loop 6.85 s on teardown (bench/capture_faults.ts).
 */
describe('isolated GStreamer sessions (a child process each)', () => {
  const tmp = tempDir();
  afterAll(() => tmp.remove());

  it('delivers the same frames as in-process, transferable, with timestamps on our clock', async () => {
    const t0 = performance.now();
    const r = record(openSource('test', { width: 64, height: 48, fps: 30, isolate: true }), { timeoutMs: 15_000, until: (x) => x.frames.length >= 10 });
    expect(await r.done).toBe('stopped');
    expect(livePipelineCount()).toBe(0); // none in this process
    for (const f of r.frames) {
      expect([f.width, f.height, f.data.length]).toEqual([64, 48, 64 * 48 * 3]);
      expect([f.data.byteOffset, f.data.buffer.byteLength]).toEqual([0, f.data.length]);
      expect(f.capturedAt.monoMs).toBeGreaterThan(t0);
      expect(f.capturedAt.monoMs).toBeLessThanOrEqual(performance.now());
    }
    await sleep(500);
    expect(isolatedChildCount()).toBe(0);
  }, 30_000);

  it('a parse error comes back as the same CaptureError', async () => {
    const r = record(openSource('gst:videotestsrc ! ! videoconvert', { isolate: true }), { timeoutMs: 15_000 });
    expect(await r.done).toBe('error');
    expect((r.error as CaptureError).code).toBe('PARSE');
    expect((r.error as CaptureError).message).toContain('syntax error');
  }, 30_000);

  it('a FIFO whose writer stops: the stall is caught and the teardown does not hold the event loop (item 4)', async () => {
    const avi = makeMjpegAvi(path.join(tmp.dir, 'clip.avi'), { frames: 20, width: 160, height: 120 });
    const fifo = path.join(tmp.dir, 'stall.fifo');
    execFileSync('mkfifo', [fifo]);
    const writer = spawn('sh', ['-c', `(cat '${avi}'; sleep 8) > '${fifo}'`], { stdio: 'ignore' });
    const lag = monitorEventLoopDelay({ resolution: 10 });
    lag.enable();
    const r = record(openSource(`file:${fifo}`, { stallTimeoutMs: 1000, isolate: true }), { timeoutMs: 20_000 });
    expect(await r.done).toBe('error');
    expect((r.error as CaptureError).code).toBe('STALLED');
    await sleep(300);
    lag.disable();
    writer.kill();
    console.info(`event-loop lag during stall and teardown: max ${(lag.max / 1e6).toFixed(0)} ms`);
    // In-process this was the whole 6.8 s the writer kept the FIFO open.
    expect(lag.max / 1e6).toBeLessThan(1000);
    await sleep(2500);
    expect(isolatedChildCount()).toBe(0); // the blocked child was killed
  }, 40_000);

  it('re-opens of a gst: chain leave nothing behind in this process (item 5)', async () => {
    // A forced GC between samples, so that what is measured is what stays reachable, not garbage waiting.
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as () => void;
    const used = () => {
      gc();
      const m = process.memoryUsage();
      return m.heapUsed + m.external;
    };
    const cap = openSource('gst:videotestsrc is-live=true num-buffers=3 ! video/x-raw,width=640,height=480,framerate=30/1', { restart: { initialMs: 1, maxMs: 1, jitter: 0 }, isolate: true });
    let opens = 0;
    let at10 = 0;
    let rss10 = 0;
    const done = new Promise<[number, number]>((resolve) => {
      cap.events$.subscribe((e) => {
        if (e.type !== 'opening') return;
        opens++;
        if (opens === 10) [at10, rss10] = [used(), process.memoryUsage().rss];
        if (opens === 50) resolve([used(), process.memoryUsage().rss]);
      });
    });
    const sub = cap.frames$.subscribe();
    const [atEnd, rssEnd] = await done;
    sub.unsubscribe();
    const perReopenKB = (atEnd - at10) / 1024 / 40;
    const rssPerReopenKB = (rssEnd - rss10) / 1024 / 40;
    console.info(`per isolated re-open: heap+external ${perReopenKB.toFixed(1)} kB, RSS ${rssPerReopenKB.toFixed(0)} kB (in-process: ~2150 kB RSS, bench/capture_faults.ts)`);
    // In-process each re-open kept ~2.2 MB of RSS (two 640×480 frames and the pipeline, never freed); here the
    // pipeline dies with its child. Frames in flight over IPC make the sample noisy (±0.5 MB over 40 re-opens
    // measured here), hence the bound at half the old leak rather than zero.
    expect(rssPerReopenKB).toBeLessThan(1000);
    await sleep(2500);
    expect(isolatedChildCount()).toBe(0);
  }, 120_000);
});
