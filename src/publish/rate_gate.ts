/**
 * A rate limit for fire-and-forget topics (live, snapshot): passes at most `maxHz` a second on average and never
 * two within half an interval, without drifting below the rate when frames arrive at a rate that is not a multiple
 * of it (a plain "at least 1/maxHz since the last one" gate gives 7.5 Hz for 10 Hz out of 30 fps).
 */
export class RateGate {
  private nextAt = Number.NEGATIVE_INFINITY;
  private readonly intervalMs: number;

  /** `maxHz` ≤ 0 closes the gate; `Infinity` opens it. */
  constructor(readonly maxHz: number) {
    this.intervalMs = maxHz > 0 ? 1000 / maxHz : Number.POSITIVE_INFINITY;
  }

  /** True if a message may go out at monotonic time `now` (ms); consumes the slot. */
  tryPass(now: number): boolean {
    if (!(this.maxHz > 0)) return false;
    if (this.maxHz === Number.POSITIVE_INFINITY) return true;
    if (now < this.nextAt - this.intervalMs / 2) return false;
    // Close to schedule: keep the schedule (no drift). Far behind (idle): restart it from now.
    this.nextAt = now - this.nextAt < this.intervalMs ? Math.max(this.nextAt, now) + this.intervalMs : now + this.intervalMs;
    return true;
  }
}
