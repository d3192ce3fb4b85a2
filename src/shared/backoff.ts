/**
 * Shared by three rooms (capture re-opens a camera, publish reconnects to and re-sends to the broker, the client
 * library re-subscribes): one policy and one formula, so every retry in the service grows and caps the same way.
 * It sits in src/shared, which imports nothing and which any room may import, because none of those rooms may
 * import another.
 *
 * Delay before re-opening a failed source: exponential in the number of consecutive failures, capped,
 * with optional jitter so that several devices on one network (or one hub) do not retry in lock-step.
 */
export interface BackoffPolicy {
  /** Delay after the first failure. */
  initialMs: number;
  /** Upper bound of any delay, jitter included. */
  maxMs: number;
  /** Growth per consecutive failure. */
  factor: number;
  /** 0 = none; 0.2 = each delay drawn uniformly from ±20 % of its nominal value. */
  jitter: number;
}

export const DEFAULT_BACKOFF: Readonly<BackoffPolicy> = Object.freeze({
  initialMs: 500,
  maxMs: 10_000,
  factor: 2,
  jitter: 0.2,
});

/** Fills in defaults and rejects nonsense early, where the config is read, rather than at 3 a.m. */
export function backoffPolicy(partial: Partial<BackoffPolicy> = {}): BackoffPolicy {
  const p: BackoffPolicy = { ...DEFAULT_BACKOFF, ...stripUndefined(partial) };
  if (!(p.initialMs >= 0) || !Number.isFinite(p.initialMs)) throw new RangeError(`backoff initialMs must be ≥ 0, got ${p.initialMs}`);
  if (!(p.maxMs >= p.initialMs)) throw new RangeError(`backoff maxMs (${p.maxMs}) must be ≥ initialMs (${p.initialMs})`);
  if (!(p.factor >= 1)) throw new RangeError(`backoff factor must be ≥ 1, got ${p.factor}`);
  if (!(p.jitter >= 0 && p.jitter <= 1)) throw new RangeError(`backoff jitter must be within [0, 1], got ${p.jitter}`);
  return p;
}

/**
 * Delay in ms before attempt number `failures` + 1, given `failures` ≥ 1 consecutive failures.
 * `random` is injectable so that tests (and replays of a log) are deterministic.
 */
export function backoffDelayMs(failures: number, policy: BackoffPolicy, random: () => number = Math.random): number {
  const n = Math.max(1, Math.floor(failures));
  // Exponent capped: beyond ~60 doublings the product is Infinity anyway and min() handles it, but keep it finite.
  const nominal = Math.min(policy.maxMs, policy.initialMs * Math.pow(policy.factor, Math.min(n - 1, 60)));
  const spread = policy.jitter * nominal;
  const jittered = nominal - spread + 2 * spread * random();
  return Math.round(Math.min(policy.maxMs, Math.max(0, jittered)));
}

function stripUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}
