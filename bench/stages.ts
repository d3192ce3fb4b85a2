/**
 * Per-frame cost of the pipeline's CPU stages at 640×480 (quality gate, mask → contours): the numbers the
 * pipeline notes quote, kept out of the tests (tests assert behaviour, benchmarks measure time).
 *
 *   npm run build && node dist/bench/stages.js
 */
import { cpus } from 'node:os';
import { assessFrameQuality } from '../src/pipeline/quality_gate.js';
import { maskToContours } from '../src/pipeline/contours.js';

function time(fn: () => void, n: number): number {
  for (let i = 0; i < Math.min(20, n); i++) fn();
  const t0 = performance.now();
  for (let i = 0; i < n; i++) fn();
  return (performance.now() - t0) / n;
}

const W = 640;
const H = 480;
const data = new Uint8Array(W * H * 3);
for (let i = 0; i < data.length; i++) data[i] = 100 + ((i * 2654435761) >>> 26);
const mask = new Uint8Array(W * H);
for (let y = 0; y < H; y++) {
  for (let x = 0; x < W; x++) {
    const a = Math.atan2(y - 240, x - 320);
    mask[y * W + x] = Math.hypot((x - 320) / 1.3, y - 240) < 150 + 20 * Math.sin(7 * a) ? 1 : 0;
  }
}
const q = time(() => assessFrameQuality({ width: W, height: H, data }), 200);
const c = time(() => maskToContours({ x: 0, y: 0, width: W, height: H, data: mask }, W, H), 50);
console.log(`Pipeline stages at 640×480 on ${cpus().length}× ${cpus()[0]?.model ?? 'cpu'}, Node ${process.version}\n`);
console.log('| stage | ms/frame |\n|---|---|');
console.log(`| quality gate (dark / over-exposed / uniform / blur) | ${q.toFixed(2)} |`);
console.log(`| mask → contours (marching squares + RDP 1.5 px) | ${c.toFixed(2)} |`);
