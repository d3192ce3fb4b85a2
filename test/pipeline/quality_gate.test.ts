import sharp from 'sharp';
import { Subject, from, lastValueFrom, toArray } from 'rxjs';
import { describe, expect, it } from 'vitest';
import {
  DEFAULT_QUALITY_THRESHOLDS,
  assessFrameQuality,
  createQualityCounters,
  greyDownscale,
  laplacianVariance,
  qualityGate,
  type QualityRejection,
} from '../../src/pipeline/quality_gate.js';
import type { Frame } from '../../src/types/index.js';
import { lcg, makeFrame, texturedFrame } from './fixtures.js';

const W = 640;
const H = 480;

async function blurred(frame: Frame, sigma: number): Promise<Frame> {
  const out = await sharp(Buffer.from(frame.data), { raw: { width: frame.width, height: frame.height, channels: 3 } })
    .blur(sigma)
    .raw()
    .toBuffer();
  return { ...frame, data: new Uint8Array(out) };
}

/** Uniform noise over a dark disk on a lighter ground (the disk survives a blur, the noise does not). */
function noiseFrame(seed = 3): Frame {
  const rnd = lcg(seed);
  return makeFrame(W, H, (x, y) => (Math.hypot(x - W / 2, y - H / 2) < H / 4 ? 60 : 190) + (rnd() - 0.5) * 120);
}

describe('assessFrameQuality', () => {
  it('rejects a black frame as dark', () => {
    const r = assessFrameQuality(makeFrame(W, H, () => 0));
    expect(r).toMatchObject({ ok: false, reason: 'dark' });
    expect(r.stats.darkFraction).toBe(1);
  });

  it('rejects a white frame as overexposed', () => {
    const r = assessFrameQuality(makeFrame(W, H, () => 255));
    expect(r).toMatchObject({ ok: false, reason: 'overexposed' });
    expect(r.stats.brightFraction).toBe(1);
  });

  it('rejects a flat grey frame (scope not on skin) as uniform', () => {
    const r = assessFrameQuality(makeFrame(W, H, () => 128));
    expect(r).toMatchObject({ ok: false, reason: 'uniform' });
    expect(r.stats.stdLuma).toBeLessThan(DEFAULT_QUALITY_THRESHOLDS.minStdDev);
  });

  it('passes a sharp texture and rejects the same texture out of focus', async () => {
    const sharpFrame = texturedFrame();
    const ok = assessFrameQuality(sharpFrame);
    expect(ok).toMatchObject({ ok: true, reason: null });
    const blur = assessFrameQuality(await blurred(sharpFrame, 8));
    expect(blur).toMatchObject({ ok: false, reason: 'blurry' });
    expect(blur.stats.laplacianVariance).toBeLessThan(ok.stats.laplacianVariance / 100);
  });

  it('passes sharp noise and rejects blurred noise as blurry (not uniform: it still has contrast)', async () => {
    const noise = noiseFrame();
    expect(assessFrameQuality(noise).ok).toBe(true);
    const b = assessFrameQuality(await blurred(noise, 8));
    expect(b.reason).toBe('blurry');
    expect(b.stats.stdLuma).toBeGreaterThan(0);
  });

  it('focus measure falls monotonically with blur', async () => {
    const f = texturedFrame();
    const values = [];
    for (const sigma of [0.5, 2, 4, 8]) values.push(assessFrameQuality(await blurred(f, sigma)).stats.laplacianVariance);
    for (let i = 1; i < values.length; i++) expect(values[i]).toBeLessThan(values[i - 1]);
  });

  it('a dark vignette around a readable field is not "dark"', () => {
    const tex = texturedFrame();
    const f = makeFrame(W, H, (x, y) => {
      if (Math.hypot(x - W / 2, y - H / 2) > H / 2) return 0;
      const i = (y * W + x) * 3;
      return [tex.data[i], tex.data[i + 1], tex.data[i + 2]];
    });
    const r = assessFrameQuality(f);
    expect(r.stats.darkFraction).toBeGreaterThan(0.3);
    expect(r.ok).toBe(true);
  });

  it('thresholds are configurable', () => {
    const f = texturedFrame();
    expect(assessFrameQuality(f, { minLaplacianVariance: 1e9 }).reason).toBe('blurry');
    expect(assessFrameQuality(makeFrame(W, H, () => 128), { minStdDev: 0 }).reason).toBe('blurry');
    expect(() => assessFrameQuality(f, { roi: 0 })).toThrow(RangeError);
  });

  it('downscales 640×480 to 160×120 by box averaging', () => {
    const f = makeFrame(W, H, (x) => (x % 8 < 4 ? 0 : 200));
    const g = greyDownscale(f, 160);
    expect([g.width, g.height]).toEqual([160, 120]);
    // Each 4×4 block is uniform here (0 or 200 in alternating blocks).
    expect(g.grey[0]).toBeCloseTo(0, 5);
    expect(g.grey[1]).toBeCloseTo(200, 0);
    expect(laplacianVariance(new Float32Array(9).fill(5), 3, 3)).toBe(0);
  });

  it('rejects truncated frame data', () => {
    expect(() => assessFrameQuality({ width: W, height: H, data: new Uint8Array(10) })).toThrow(RangeError);
  });
});

describe('qualityGate operator', () => {
  it('passes readable frames, counts and reports each rejection reason', async () => {
    const frames = [
      texturedFrame(W, H, 0),
      makeFrame(W, H, () => 0, 1),
      makeFrame(W, H, () => 255, 2),
      makeFrame(W, H, () => 128, 3),
      await blurred(texturedFrame(W, H, 4), 8),
      texturedFrame(W, H, 5),
      makeFrame(W, H, () => 0, 6),
    ];
    const counters = createQualityCounters();
    const rejected = new Subject<QualityRejection>();
    const reports: QualityRejection[] = [];
    rejected.subscribe((r) => reports.push(r));
    const passed = await lastValueFrom(from(frames).pipe(qualityGate({ counters, rejected }), toArray()));
    expect(passed.map((f) => f.seq)).toEqual([0, 5]);
    expect(counters).toEqual({
      assessed: 7,
      passed: 2,
      rejected: { dark: 2, overexposed: 1, uniform: 1, blurry: 1 },
    });
    expect(reports.map((r) => [r.frame.seq, r.reason])).toEqual([
      [1, 'dark'],
      [2, 'overexposed'],
      [3, 'uniform'],
      [4, 'blurry'],
      [6, 'dark'],
    ]);
  });
});
