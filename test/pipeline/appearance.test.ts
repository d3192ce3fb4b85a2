import { describe, expect, it } from 'vitest';
import { appearanceDistance, appearanceOf, blendAppearance, rgbToLab } from '../../src/pipeline/appearance.js';
import { DEFAULT_EPISODE_PARAMS, isDifferentLesion } from '../../src/pipeline/episode_params.js';
import { det, lcg, makeFrame } from './fixtures.js';

/** Skin with a round lesion of colour `lesion` at (cx, cy), radius r, and a little noise. */
function scene(lesion: [number, number, number], cx = 320, cy = 240, r = 80, seed = 3) {
  const rnd = lcg(seed);
  return makeFrame(640, 480, (x, y) => {
    const n = (rnd() - 0.5) * 8;
    return Math.hypot(x - cx, y - cy) < r ? [lesion[0] + n, lesion[1] + n, lesion[2] + n] : [215 + n, 170 + n, 150 + n];
  });
}

describe('appearance of the tracked region', () => {
  it('rgbToLab matches reference values (white, black, sRGB red)', () => {
    const w = rgbToLab(255, 255, 255);
    expect(w[0]).toBeCloseTo(100, 1);
    expect(Math.abs(w[1]) + Math.abs(w[2])).toBeLessThan(0.05);
    expect(rgbToLab(0, 0, 0)[0]).toBeCloseTo(0, 5);
    const red = rgbToLab(255, 0, 0); // CIELAB of sRGB red (D65): 53.24, 80.09, 67.20
    expect(red[0]).toBeCloseTo(53.24, 1);
    expect(red[1]).toBeCloseTo(80.09, 0);
    expect(red[2]).toBeCloseTo(67.2, 0);
  });

  it('reads the lesion inside the mask and the skin around it', () => {
    const a = appearanceOf(scene([120, 70, 50]), det([240, 160, 400, 320], 0.2))!;
    const lesion = rgbToLab(120, 70, 50);
    const skin = rgbToLab(215, 170, 150);
    for (let c = 0; c < 3; c++) expect(a.lesion.mean[c]).toBeCloseTo(lesion[c]!, 0);
    expect(a.skin).not.toBeNull();
    expect(a.skin![0]).toBeGreaterThan(lesion[0] + 10); // the box corners are skin
    expect(a.fill).toBeGreaterThan(0.6);
    expect(a.aspect).toBeCloseTo(1, 5);
    expect(a.skin![0]).toBeLessThan(skin[0] + 1);
  });

  it('the same lesion moved and jittered stays the same; another colour at the same place does not', () => {
    const ref = appearanceOf(scene([120, 70, 50]), det([240, 160, 400, 320], 0.2))!;
    const moved = appearanceOf(scene([124, 72, 52], 350, 250, 84, 9), det([266, 166, 434, 334], 0.2))!;
    const other = appearanceOf(scene([70, 45, 40]), det([240, 160, 400, 320], 0.2))!;
    const dSame = appearanceDistance(ref, moved);
    const dOther = appearanceDistance(ref, other);
    expect(dSame.lesionDeltaE).toBeLessThan(3);
    expect(isDifferentLesion(dSame, DEFAULT_EPISODE_PARAMS)).toBe(false);
    expect(dOther.lesionDeltaE).toBeGreaterThan(DEFAULT_EPISODE_PARAMS.appearance.lesionDeltaE);
    expect(isDifferentLesion(dOther, DEFAULT_EPISODE_PARAMS)).toBe(true);
  });

  it('a mask with too few samples gives no appearance (the check abstains)', () => {
    const d = det([300, 200, 303, 203], 0.2);
    expect(appearanceOf(scene([120, 70, 50]), d)).toBeNull();
    expect(appearanceOf(scene([120, 70, 50]), det([700, 500, 720, 520], 0.2))).toBeNull(); // outside the frame
  });

  it('blending moves the reference part of the way, area on a log scale', () => {
    const a = appearanceOf(scene([120, 70, 50]), det([240, 160, 400, 320], 0.2))!;
    const b = { ...a, lesion: { ...a.lesion, mean: [a.lesion.mean[0] + 10, a.lesion.mean[1], a.lesion.mean[2]] as [number, number, number] }, areaFraction: a.areaFraction * 4 };
    const m = blendAppearance(a, b, 0.5);
    expect(m.lesion.mean[0]).toBeCloseTo(a.lesion.mean[0] + 5, 6);
    expect(m.areaFraction).toBeCloseTo(a.areaFraction * 2, 6);
  });
});
