import { describe, expect, it } from 'vitest';
import type { DebounceEvent } from '../../src/pipeline/debounce.js';
import { latencySince, timed } from '../../src/pipeline/stage_timer.js';
import { createLesionEventBuilder, toLesionEvent } from '../../src/pipeline/to_lesion_event.js';
import type { FrameInfo } from '../../src/types/index.js';
import { det } from './fixtures.js';

const frame: FrameInfo = { seq: 42, capturedAt: { monoMs: 1000, wallMs: 1_700_000_001_000 }, width: 640, height: 480, source: 'test' };
const d = det([100, 100, 200, 180], 0.8);

function step(over: Partial<DebounceEvent> = {}): DebounceEvent {
  return {
    state: 'stable',
    label: 'malignant',
    probabilities: { benign: 0.2, malignant: 0.8 },
    spread: { benign: 0.01, malignant: 0.01 },
    box: [101, 99, 199, 181],
    detection: d,
    matched: true,
    agreement: { agreeing: 9, window: 10 },
    trackId: 3,
    changed: false,
    ...over,
  };
}

describe('toLesionEvent', () => {
  it('builds the event: box and contours in pixels and normalised, frame info, timings, latency', () => {
    let now = 1000;
    const clock = () => (now += 5); // every reading 5 ms later
    const { event, contoursMs } = toLesionEvent(step(), frame, { preprocessMs: 1, inferMs: 20, postprocessMs: 3 }, { clock });
    expect(event.state).toBe('stable');
    expect(event.box).toEqual({ pixels: [101, 99, 199, 181], normalized: [0.1578, 0.2063, 0.3109, 0.3771] });
    expect(event.contours).toHaveLength(1);
    for (const [x, y] of event.contours[0].pixels) {
      expect(x).toBeGreaterThanOrEqual(100);
      expect(x).toBeLessThanOrEqual(200);
      expect(y).toBeGreaterThanOrEqual(100);
      expect(y).toBeLessThanOrEqual(180);
    }
    expect(event.frame).toEqual(frame);
    expect(event.timings).toEqual({ preprocessMs: 1, inferMs: 20, postprocessMs: 3, latencyMs: 15 });
    expect(contoursMs).toBe(5);
    expect(event.agreement).toEqual({ agreeing: 9, window: 10 });
    expect(event.trackId).toBe(3);
  });

  it('no box and no contours while searching or once lost; zero model timings without an inference', () => {
    const clock = () => 1010;
    for (const state of ['searching', 'lost'] as const) {
      const { event } = toLesionEvent(step({ state }), frame, null, { clock });
      expect(event.box).toBeNull();
      expect(event.contours).toEqual([]);
      expect(event.timings).toEqual({ preprocessMs: 0, inferMs: 0, postprocessMs: 0, latencyMs: 10 });
    }
  });

  it('the builder traces a held mask once and hands out independent copies', () => {
    const clock = () => 0;
    const build = createLesionEventBuilder({ clock, contours: { tolerance: 1 } });
    const held = det([100, 100, 200, 180], 0.8);
    const a = build(step({ detection: held }), frame, null).event;
    held.mask.data.fill(0); // were it traced again, it would have no contour now
    const b = build(step({ detection: held, matched: false }), frame, null).event;
    expect(b.contours).toHaveLength(1);
    expect(b.contours).toEqual(a.contours);
    a.contours[0].pixels[0][0] = -1;
    expect(b.contours[0].pixels[0][0]).not.toBe(-1);
    const other = det([300, 300, 350, 350], 0.8);
    const c = build(step({ detection: other }), frame, null).event;
    expect(c.contours[0].pixels[0][0]).toBeGreaterThanOrEqual(300);
  });
});

describe('stage timer', () => {
  it('timed measures a call on the given clock; latency is never negative', () => {
    let t = 0;
    const clock = () => (t += 7);
    expect(timed(() => 'x', clock)).toEqual({ value: 'x', ms: 7 });
    expect(latencySince({ capturedAt: { monoMs: 100, wallMs: 0 } }, () => 50)).toBe(0);
    expect(latencySince({ capturedAt: { monoMs: 100, wallMs: 0 } }, () => 130)).toBe(30);
  });
});
