/**
 * Memory and time to turn one 8000×8000 JPEG still into a frame (issue 10, item 7): decoded whole (what
 * images: did before) against the shipped path (shrink-on-load to capture.maxImageSide, sequential read).
 * Each case runs in a fresh process so that its peak RSS is its own.
 *
 *   npm run build && node dist/bench/still_decode.js
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import sharp from 'sharp';
import { openSource } from '../src/capture/open_source.js';

const SIDE = 8000;
const mode = process.argv[2];

if (mode === 'whole' || mode === 'shipped') {
  const file = process.argv[3]!;
  const t0 = performance.now();
  let size = '';
  if (mode === 'whole') {
    const { info } = await sharp(file).autoOrient().removeAlpha().toColourspace('srgb').raw().toBuffer({ resolveWithObject: true });
    size = `${info.width}×${info.height}`;
  } else {
    await new Promise<void>((resolve, reject) => {
      openSource(`images:${path.dirname(file)}`, { realtime: false }).frames$.subscribe({ next: (f) => (size = `${f.width}×${f.height}`), complete: resolve, error: reject });
    });
  }
  const ms = performance.now() - t0;
  console.log(JSON.stringify({ ms, maxRssMB: process.resourceUsage().maxRSS / 1024, size }));
} else {
  const dir = mkdtempSync(path.join(tmpdir(), 'dermstream-still-'));
  const file = path.join(dir, 'big.jpg');
  await sharp({ create: { width: SIDE, height: SIDE, channels: 3, background: { r: 180, g: 120, b: 100 }, noise: { type: 'gaussian', mean: 128, sigma: 30 } } })
    .jpeg({ quality: 90 })
    .toFile(file);
  const self = fileURLToPath(import.meta.url);
  const rows = (['whole', 'shipped'] as const).map((m) => {
    const r = spawnSync(process.execPath, [self, m, file], { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(r.stderr);
    return { mode: m, ...(JSON.parse(r.stdout.trim().split('\n').at(-1)!) as { ms: number; maxRssMB: number; size: string }) };
  });
  rmSync(dir, { recursive: true, force: true });
  const table = ['| decode | frame | time (ms) | peak RSS (MB) |', '| --- | --- | ---: | ---: |', ...rows.map((r) => `| ${r.mode === 'whole' ? 'whole image (before)' : 'shrink-on-load (shipped)'} | ${r.size} | ${r.ms.toFixed(0)} | ${r.maxRssMB.toFixed(0)} |`)];
  const text = `# ${SIDE}×${SIDE} JPEG still → frame\n\n${cpus().length}× ${cpus()[0]?.model ?? 'cpu'}, Node ${process.version}\n\n${table.join('\n')}\n`;
  console.log(text);
  const out = path.resolve(path.dirname(self), '../../bench/results');
  writeFileSync(path.join(out, 'still_decode.md'), text);
  writeFileSync(path.join(out, 'still_decode.json'), `${JSON.stringify({ side: SIDE, rows }, null, 2)}\n`);
}
