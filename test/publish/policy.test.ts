import { describe, expect, it } from 'vitest';
import { DEFAULT_LESION_POLICY, RateGate, publishedLesionOf, shouldPublishLesion } from '../../src/publish/index.js';
import { makeEvent } from './helpers/fixtures.js';

describe('shouldPublishLesion', () => {
  const p = DEFAULT_LESION_POLICY;
  it('publishes the first event', () => {
    expect(shouldPublishLesion(null, makeEvent({ state: 'searching' }), 0, p)).toEqual({ publish: true, reason: 'first' });
  });
  it('publishes every change of state, label or track, at once', () => {
    const prev = publishedLesionOf(makeEvent({ state: 'tracking', label: 'benign' }), 1000);
    expect(shouldPublishLesion(prev, makeEvent({ state: 'stable', label: 'benign' }), 1001, p).reason).toBe('change');
    expect(shouldPublishLesion(prev, makeEvent({ state: 'tracking', label: 'malignant' }), 1001, p).reason).toBe('change');
    expect(shouldPublishLesion(prev, makeEvent({ state: 'tracking', trackId: 2 }), 1001, p).reason).toBe('change');
    expect(shouldPublishLesion(prev, makeEvent({ state: 'tracking', changed: true }), 1001, p).reason).toBe('change');
  });
  it('sends a heartbeat at most once per heartbeatMs while a lesion is in view', () => {
    for (const state of ['tracking', 'stable', 'indeterminate'] as const) {
      const prev = publishedLesionOf(makeEvent({ state }), 1000);
      expect(shouldPublishLesion(prev, makeEvent({ state }), 1999, p).publish).toBe(false);
      expect(shouldPublishLesion(prev, makeEvent({ state }), 2000, p)).toEqual({ publish: true, reason: 'heartbeat' });
    }
  });
  it('no heartbeat while searching or lost', () => {
    for (const state of ['searching', 'lost'] as const) {
      const prev = publishedLesionOf(makeEvent({ state }), 0);
      expect(shouldPublishLesion(prev, makeEvent({ state }), 60_000, p).publish).toBe(false);
    }
  });
  it('a 30 fps stream of one stable verdict for 10 s gives 1 + ~10 messages', () => {
    let prev = null;
    let n = 0;
    for (let i = 0; i < 300; i++) {
      const t = i * (1000 / 30);
      const e = makeEvent({ state: 'stable', seq: i });
      if (shouldPublishLesion(prev, e, t, p).publish) {
        prev = publishedLesionOf(e, t);
        n++;
      }
    }
    expect(n).toBe(10);
  });
});

describe('RateGate', () => {
  const count = (hz: number, fps: number, seconds: number) => {
    const g = new RateGate(hz);
    let n = 0;
    let last = -Infinity;
    let minGap = Infinity;
    for (let i = 0; i < fps * seconds; i++) {
      const t = i * (1000 / fps);
      if (g.tryPass(t)) {
        n++;
        minGap = Math.min(minGap, t - last);
        last = t;
      }
    }
    return { n, minGap };
  };
  it('holds 10 Hz out of 30 fps without drifting low, and never bursts', () => {
    const { n, minGap } = count(10, 30, 10);
    expect(n).toBeGreaterThanOrEqual(99);
    expect(n).toBeLessThanOrEqual(101);
    expect(minGap).toBeGreaterThanOrEqual(50);
  });
  it('passes everything below the limit and nothing when 0', () => {
    expect(count(10, 5, 4).n).toBe(20);
    expect(count(0, 30, 1).n).toBe(0);
    expect(count(2, 30, 5).n).toBeLessThanOrEqual(11);
  });
});
