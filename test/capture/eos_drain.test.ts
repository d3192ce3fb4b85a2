/**
 * A recording played at its own rate ends only after its last frame: when the consumer is slower than the
 * file, the appsink (max-buffers=1, drop=true: newest frame wins, as a camera would) drops frames in the
 * middle, but never the last one — the EOS waits until the last sample has been pulled.
 */
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import sharp from 'sharp';
import { afterAll, describe, expect, it } from 'vitest';
import { openSource } from '../../src/capture/open_source.js';
import { record, tempDir } from './helpers.js';

const tmp = tempDir('dermstream-eos-');
afterAll(() => tmp.remove());

/** An MJPEG AVI at `fps` whose frame k is a flat grey of level 20 + 8k: each frame names its index. */
async function numberedClip(frames: number, fps: number): Promise<string> {
  for (let k = 0; k < frames; k++) {
    const jpeg = await sharp({ create: { width: 160, height: 120, channels: 3, background: { r: 20 + 8 * k, g: 20 + 8 * k, b: 20 + 8 * k } } }).jpeg({ quality: 95 }).toBuffer();
    writeFileSync(path.join(tmp.dir, `n_${String(k).padStart(4, '0')}.jpg`), jpeg);
  }
  const out = path.join(tmp.dir, 'numbered.avi');
  execFileSync('gst-launch-1.0', ['-q', 'imagesequencesrc', `location=${path.join(tmp.dir, 'n_%04d.jpg')}`, 'start-index=0', `framerate=${fps}/1`, '!', 'image/jpeg,width=160,height=120', '!', 'avimux', '!', 'filesink', `location=${out}`], { stdio: 'pipe', timeout: 20_000 });
  return out;
}

const indexOf = (data: Uint8Array) => {
  let s = 0;
  for (let i = 0; i < data.length; i += 3) s += data[i]!;
  return Math.round((s / (data.length / 3) - 20) / 8);
};

describe('file: at its own frame rate, slow consumer', () => {
  it('drops frames in the middle but always delivers the last one before completing', async () => {
    const avi = await numberedClip(25, 25);
    const cap = openSource(`file:${avi}`);
    const rec = record(cap, { timeoutMs: 15_000 });
    // Block the event loop for 120 ms per frame (3 frame periods): the appsink must drop some.
    const sub = cap.frames$.subscribe(() => {
      const t = performance.now();
      while (performance.now() - t < 120);
    });
    expect(await rec.done).toBe('complete');
    sub.unsubscribe();
    const seen = rec.frames.map((f) => indexOf(f.data));
    expect(seen.length).toBeLessThan(25); // the slow consumer made it drop
    expect(seen[seen.length - 1]).toBe(24); // ... but not the last frame
    for (let i = 1; i < seen.length; i++) expect(seen[i]).toBeGreaterThan(seen[i - 1]!);
  }, 30_000);
});
