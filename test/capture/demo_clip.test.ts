import { readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { defaultDemoSource, demoClipPath, packageRoot } from '../../src/capture/demo_source.js';
import type { CaptureEvent } from '../../src/capture/events.js';
import { openSource } from '../../src/capture/open_source.js';
import { record } from './helpers.js';

describe('bundled demo clip', () => {
  it('is found from the package root, whatever the working directory', () => {
    expect(packageRoot()).toBe(path.resolve('.'));
    expect(demoClipPath()).toBe(path.resolve('assets/demo/dermatoscope-demo.avi'));
    expect(defaultDemoSource()).toBe(`file:${demoClipPath()}`);
    expect(statSync(demoClipPath()).size).toBeLessThanOrEqual(5 * 1024 * 1024);
  });

  it('plays as 640×480 MJPEG at 10 fps', async () => {
    const r = record(openSource(defaultDemoSource(), { realtime: false }), { timeoutMs: 8000, until: (x) => x.frames.length >= 5 });
    expect(await r.done).toBe('stopped');
    expect(r.frames.every((f) => f.width === 640 && f.height === 480)).toBe(true);
    const first = r.events.find((e): e is Extract<CaptureEvent, { type: 'first-frame' }> => e.type === 'first-frame');
    expect(first?.fps).toBe(10);
  });

  it('credits its CC0 ISIC images and the challenge paper, and says the motion is synthetic', () => {
    const text = readFileSync(path.join(path.dirname(demoClipPath()), 'ATTRIBUTION.md'), 'utf8');
    expect(text).toContain('CC0');
    expect(text).toContain('arXiv:1710.05006');
    expect(text).toMatch(/synthetic/i);
    const ids = [...text.matchAll(/ISIC_(\d{7})/g)].map((m) => Number(m[1]));
    const used = ids.filter((n) => n >= 0 && n <= 556); // the CC0 range
    expect(new Set(used).size).toBeGreaterThanOrEqual(6);
    expect(text).toMatch(/benign/);
    expect(text).toMatch(/malignant/);
  });
});
