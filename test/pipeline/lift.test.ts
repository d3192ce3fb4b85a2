import { describe, expect, it } from 'vitest';
import { initialLiftState, liftStep, type LiftState } from '../../src/pipeline/lift.js';

const P = { liftMs: 300, liftReasons: ['dark', 'uniform', 'blurry'] };

function run(frames: [number, string | null][]): number[] {
  let s: LiftState = initialLiftState();
  const at: number[] = [];
  for (const [t, reason] of frames) {
    const r = liftStep(s, t, reason, P);
    s = r.state;
    if (r.lifted) at.push(t);
  }
  return at;
}

describe('lift detection at the gate', () => {
  it('a run of dark/uniform/blurry rejections lasting liftMs is one lift, reported once', () => {
    const frames: [number, string | null][] = [[0, null], [100, 'blurry'], [200, 'dark'], [300, 'dark'], [400, 'uniform'], [500, 'dark'], [600, 'dark']];
    expect(run(frames)).toEqual([400]);
  });
  it('a readable frame or a glare rejection breaks the run', () => {
    expect(run([[0, 'dark'], [100, 'dark'], [200, null], [300, 'dark'], [400, 'dark'], [500, 'overexposed'], [600, 'dark']])).toEqual([]);
  });
  it('a second lift after readable frames is reported again', () => {
    expect(run([[0, 'dark'], [300, 'dark'], [400, null], [500, 'dark'], [800, 'dark']])).toEqual([300, 800]);
  });
});
