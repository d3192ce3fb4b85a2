import { describe, expect, it } from 'vitest';
import { addFrame, openEpisode, summarizeEpisode, type EpisodeFrame } from '../../src/pipeline/episode_summary.js';
import { lcg } from './fixtures.js';

const info = (monoMs: number) => ({ seq: 0, capturedAt: { monoMs, wallMs: 1_700_000_000_000 + monoMs }, width: 640, height: 480, source: 'test' });
const frame = (seq: number, malignant: number, score = 0.9, label: EpisodeFrame['label'] = malignant >= 0.5 ? 'malignant' : 'benign'): EpisodeFrame => ({
  seq,
  monoMs: 1000 + 100 * seq,
  wallMs: 1_700_000_001_000 + 100 * seq,
  probabilities: { benign: 1 - malignant, malignant },
  score,
  label,
});

describe('episode summary', () => {
  it('mean and population spread agree with the two-pass formulas over many frames', () => {
    const rnd = lcg(5);
    let e = openEpisode(2, 7, info(1000));
    const xs: number[] = [];
    for (let i = 0; i < 500; i++) {
      const m = 0.6 + 0.3 * (rnd() - 0.5);
      xs.push(m);
      e = addFrame(e, frame(i, m, 0.5 + 0.4 * rnd()));
    }
    e = { ...e, verdict: 'malignant' };
    const s = summarizeEpisode(e, 'lost', true);
    const mean = xs.reduce((a, b) => a + b, 0) / xs.length;
    const sd = Math.sqrt(xs.reduce((a, b) => a + (b - mean) ** 2, 0) / xs.length);
    expect(s.meanProbabilities!.malignant).toBeCloseTo(mean, 12);
    expect(s.spread!.malignant).toBeCloseTo(sd, 12);
    expect(s.spread!.benign).toBeCloseTo(sd, 12);
    expect(s).toMatchObject({ index: 2, trackId: 7, endReason: 'lost', framesSeen: 500, durationMs: 49_900 });
    expect(s.agreement).toEqual({ agreeing: xs.filter((m) => m >= 0.5).length, frames: 500 });
  });

  it('identical frames have zero spread; the best frame is the highest score (first on a tie)', () => {
    let e = openEpisode(0, 1, info(1000));
    for (const [seq, score] of [[0, 0.8], [1, 0.95], [2, 0.95], [3, 0.7]] as const) e = addFrame(e, frame(seq, 0.3, score));
    const s = summarizeEpisode(e, 'shutdown', true);
    expect(s.spread).toEqual({ benign: 0, malignant: 0 });
    expect(s.bestFrameSeq).toBe(1);
    expect(s.verdict).toBeNull();
    expect(s.agreement).toEqual({ agreeing: 0, frames: 4 });
  });

  it('held-back frames count only when asked; an episode that saw nothing has no statistics', () => {
    let e = openEpisode(0, 1, info(1000));
    e = addFrame(e, frame(0, 0.2));
    e = { ...e, pending: [{ frame: frame(1, 0.9), appearance: null as never }] };
    expect(summarizeEpisode(e, 'new-lesion', false).framesSeen).toBe(1);
    expect(summarizeEpisode(e, 'lifted', true).framesSeen).toBe(2);
    const empty = summarizeEpisode(openEpisode(1, 2, info(5000)), 'source-ended', true);
    expect(empty).toMatchObject({ framesSeen: 0, meanProbabilities: null, spread: null, bestFrameSeq: null, durationMs: 0 });
  });
});
