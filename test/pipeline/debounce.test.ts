import { Subject, VirtualTimeScheduler } from 'rxjs';
import { describe, expect, it } from 'vitest';
import { debounceLesion, type DebounceInput, type DebounceOutput } from '../../src/pipeline/debounce_operator.js';
import {
  DEFAULT_DEBOUNCE_PARAMS,
  debounceStep,
  frameLabel,
  initialDebounceState,
  resolveDebounceParams,
  voteCounts,
  windowSizeForRate,
  type DebounceEvent,
  type DebounceParams,
  type DebounceState,
} from '../../src/pipeline/debounce.js';
import type { Box, Detection } from '../../src/types/index.js';
import { det, inference } from './fixtures.js';

const A: Box = [200, 150, 320, 260];
const B: Box = [450, 300, 560, 400];
const BEN = 0.1; // p(malignant) of a clearly benign frame
const MAL = 0.9;

type Step = Detection[] | null; // null = time passes without a model output
type Ev = DebounceEvent & { t: number; i: number };

const rep = (n: number, s: Step): Step[] => Array.from({ length: n }, () => s);

function play(script: Step[], params: Partial<DebounceParams> = {}, dt = 100, from?: { state: DebounceState; t: number; i: number }) {
  let state = from?.state ?? initialDebounceState();
  const events: Ev[] = [];
  script.forEach((dets, k) => {
    const i = (from?.i ?? 0) + k;
    const t = (from?.t ?? 0) + k * dt;
    const r = debounceStep(state, dets === null ? null : inference(i, t, dets), params, t);
    state = r.state;
    events.push({ ...r.event, t, i });
  });
  const last = events[events.length - 1];
  return { events, state, next: { state, t: last.t + dt, i: last.i + 1 } };
}

/** The events that changed something, as [t, state, label, trackId]. */
const transitions = (events: Ev[]) =>
  events.filter((e) => e.changed).map((e) => [e.t, e.state, e.label, e.trackId] as const);

describe('debounceStep: a lesion enters and leaves', () => {
  it('searching → tracking (after probation) → stable (8 of 10 agree) → lost (10 misses) → searching', () => {
    const { events } = play([...rep(20, [det(A, BEN)]), ...rep(15, [])]);
    expect(transitions(events)).toEqual([
      [0, 'searching', null, null],
      [200, 'tracking', 'benign', 1], // 3rd consecutive sighting ends probation
      [700, 'stable', 'benign', 1], // 8th agreeing observation: 8/10
      [2900, 'lost', 'benign', 1], // 10th consecutive miss (frames at 2000 … 2900)
      [3000, 'searching', null, null],
    ]);
    const stable = events.find((e) => e.t === 700)!;
    expect(stable.agreement).toEqual({ agreeing: 8, window: 10 });
    expect(stable.probabilities!.malignant).toBeCloseTo(BEN, 9);
    expect(stable.spread!.malignant).toBeCloseTo(0, 9);
    // Between the last sighting and `lost` the verdict is held (misses alone never demote it).
    expect(events.filter((e) => e.t >= 2000 && e.t < 2900).every((e) => e.state === 'stable' && !e.matched)).toBe(true);
    const lost = events.find((e) => e.state === 'lost')!;
    expect(lost.box).toBeNull();
    expect(lost.detection).toBeNull();
  });

  it('is lost after lostAfterMs without a sighting, whatever the miss count', () => {
    const { events } = play([...rep(12, [det(A, BEN)]), ...rep(10, [])], { maxConsecutiveMisses: 100 }, 300);
    // Last sighting at 11 × 300 = 3300 ms; lost at the first miss ≥ 1500 ms later.
    expect(transitions(events).slice(-2)).toEqual([
      [4800, 'lost', 'benign', 1],
      [5100, 'searching', null, null],
    ]);
  });

  it('time alone (no model output: frames rejected, camera gone) reports a lost lesion', () => {
    const { events } = play([...rep(10, [det(A, BEN)]), null, null, null], {}, 1000 / 2);
    // dt = 500 ms; last sighting at 4500; ticks at 5000, 5500, 6000 → lost at 6000, not before.
    expect(transitions(events).slice(-1)).toEqual([[6000, 'lost', 'benign', 1]]);
  });

  it('a one- or two-frame false positive is never reported (probation) and leaves no "lost" behind', () => {
    const { events } = play([[], [det(A, MAL)], [], [], [det(B, MAL)], [det(B, MAL)], [], [], []]);
    expect(events.every((e) => e.state === 'searching' && e.trackId === null)).toBe(true);
    expect(events.filter((e) => e.changed)).toHaveLength(1); // only the first event
  });

  it('a tentative track that times out on ticks is dropped silently', () => {
    const { events } = play([[det(A, MAL)], null, null, null, null], {}, 1000);
    expect(events.every((e) => e.state === 'searching')).toBe(true);
  });
});

describe('debounceStep: flicker', () => {
  const stableBenign = () => play(rep(10, [det(A, BEN)]));

  it('isolated contrary frames and dropped frames do not flip or drop a stable verdict', () => {
    const start = stableBenign();
    // Every 4th frame malignant, every 7th dropped, then a short B-M-B-M burst: ≤ 3 contrary votes in any
    // window of 10 (a 4th would be the rule's "contradicted" and show indeterminate, as the next test shows).
    const script: Step[] = [];
    for (let k = 0; k < 40; k++) script.push(k % 7 === 6 ? [] : k % 4 === 3 ? [det(A, MAL)] : [det(A, BEN)]);
    script.push(...rep(6, [det(A, BEN)]), [det(A, BEN)], [det(A, MAL)], [det(A, BEN)], [det(A, MAL)], ...rep(6, [det(A, BEN)]));
    const { events } = play(script, {}, 100, start.next);
    expect(events.every((e) => e.state === 'stable' && e.label === 'benign' && e.trackId === 1)).toBe(true);
    expect(events.some((e) => e.changed)).toBe(false);
  });

  it('a track seen only 7 of every 10 frames is never shown as stable', () => {
    const script: Step[] = [];
    for (let k = 0; k < 60; k++) script.push(k % 10 < 7 ? [det(A, BEN)] : []);
    const { events } = play(script);
    expect(events.some((e) => e.state === 'stable')).toBe(false);
    expect(events.filter((e) => e.trackId !== null).every((e) => e.state === 'tracking' && e.label === 'benign')).toBe(true);
  });

  it('a stable verdict that starts to waver goes indeterminate (label held), and only a clear majority of the other class over a full window makes it stable again', () => {
    const start = stableBenign();
    const waver: Step[] = [];
    for (let k = 0; k < 20; k++) waver.push([det(A, k % 2 === 0 ? MAL : BEN)]);
    const { events, next } = play(waver, {}, 100, start.next);
    expect(events.some((e) => e.state === 'stable' && e.label === 'malignant')).toBe(false);
    const firstIndeterminate = events.find((e) => e.state === 'indeterminate')!;
    // Entered on the 4th contrary vote (contradictFraction 0.4 × 10), label still the held verdict.
    expect(firstIndeterminate.label).toBe('benign');
    expect(firstIndeterminate.i - 10).toBe(6); // M at k = 0, 2, 4, 6
    expect(events.slice(events.indexOf(firstIndeterminate)).every((e) => e.state === 'indeterminate')).toBe(true);

    const run = play(rep(12, [det(A, MAL)]), {}, 100, next);
    const all = [...start.events, ...events, ...run.events];
    expect(transitions(all).map(([, s, l]) => `${s}:${l}`)).toEqual([
      'searching:null',
      'tracking:benign',
      'stable:benign',
      'indeterminate:benign',
      'stable:malignant',
    ]);
    // Stable malignant only once 8 of the last 10 say malignant.
    const flip = run.events.find((e) => e.state === 'stable')!;
    expect(flip.agreement).toEqual({ agreeing: 8, window: 10 });
    expect(flip.trackId).toBe(1);
  });

  it('a stable verdict seen only sporadically, by contrary frames, keeps its label until it is indeterminate', () => {
    const start = stableBenign();
    // Five missed frames, then three malignant sightings, then misses: the window ends with more
    // malignant than benign votes, but far too few of anything for a verdict.
    const { events } = play([...rep(5, []), ...rep(3, [det(A, MAL)]), ...rep(3, [])], {}, 100, start.next);
    expect(events.some((e) => e.label === 'malignant')).toBe(false);
    expect(transitions(events).map(([, s, l]) => `${s}:${l}`)).toEqual(['tracking:benign', 'indeterminate:benign']);
  });

  it('no new evidence, no change: through a run of misses a stable verdict holds its label until lost', () => {
    const start = stableBenign();
    // Three malignant sightings (the window still says benign 7:3), then the lesion is missed: as the old
    // benign votes leave the window, malignant outnumbers benign 3:2, but nothing new has been seen.
    const { events } = play([...rep(3, [det(A, MAL)]), ...rep(10, [])], {}, 100, start.next);
    expect(events.slice(0, 12).every((e) => e.state === 'stable' && e.label === 'benign')).toBe(true);
    expect(events[12]).toMatchObject({ state: 'lost', label: 'benign', changed: true });
  });

  it('the stable label never changes without an indeterminate event in between (random flicker)', () => {
    let seed = 11;
    const rnd = () => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 4294967296);
    const script: Step[] = [];
    for (let k = 0; k < 2000; k++) {
      const r = rnd();
      // Long runs of one class with 25 % noise and 10 % dropped frames; the class switches every ~80 frames.
      const base = Math.floor(k / 80) % 2 === 0 ? BEN : MAL;
      script.push(r < 0.1 ? [] : [det(A, r < 0.35 ? 1 - base : base)]);
    }
    const { events } = play(script, { maxConsecutiveMisses: 1000, lostAfterMs: 1e9 });
    let lastStable: string | null = null;
    let sawIndeterminateSince = true;
    for (const e of events) {
      if (e.state === 'indeterminate') sawIndeterminateSince = true;
      if (e.state === 'stable') {
        if (lastStable !== null && e.label !== lastStable) expect(sawIndeterminateSince).toBe(true);
        if (e.label !== lastStable) sawIndeterminateSince = false;
        lastStable = e.label;
      }
      if (e.state === 'stable' || e.state === 'indeterminate' || e.state === 'tracking') expect(e.label).not.toBeNull();
    }
    expect(events.filter((e) => e.changed && e.state === 'stable').length).toBeGreaterThan(3); // it did follow the class
  });
});

describe('debounceStep: a class that wavers', () => {
  it('alternating classes from the start: indeterminate, never stable', () => {
    const script: Step[] = [];
    for (let k = 0; k < 60; k++) script.push([det(A, k % 2 ? 0.3 : 0.7)]);
    const { events } = play(script);
    expect(events.some((e) => e.state === 'stable')).toBe(false);
    expect(events.slice(5).every((e) => e.state === 'indeterminate')).toBe(true);
    // Held label: it does not flicker with the frames.
    expect(new Set(events.slice(5).map((e) => e.label)).size).toBe(1);
    expect(events.slice(6).filter((e) => e.changed)).toHaveLength(0);
  });

  it('a probability stuck near the threshold (uncertain frames) is indeterminate, never stable', () => {
    const { events } = play(rep(40, [det(A, 0.53)]));
    expect(events.some((e) => e.state === 'stable')).toBe(false);
    expect(events.slice(2).every((e) => e.state === 'indeterminate')).toBe(true);
  });

  it('mostly one class with a noisy third: indeterminate while tracking, never stable', () => {
    const script: Step[] = [];
    for (let k = 0; k < 60; k++) script.push([det(A, k % 3 === 2 ? MAL : BEN)]);
    const { events } = play(script);
    expect(events.some((e) => e.state === 'stable')).toBe(false);
    expect(events.some((e) => e.state === 'indeterminate')).toBe(true);
  });
});

describe('debounceStep: two lesions and jumps', () => {
  it('tracks the largest-score detection when several appear at once', () => {
    const { events } = play(rep(10, [det(A, BEN, 0.7), det(B, MAL, 0.95)]));
    const last = events[events.length - 1];
    expect(last).toMatchObject({ state: 'stable', label: 'malignant', trackId: 1 });
    expect(last.box).toEqual(B);
  });

  it('a second lesion does not steal the verdict, even with a higher score or when the first is missed for a frame or two', () => {
    const start = play(rep(10, [det(A, BEN, 0.8)]));
    const script: Step[] = [
      ...rep(10, [det(B, MAL, 0.99), det(A, BEN, 0.8)]),
      [det(B, MAL, 0.99)],
      [det(B, MAL, 0.99)],
      ...rep(10, [det(A, BEN, 0.8), det(B, MAL, 0.99)]),
    ];
    const { events } = play(script, {}, 100, start.next);
    expect(events.every((e) => e.state === 'stable' && e.label === 'benign' && e.trackId === 1)).toBe(true);
    expect(events.every((e) => e.box!.every((v, k) => Math.abs(v - A[k]) < 1e-9))).toBe(true);
    expect(events.every((e) => e.detection!.box === A)).toBe(true);
  });

  it('a jump (the scope moves to another lesion) resets the track after jumpConfirm sightings', () => {
    const start = play(rep(10, [det(A, BEN)]));
    const { events } = play(rep(12, [det(B, MAL)]), {}, 100, start.next);
    // Two sightings of B: still the old track (could be a glitch); the third: a new track.
    expect(events.slice(0, 2).every((e) => e.trackId === 1 && e.state === 'stable' && e.label === 'benign')).toBe(true);
    expect(events[2]).toMatchObject({ trackId: 2, state: 'tracking', label: 'malignant', changed: true });
    expect(events[2].box).toEqual(B);
    // The new track carries its 3 sightings: stable after 5 more.
    expect(events.find((e) => e.state === 'stable' && e.trackId === 2)).toMatchObject({ i: 17, label: 'malignant' });
  });

  it('a single glitch frame elsewhere does not reset the track', () => {
    const start = play(rep(10, [det(A, BEN)]));
    const { events } = play([[det(B, MAL)], ...rep(5, [det(A, BEN)]), [det(B, MAL)], [det(B, MAL)], [det(A, BEN)]], {}, 100, start.next);
    expect(events.every((e) => e.trackId === 1 && e.state === 'stable' && e.label === 'benign')).toBe(true);
  });

  it('follows a lesion that moves slowly (IoU stays above the threshold) and smooths its box', () => {
    const script: Step[] = [];
    for (let k = 0; k < 30; k++) script.push([det([A[0] + 4 * k, A[1], A[2] + 4 * k, A[3]], BEN)]);
    const { events } = play(script);
    expect(new Set(events.filter((e) => e.trackId !== null).map((e) => e.trackId))).toEqual(new Set([1]));
    const last = events[events.length - 1];
    // EMA (alpha 0.5) of a box moving 4 px/frame lags by 4 px in steady state.
    expect(last.box![0]).toBeCloseTo(A[0] + 4 * 29 - 4, 3);
  });

  it('keeps the track when the box shrinks to a part of the lesion or grows back to the whole (IoU 0.19), not when it moves beside', () => {
    const WHOLE: Box = [50, 15, 610, 330];
    const CORE: Box = [140, 150, 330, 340]; // IoU ≈ 0.19 with WHOLE, 95 % of it inside WHOLE
    const start = play(rep(10, [det(WHOLE, BEN)]));
    const { events } = play([...rep(4, [det(CORE, BEN)]), ...rep(4, [det(WHOLE, BEN)])], {}, 100, start.next);
    expect(events.every((e) => e.trackId === 1 && e.state === 'stable')).toBe(true);
    // Asking for the whole core inside, the core is a challenger that takes over: a new track.
    const off = play(rep(4, [det(CORE, BEN)]), { containThreshold: 1 }, 100, play(rep(10, [det(WHOLE, BEN)]), { containThreshold: 1 }).next);
    expect(off.events[3]!.trackId).toBe(2);
    // A box of the same size two thirds beside the track's (IoU 0.2, a third inside) is neither overlapping enough nor contained.
    const beside = play(rep(4, [det([420, 15, 980, 330], BEN)]), {}, 100, play(rep(10, [det(WHOLE, BEN)])).next);
    expect(beside.events[3]!.trackId).toBe(2);
  });

  it('ignores detections under minScore', () => {
    const { events } = play(rep(10, [det(A, MAL, 0.3)]));
    expect(events.every((e) => e.state === 'searching')).toBe(true);
  });
});

describe('debounceStep: numbers', () => {
  it('reports mean and standard deviation of the probabilities over the seen frames of the window', () => {
    const script: Step[] = [];
    for (let k = 0; k < 10; k++) script.push([det(A, k % 2 ? 0.8 : 0.9)]);
    const last = play(script).events[9];
    expect(last.state).toBe('stable');
    expect(last.probabilities!.malignant).toBeCloseTo(0.85, 9);
    expect(last.spread!.malignant).toBeCloseTo(0.05, 9);
    expect(last.probabilities!.benign).toBeCloseTo(0.15, 9);
  });

  it('changed is true exactly when state, label or track change; the first event is changed', () => {
    const { events } = play([[], [], ...rep(12, [det(A, BEN)])]);
    expect(events.map((e) => e.changed)).toEqual(
      events.map((e, k) => k === 0 || e.state !== events[k - 1].state || e.label !== events[k - 1].label || e.trackId !== events[k - 1].trackId),
    );
    expect(events.filter((e) => e.changed)).toHaveLength(3);
  });

  it('is pure: the input state is not mutated and replaying gives the same events', () => {
    const script: Step[] = [...rep(8, [det(A, BEN)]), [det(A, MAL)], []];
    const a = play(script);
    const frozen = JSON.stringify(a.state);
    const again = play(script);
    expect(JSON.stringify(again.events)).toBe(JSON.stringify(a.events));
    debounceStep(a.state, inference(99, 5000, [det(B, MAL)]), {}, 5000);
    expect(JSON.stringify(a.state)).toBe(frozen);
  });

  it('frame votes: threshold and uncertain band', () => {
    const p = DEFAULT_DEBOUNCE_PARAMS;
    expect(frameLabel({ benign: 0.9, malignant: 0.1 }, p)).toBe('benign');
    expect(frameLabel({ benign: 0.45, malignant: 0.55 }, p)).toBeNull();
    expect(frameLabel({ benign: 0.3, malignant: 0.7 }, p)).toBe('malignant');
    expect(frameLabel({ benign: 0.7, malignant: 0.3 }, { malignantThreshold: 0.25, uncertainMargin: 0 })).toBe('malignant');
  });

  it('window helpers and validation', () => {
    expect(windowSizeForRate(15)).toBe(15);
    expect(windowSizeForRate(2)).toBe(5);
    expect(voteCounts(resolveDebounceParams())).toEqual({ stable: 8, disagree: 3, contradict: 4, hold: 5 });
    expect(() => resolveDebounceParams({ stableAgreement: 0.4 })).toThrow(RangeError);
    expect(() => resolveDebounceParams({ windowSize: 0 })).toThrow(RangeError);
    expect(() => resolveDebounceParams({ probation: 1.5 })).toThrow(RangeError);
  });
});

describe('debounceLesion operator', () => {
  it('one event per model output; skipped frames emit only when they change the state', () => {
    const src = new Subject<DebounceInput>();
    const out: DebounceOutput[] = [];
    src.pipe(debounceLesion({}, { idleTickMs: 0 })).subscribe((o) => out.push(o));
    for (let i = 0; i < 10; i++) src.next(inference(i, i * 100, [det(A, BEN)]));
    expect(out).toHaveLength(10);
    const skip = (i: number, t: number) => ({ frame: inference(i, t, []).frame, skipped: 'blurry' });
    src.next(skip(10, 1000)); // 100 ms after the last sighting: nothing to say
    src.next(skip(11, 1200));
    expect(out).toHaveLength(10);
    src.next(skip(12, 2500)); // 1600 ms: lost
    expect(out).toHaveLength(11);
    expect(out[10].event).toMatchObject({ state: 'lost', changed: true });
    expect(out[10].frame.seq).toBe(12);
    expect(out[10].input).toMatchObject({ skipped: 'blurry' });
  });

  it('skipped frames do not move time while a model output is pending', () => {
    const src = new Subject<DebounceInput>();
    const out: DebounceOutput[] = [];
    let pending = false;
    src.pipe(debounceLesion({}, { idleTickMs: 0, observationPending: () => pending })).subscribe((o) => out.push(o));
    for (let i = 0; i < 10; i++) src.next(inference(i, i * 100, [det(A, BEN)]));
    pending = true; // a slow inference is running
    src.next({ frame: inference(10, 5000, []).frame, skipped: 'blurry' });
    expect(out).toHaveLength(10);
    pending = false;
    src.next(inference(11, 5100, [det(A, BEN)])); // the slow result: the lesion is still there
    expect(out[10].event).toMatchObject({ state: 'stable', trackId: 1, changed: false });
  });

  it('idle ticks report a lesion lost when no input arrives at all', () => {
    const scheduler = new VirtualTimeScheduler();
    scheduler.maxFrames = 10_000;
    const clock = () => scheduler.now();
    const src = new Subject<DebounceInput>();
    const out: DebounceOutput[] = [];
    src.pipe(debounceLesion({ lostAfterMs: 1000 }, { clock, scheduler, idleTickMs: 100 })).subscribe((o) => out.push(o));
    for (let i = 0; i < 10; i++) src.next(inference(i, 0, [det(A, BEN)]));
    expect(out[9].event.state).toBe('stable');
    scheduler.flush(); // runs ticks until maxFrames (virtual time)
    const lost = out.find((o) => o.event.state === 'lost')!;
    expect(lost).toBeDefined();
    expect(lost.input).toBeNull();
    expect(lost.frame.seq).toBe(9); // the last frame seen
    expect(out.find((o) => o.event.state === 'searching' && o.input === null)).toBeDefined();
    expect(out.filter((o) => o.input === null)).toHaveLength(2); // lost, then searching; nothing else
  });
});
