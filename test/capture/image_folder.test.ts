import { writeFileSync } from 'node:fs';
import path from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CaptureError } from '../../src/capture/errors.js';
import type { CaptureEvent } from '../../src/capture/events.js';
import { listImages } from '../../src/capture/image_folder_source.js';
import { openSource } from '../../src/capture/open_source.js';
import { record, tempDir } from './helpers.js';

const RED = { r: 255, g: 0, b: 0 };
const GREEN = { r: 0, g: 255, b: 0 };
const BLUE = { r: 0, g: 0, b: 255 };

describe('images: (still images via sharp)', () => {
  const tmp = tempDir();
  beforeAll(async () => {
    const solid = (w: number, h: number, c: { r: number; g: number; b: number }) => sharp({ create: { width: w, height: h, channels: 3, background: c } });
    // Natural order is img1, img2, img10 (plain string order would put img10 second).
    await solid(100, 80, RED).jpeg({ quality: 95 }).toFile(path.join(tmp.dir, 'img1.jpg'));
    await solid(60, 90, GREEN).ensureAlpha().png().toFile(path.join(tmp.dir, 'img2.png'));
    await solid(120, 40, BLUE).png().toFile(path.join(tmp.dir, 'img10.PNG'));
    writeFileSync(path.join(tmp.dir, 'notes.txt'), 'not an image');
  });
  afterAll(() => tmp.remove());

  const colour = (data: Uint8Array, i: number) => Array.from(data.subarray(i * 3, i * 3 + 3));

  it('lists images in natural name order and skips other files', async () => {
    expect((await listImages(tmp.dir)).map((f) => path.basename(f))).toEqual(['img1.jpg', 'img2.png', 'img10.PNG']);
  });

  it('plays them in order at the requested fps, each at its own size', async () => {
    const cap = openSource(`images:${tmp.dir}`, { fps: 10 });
    const r = record(cap, { timeoutMs: 8000 });
    expect(await r.done).toBe('complete');
    expect(r.frames.map((f) => [f.width, f.height])).toEqual([
      [100, 80],
      [60, 90],
      [120, 40],
    ]);
    for (const f of r.frames) {
      expect(f.data.length).toBe(f.width * f.height * 3);
      expect([f.data.byteOffset, f.data.buffer.byteLength]).toEqual([0, f.data.length]); // transferable
    }
    const dominant = r.frames.map((f) => colour(f.data, 0).indexOf(Math.max(...colour(f.data, 0))));
    expect(dominant).toEqual([0, 1, 2]); // red, green, blue
    const gaps = r.frames.slice(1).map((f, i) => f.capturedAt.monoMs - r.frames[i]!.capturedAt.monoMs);
    for (const g of gaps) {
      expect(g).toBeGreaterThan(80);
      expect(g).toBeLessThan(200);
    }
    expect(r.events.filter((e) => e.type === 'resized')).toHaveLength(2);
  });

  it('scales every image to a requested size with black borders, and loops', async () => {
    const cap = openSource(`images:${tmp.dir}`, { width: 64, height: 64, realtime: false, loop: true });
    const r = record(cap, { timeoutMs: 8000, until: (x) => x.frames.length >= 7 });
    expect(await r.done).toBe('stopped');
    expect(r.frames.every((f) => f.width === 64 && f.height === 64)).toBe(true);
    const blue = r.frames[2]!.data; // 120x40 → 64x21 centred: top rows black, middle blue
    expect(colour(blue, 0)).toEqual([0, 0, 0]);
    expect(colour(blue, 32 * 64 + 32)[2]).toBeGreaterThan(200);
    expect(r.frames.map((f) => f.seq)).toEqual([0, 1, 2, 3, 4, 5, 6]);
    expect(Array.from(r.frames[3]!.data.subarray(0, 96))).toEqual(Array.from(r.frames[0]!.data.subarray(0, 96)));
  });

  it('reports an empty or missing folder clearly', async () => {
    const empty = tempDir();
    try {
      const r = record(openSource(`images:${empty.dir}`), { timeoutMs: 5000 });
      expect(await r.done).toBe('error');
      expect((r.error as CaptureError).code).toBe('NOT_FOUND');
      expect((r.error as CaptureError).message).toContain('no images');
      const r2 = record(openSource(`images:${path.join(empty.dir, 'nope')}`), { timeoutMs: 5000 });
      expect(await r2.done).toBe('error');
      expect((r2.error as CaptureError).message).toContain('does not exist');
    } finally {
      empty.remove();
    }
  });

  it('names an image it cannot decode', async () => {
    const bad = tempDir();
    try {
      writeFileSync(path.join(bad.dir, 'broken.jpg'), 'this is not a jpeg');
      const r = record(openSource(`images:${bad.dir}`), { timeoutMs: 5000 });
      expect(await r.done).toBe('error');
      expect((r.error as CaptureError).code).toBe('DECODE');
      expect((r.error as CaptureError).message).toContain('broken.jpg');
    } finally {
      bad.remove();
    }
  });

  it('skips a truncated JPEG and a text file named .jpg with a warning each and a counter, and plays the rest (issue 10, item 6)', async () => {
    const mixed = tempDir();
    try {
      const good = await sharp({ create: { width: 64, height: 48, channels: 3, background: RED } }).jpeg().toBuffer();
      writeFileSync(path.join(mixed.dir, 'a1.jpg'), good);
      writeFileSync(path.join(mixed.dir, 'a2.jpg'), good.subarray(0, Math.floor(good.length / 2)));
      writeFileSync(path.join(mixed.dir, 'a3.jpg'), 'meeting notes, not a photo\n');
      writeFileSync(path.join(mixed.dir, 'a4.jpg'), good);
      const cap = openSource(`images:${mixed.dir}`, { realtime: false });
      const r = record(cap, { timeoutMs: 8000 });
      expect(await r.done).toBe('complete');
      expect(r.frames).toHaveLength(2);
      const skipped = r.events.filter((e): e is Extract<CaptureEvent, { type: 'skipped' }> => e.type === 'skipped');
      expect(skipped.map((e) => [path.basename(e.file), e.skipped])).toEqual([
        ['a2.jpg', 1],
        ['a3.jpg', 2],
      ]);
      expect(skipped[0]!.reason).toMatch(/truncated/);
      expect(skipped[1]!.reason).toMatch(/not an image/);
      expect(cap.stats().skipped).toBe(2);
    } finally {
      mixed.remove();
    }
  });

  it('decodes a huge still shrunk on load to maxImageSide, and skips one above maxImagePixels naming the limit (item 7)', async () => {
    const big = tempDir();
    try {
      await sharp({ create: { width: 8000, height: 6000, channels: 3, background: GREEN } }).jpeg().toFile(path.join(big.dir, 'b1.jpg'));
      await sharp({ create: { width: 3000, height: 3000, channels: 3, background: BLUE } }).png().toFile(path.join(big.dir, 'b2.png'));
      const r = record(openSource(`images:${big.dir}`, { realtime: false, maxImagePixels: 50_000_000 }), { timeoutMs: 20_000 });
      expect(await r.done).toBe('complete');
      expect(r.frames.map((f) => [f.width, f.height])).toEqual([
        [1920, 1440],
        [1920, 1920],
      ]);
      const r2 = record(openSource(`images:${big.dir}`, { realtime: false, maxImagePixels: 10_000_000, maxImageSide: 640 }), { timeoutMs: 20_000 });
      expect(await r2.done).toBe('complete');
      expect(r2.frames.map((f) => [f.width, f.height])).toEqual([[640, 640]]);
      const skipped = r2.events.find((e) => e.type === 'skipped');
      expect(skipped && skipped.type === 'skipped' && skipped.reason).toMatch(/more than 10 Mpx \(capture\.maxImagePixels\)/);
    } finally {
      big.remove();
    }
  });
});
