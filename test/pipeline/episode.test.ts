import { describe, expect, it } from 'vitest';
import type { Appearance, Lab } from '../../src/pipeline/appearance.js';
import { prepareDebounceParams } from '../../src/pipeline/debounce_params.js';
import { episodeStep, initialEpisodeState, type EpisodeEvent, type EpisodeInput, type EpisodeState } from '../../src/pipeline/episode.js';
import { resolveEpisodeParams } from '../../src/pipeline/episode_params.js';
import type { Box, Detection, FrameInfo } from '../../src/types/index.js';
import { det, inference } from './fixtures.js';

const A: Box = [200, 150, 320, 260];
const B: Box = [420, 300, 560, 420];
const DP = prepareDebounceParams({ windowSize: 5, probation: 3 });
const EP = resolveEpisodeParams({});

const look = (L: number, a = 20, b = 20, box: Box = A, skin: Lab = [70, 12, 15]): Appearance => ({
  lesion: { mean: [L, a, b] as Lab, std: [8, 4, 4] as Lab, samples: 300 },
  skin,
  areaFraction: 0.05,
  fill: 0.78,
  aspect: 1.1,
  box,
});

/** Drives episodeStep with a script; returns every event. */
class Exam {
  state: EpisodeState = initialEpisodeState();
  events: EpisodeEvent[] = [];
  seq = 0;
  t = 0;
  step(input: EpisodeInput, now = this.t): EpisodeEvent[] {
    const r = episodeStep(this.state, input, now, DP, EP);
    this.state = r.state;
    this.events.push(...r.events);
    return r.events;
  }
  /** One model output 100 ms after the last, seeing `box` (or nothing) with p(malignant) and an appearance. */
  see(box: Box | null, malignant = 0.1, appearance: Appearance | null = look(40), score = 0.9): EpisodeEvent[] {
    this.t += 100;
    const d: Detection[] = box ? [det(box, malignant, score)] : [];
    return this.step({ kind: 'inference', inference: inference(this.seq++, this.t, d), appearanceOf: () => appearance });
  }
  skip(lifted: boolean): EpisodeEvent[] {
    this.t += 100;
    const frame: FrameInfo = { seq: this.seq++, capturedAt: { monoMs: this.t, wallMs: 1_700_000_000_000 + this.t }, width: 640, height: 480, source: 'test' };
    return this.step({ kind: 'skipped', frame, lifted });
  }
  ended() {
    return this.events.filter((e) => e.state === 'ended').map((e) => e.episode!);
  }
}

describe('episodes', () => {
  it('opens when the track is confirmed, every event of it carries its index; lost closes it with one ended event', () => {
    const x = new Exam();
    x.see(A, 0.1);
    x.see(A, 0.1);
    expect(x.events.map((e) => e.episodeIndex)).toEqual([null, null]); // probation: no episode yet
    for (let i = 0; i < 8; i++) x.see(A, i === 7 ? 0.45 : 0.1, look(40), i === 4 ? 0.99 : 0.9);
    expect(x.events.slice(2).every((e) => e.episodeIndex === 0)).toBe(true);
    expect(x.events.some((e) => e.state === 'stable' && e.label === 'benign')).toBe(true);
    for (let i = 0; i < 12; i++) x.see(null);
    const states = x.events.filter((e) => e.changed).map((e) => e.state);
    expect(states).toEqual(['searching', 'tracking', 'stable', 'lost', 'ended', 'searching']);
    const [s] = x.ended();
    expect(x.ended()).toHaveLength(1);
    expect(s).toMatchObject({ index: 0, endReason: 'lost', verdict: 'benign', framesSeen: 8, bestFrameSeq: 6 });
    // Mean and spread over the frames that saw it (7 × 0.1 and 1 × 0.45), from confirmation on; the 0.45
    // frame is within the uncertain margin of the threshold, so it does not agree with the verdict.
    const m = (7 * 0.1 + 0.45) / 8;
    expect(s!.meanProbabilities!.malignant).toBeCloseTo(m, 10);
    expect(s!.spread!.malignant).toBeCloseTo(Math.sqrt((7 * (m - 0.1) ** 2 + (0.45 - m) ** 2) / 8), 10);
    expect(s!.agreement).toEqual({ agreeing: 7, frames: 8 });
    expect(s!.durationMs).toBe(700);
    expect(s!.endedAtMs - s!.startedAtMs).toBe(700);
    const lost = x.events.find((e) => e.state === 'lost')!;
    expect(lost.episodeIndex).toBe(0);
  });

  it('a lift ends the episode whatever the IoU after it, and a stale output from before the lift is ignored', () => {
    const x = new Exam();
    for (let i = 0; i < 8; i++) x.see(A, 0.9);
    expect(x.events.some((e) => e.state === 'stable' && e.label === 'malignant')).toBe(true);
    x.skip(false);
    x.skip(false);
    const out = x.skip(true);
    expect(out.map((e) => e.state)).toEqual(['ended']);
    expect(out[0]!.episode).toMatchObject({ index: 0, endReason: 'lifted', verdict: 'malignant' });
    // An output of a frame captured before the lift arrives late: it must not start anything.
    const t = x.t;
    const stale = x.step({ kind: 'inference', inference: inference(99, t - 500, [det(A, 0.9)]), appearanceOf: () => look(40) }, t);
    expect(x.state.debounce.track).toBeNull();
    expect(stale.map((e) => `${e.state}:${e.changed}`)).toEqual(['searching:true']); // shown after the ended event
    // The scope comes down at the same place: a new track, after probation a new episode, its own verdict.
    x.t += 100;
    const next: EpisodeEvent[] = [];
    for (let i = 0; i < 8; i++) next.push(...x.see(A, 0.1));
    expect(next[0]!.state).toBe('searching');
    expect(next.slice(2).every((e) => e.episodeIndex === 1)).toBe(true);
    expect(next.some((e) => e.state === 'stable' && e.label === 'benign')).toBe(true);
    expect(new Set(next.slice(2).map((e) => e.trackId)).size).toBe(1);
    expect(next[2]!.trackId).not.toBe(x.events[2]!.trackId);
    expect(x.ended()).toHaveLength(1);
  });

  it('a lift with nothing shown emits nothing, and drops a tentative track silently', () => {
    const x = new Exam();
    x.skip(false);
    expect(x.skip(true)).toEqual([]);
    x.see(A, 0.1); // tentative (probation)
    expect(x.skip(true)).toEqual([]);
    expect(x.state.debounce.track).toBeNull();
    expect(x.skip(false).filter((e) => e.changed)).toEqual([]); // still searching: no change to show
  });

  it('a different lesion at the same place (no lift) is a new episode once confirmed; one odd frame is not', () => {
    const x = new Exam();
    for (let i = 0; i < 8; i++) x.see(A, 0.1, look(40));
    x.see(A, 0.1, look(70)); // a glint: one frame that looks different
    for (let i = 0; i < 3; i++) x.see(A, 0.1, look(41));
    expect(x.ended()).toHaveLength(0);
    x.see(A, 0.9, look(72));
    x.see(A, 0.9, look(72));
    const cut = x.see(A, 0.9, look(72)); // the third in a row
    expect(cut.map((e) => e.state)).toEqual(['ended', 'searching']);
    const [s] = x.ended();
    expect(s).toMatchObject({ index: 0, endReason: 'new-lesion', verdict: 'benign' });
    // The three frames of the other lesion are not in this episode's summary; the refuted glint is.
    expect(s!.framesSeen).toBe(6 + 1 + 3);
    expect(s!.meanProbabilities!.malignant).toBeCloseTo(0.1, 10);
    for (let i = 0; i < 8; i++) x.see(A, 0.9, look(72));
    expect(x.events.filter((e) => e.state === 'stable').map((e) => `${e.episodeIndex}:${e.label}`)).toContain('1:malignant');
    // No event of episode 1 shows the verdict of episode 0.
    expect(x.events.filter((e) => e.episodeIndex === 1).every((e) => e.label !== 'benign')).toBe(true);
  });

  it('the mask shrinking to the lesion\'s core and back keeps the episode; a darker lesion there, ringed by skin, ends it', () => {
    const core: Box = [230, 175, 290, 235]; // inside A
    const x = new Exam();
    for (let i = 0; i < 8; i++) x.see(A, 0.1, look(40));
    // The core: darker (ΔE 10, past the rule) and ringed by the rest of the lesion (a quarter of the way to the skin).
    for (let i = 0; i < 4; i++) x.see(A, 0.1, look(30, 20, 20, core, [48, 18, 18]));
    for (let i = 0; i < 2; i++) x.see(A, 0.1, look(40));
    for (let i = 0; i < 4; i++) x.see(A, 0.1, look(30, 20, 20, core, [48, 18, 18]));
    for (let i = 0; i < 2; i++) x.see(A, 0.1, look(40));
    expect(x.ended()).toHaveLength(0);
    // The core's colour in the same place, but surrounded by skin: another lesion.
    for (let i = 0; i < 3; i++) x.see(A, 0.9, look(30, 20, 20, core, [70, 12, 15]));
    expect(x.ended().map((e) => e.endReason)).toEqual(['new-lesion']);
    expect(x.ended()[0]!.framesSeen).toBe(6 + 4 + 2 + 4 + 2); // every core output counted, none of the other lesion
  });

  it('outputs that look different but not like one lesion (a flickering mask) do not end the episode', () => {
    const x = new Exam();
    for (let i = 0; i < 8; i++) x.see(A, 0.1, look(40));
    for (let i = 0; i < 6; i++) x.see(A, 0.1, look(i % 2 ? 70 : 10));
    expect(x.ended()).toHaveLength(0);
    x.step({ kind: 'end', reason: 'shutdown' });
    // Six flickering outputs: all but the (at most confirm − 1) still held back count for the episode.
    expect(x.ended()[0]!.framesSeen).toBeGreaterThanOrEqual(6 + 6 - (EP.appearance.confirm - 1));
    expect(x.ended()[0]!.endReason).toBe('shutdown');
  });

  it('a reference taken from one odd first output is re-seeded, not taken for another lesion', () => {
    const x = new Exam();
    x.see(A, 0.1, look(40));
    x.see(A, 0.1, look(40));
    x.see(A, 0.1, look(75)); // the episode opens here, on an odd mask
    for (let i = 0; i < 6; i++) x.see(A, 0.1, look(40));
    expect(x.ended()).toHaveLength(0);
    // The re-seeded reference then tells a real change of lesion apart.
    for (let i = 0; i < 3; i++) x.see(A, 0.9, look(75));
    expect(x.ended().map((e) => e.endReason)).toEqual(['new-lesion']);
  });

  it('a jump to another track closes the episode as new-lesion and opens the next at once', () => {
    const x = new Exam();
    for (let i = 0; i < 6; i++) x.see(A, 0.1);
    for (let i = 0; i < 3; i++) x.see(B, 0.9, look(70));
    const [s] = x.ended();
    expect(s).toMatchObject({ index: 0, endReason: 'new-lesion' });
    const last = x.events[x.events.length - 1]!;
    expect(last.episodeIndex).toBe(1);
    expect(last.state).toBe('tracking');
  });

  it('the end of the source closes the open episode (never stable: verdict null); nothing open, nothing sent', () => {
    const x = new Exam();
    for (let i = 0; i < 4; i++) x.see(A, i % 2 ? 0.9 : 0.1);
    const out = x.step({ kind: 'end', reason: 'source-ended' });
    expect(out).toHaveLength(1);
    expect(out[0]!.episode).toMatchObject({ endReason: 'source-ended', verdict: null, framesSeen: 2, agreement: { agreeing: 0, frames: 2 } });
    expect(x.step({ kind: 'end', reason: 'shutdown' })).toEqual([]);
  });

  it('rejects bad parameters with the name of the key', () => {
    expect(() => resolveEpisodeParams({ liftMs: 0 })).toThrow(/liftMs/);
    expect(() => resolveEpisodeParams({ appearance: { confirm: 0.5 } })).toThrow(/confirm/);
    expect(() => resolveEpisodeParams({ appearance: { areaRatio: 1 } })).toThrow(/areaRatio/);
  });
});
