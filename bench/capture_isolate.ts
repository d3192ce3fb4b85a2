/**
 * What capture.isolate costs: the same 640×480 30 frames/s test source for 10 s in-process and in a child
 * process, with the CPU time this (the service's) process spends and the frames that arrive.
 *
 *   npm run build && node dist/bench/capture_isolate.js
 */
import { writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { openSource } from '../src/capture/open_source.js';

const SECONDS = 10;
async function measure(isolate: boolean): Promise<{ frames: number; mainCpuMsPerFrame: number; mainCpuPct: number }> {
  const cap = openSource('test', { width: 640, height: 480, fps: 30, isolate });
  let frames = 0;
  let u0: NodeJS.CpuUsage | undefined;
  let t0 = 0;
  const sub = cap.frames$.subscribe(() => {
    if (frames++ === 0) {
      u0 = process.cpuUsage();
      t0 = performance.now();
    }
  });
  await new Promise((r) => setTimeout(r, SECONDS * 1000 + 1500));
  const u = process.cpuUsage(u0);
  const wall = performance.now() - t0;
  sub.unsubscribe();
  await new Promise((r) => setTimeout(r, 2500));
  const cpuMs = (u.user + u.system) / 1000;
  return { frames, mainCpuMsPerFrame: cpuMs / frames, mainCpuPct: (100 * cpuMs) / wall };
}

const rows = { inProcess: await measure(false), isolated: await measure(true) };
const text = `# capture.isolate: cost in the service process (640×480, 30 frames/s test source, ${SECONDS} s)

${cpus().length}× ${cpus()[0]?.model ?? 'cpu'}, Node ${process.version}

| GStreamer | frames | CPU of this process per frame (in-process: GStreamer's threads included) | CPU of this process |
| --- | ---: | ---: | ---: |
| in-process | ${rows.inProcess.frames} | ${rows.inProcess.mainCpuMsPerFrame.toFixed(2)} ms | ${rows.inProcess.mainCpuPct.toFixed(1)} % |
| child process (capture.isolate) | ${rows.isolated.frames} | ${rows.isolated.mainCpuMsPerFrame.toFixed(2)} ms | ${rows.isolated.mainCpuPct.toFixed(1)} % |
`;
console.log(text);
const out = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../bench/results');
writeFileSync(path.join(out, 'capture_isolate.md'), text);
writeFileSync(path.join(out, 'capture_isolate.json'), `${JSON.stringify(rows, null, 2)}\n`);
process.exit(0);
