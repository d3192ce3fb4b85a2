import { describe, expect, it } from 'vitest';
import { backoffDelayMs, backoffPolicy, DEFAULT_BACKOFF } from '../../src/shared/backoff.js';

describe('backoffDelayMs', () => {
  const noJitter = backoffPolicy({ initialMs: 100, maxMs: 1000, factor: 2, jitter: 0 });

  it('doubles per consecutive failure up to the cap', () => {
    expect([1, 2, 3, 4, 5, 6, 50, 1e6].map((n) => backoffDelayMs(n, noJitter))).toEqual([100, 200, 400, 800, 1000, 1000, 1000, 1000]);
  });

  it('treats nonsense failure counts as the first failure', () => {
    expect(backoffDelayMs(0, noJitter)).toBe(100);
    expect(backoffDelayMs(-3, noJitter)).toBe(100);
  });

  it('spreads delays by ±jitter and never past the cap', () => {
    const p = backoffPolicy({ initialMs: 1000, maxMs: 4000, factor: 2, jitter: 0.25 });
    expect(backoffDelayMs(1, p, () => 0)).toBe(750);
    expect(backoffDelayMs(1, p, () => 0.5)).toBe(1000);
    expect(backoffDelayMs(1, p, () => 0.999999)).toBe(1250);
    expect(backoffDelayMs(3, p, () => 0.999999)).toBe(4000); // 4000 nominal + 25 % clipped to the cap
    expect(backoffDelayMs(3, p, () => 0)).toBe(3000);
  });

  it('defaults to 0.5 s doubling to 10 s with 20 % jitter', () => {
    expect(backoffPolicy()).toEqual(DEFAULT_BACKOFF);
    expect(DEFAULT_BACKOFF).toMatchObject({ initialMs: 500, maxMs: 10_000, factor: 2, jitter: 0.2 });
  });

  it('rejects policies that cannot work', () => {
    expect(() => backoffPolicy({ initialMs: 500, maxMs: 100 })).toThrow(/maxMs/);
    expect(() => backoffPolicy({ factor: 0.5 })).toThrow(/factor/);
    expect(() => backoffPolicy({ jitter: 2 })).toThrow(/jitter/);
    expect(() => backoffPolicy({ initialMs: -1 })).toThrow(/initialMs/);
  });

  it('ignores undefined fields rather than wiping the defaults', () => {
    expect(backoffPolicy({ initialMs: undefined, maxMs: 2000 })).toMatchObject({ initialMs: 500, maxMs: 2000 });
  });
});
