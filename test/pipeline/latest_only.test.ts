import { Subject, interval, lastValueFrom, map, take, toArray } from 'rxjs';
import { describe, expect, it } from 'vitest';
import { createLatestOnlyStats, latestOnly } from '../../src/pipeline/latest_only.js';
import { lcg, sleep } from './fixtures.js';

interface Deferred<T> {
  promise: Promise<T>;
  resolve: (v: T) => void;
  reject: (e: unknown) => void;
}
function deferred<T>(): Deferred<T> {
  let resolve!: (v: T) => void;
  let reject!: (e: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}
const flush = () => new Promise<void>((r) => setImmediate(r));

/** A fake model whose calls stay open until the test resolves them; it tracks concurrency. */
function manualInfer() {
  const calls: { value: number; d: Deferred<string>; signal: AbortSignal }[] = [];
  let concurrent = 0;
  let maxConcurrent = 0;
  const project = (value: number, signal: AbortSignal) => {
    concurrent++;
    maxConcurrent = Math.max(maxConcurrent, concurrent);
    const d = deferred<string>();
    calls.push({ value, d, signal });
    return d.promise.finally(() => concurrent--);
  };
  return { calls, project, maxConcurrent: () => maxConcurrent };
}

describe('latestOnly', () => {
  it('holds at most one waiting value, the latest wins, drops are counted, never two in flight', async () => {
    const src = new Subject<number>();
    const fake = manualInfer();
    const stats = createLatestOnlyStats();
    const dropped: number[] = [];
    const out: string[] = [];
    let completed = false;
    src.pipe(latestOnly(fake.project, { stats, onDrop: (v) => dropped.push(v) })).subscribe({
      next: (v) => out.push(v),
      complete: () => (completed = true),
    });

    src.next(1);
    await flush();
    expect(fake.calls.map((c) => c.value)).toEqual([1]);
    src.next(2);
    src.next(3);
    src.next(4);
    expect(stats).toMatchObject({ received: 4, started: 1, dropped: 2, inFlight: 1, waiting: 1 });
    expect(dropped).toEqual([2, 3]);

    fake.calls[0].d.resolve('r1');
    await flush();
    expect(out).toEqual(['r1']);
    expect(fake.calls.map((c) => c.value)).toEqual([1, 4]); // the latest, not the oldest
    expect(stats.waiting).toBe(0);

    src.next(5);
    src.next(6);
    src.complete();
    expect(completed).toBe(false);
    fake.calls[1].d.resolve('r4');
    await flush();
    expect(fake.calls.map((c) => c.value)).toEqual([1, 4, 6]);
    expect(completed).toBe(false); // the waiting value is still processed after the source completes
    fake.calls[2].d.resolve('r6');
    await flush();
    expect(out).toEqual(['r1', 'r4', 'r6']);
    expect(completed).toBe(true);
    expect(dropped).toEqual([2, 3, 5]);
    expect(stats).toMatchObject({
      received: 6,
      started: 3,
      completed: 3,
      dropped: 3,
      inFlight: 0,
      waiting: 0,
      maxInFlight: 1,
      maxWaiting: 1,
    });
    expect(fake.maxConcurrent()).toBe(1);
  });

  it('under a fast source and a slow, jittery model: bounded, ordered, latest-first, counts add up', async () => {
    const rnd = lcg(42);
    let concurrent = 0;
    let maxConcurrent = 0;
    const stats = createLatestOnlyStats();
    const N = 150;
    const results = await lastValueFrom(
      interval(1).pipe(
        take(N),
        latestOnly(
          async (v: number) => {
            concurrent++;
            maxConcurrent = Math.max(maxConcurrent, concurrent);
            // The mailbox never holds more than one value, whatever happens meanwhile.
            expect(stats.waiting).toBeLessThanOrEqual(1);
            await sleep(4 + rnd() * 10);
            concurrent--;
            return v;
          },
          { stats },
        ),
        toArray(),
      ),
    );
    expect(maxConcurrent).toBe(1);
    expect(stats.maxInFlight).toBe(1);
    expect(stats.maxWaiting).toBe(1);
    expect(results[0]).toBe(0);
    expect(results[results.length - 1]).toBe(N - 1); // the last frame is always processed
    for (let i = 1; i < results.length; i++) expect(results[i]).toBeGreaterThan(results[i - 1]);
    expect(stats.received).toBe(N);
    expect(stats.started + stats.dropped).toBe(N);
    expect(stats.completed).toBe(results.length);
    expect(stats.dropped).toBeGreaterThan(N / 2); // the model is ~9× slower than the source
  });

  it('a failing call errors the stream by default', async () => {
    const src = new Subject<number>();
    let error: unknown = null;
    src.pipe(latestOnly(async () => Promise.reject(new Error('model crashed')))).subscribe({ error: (e) => (error = e) });
    src.next(1);
    await flush();
    expect((error as Error).message).toBe('model crashed');
  });

  it('with onError a failing call is reported, skipped and the next value runs', async () => {
    const stats = createLatestOnlyStats();
    const errors: number[] = [];
    const out = await lastValueFrom(
      interval(1).pipe(
        take(5),
        map((i) => i),
        latestOnly(
          async (v: number) => {
            await sleep(3);
            if (v % 2 === 0) throw new Error(`bad ${v}`);
            return v;
          },
          { stats, onError: (_e, v) => errors.push(v) },
        ),
        toArray(),
      ),
    );
    expect(errors.length).toBe(stats.failed);
    expect(errors.length + out.length).toBe(stats.started);
    expect(out.every((v) => v % 2 === 1)).toBe(true);
    expect(errors).toContain(0);
  });

  it('unsubscribing aborts the running call and discards its result', async () => {
    const src = new Subject<number>();
    const fake = manualInfer();
    const out: string[] = [];
    const sub = src.pipe(latestOnly(fake.project)).subscribe((v) => out.push(v));
    src.next(1);
    src.next(2);
    await flush();
    sub.unsubscribe();
    expect(fake.calls[0].signal.aborted).toBe(true);
    fake.calls[0].d.resolve('late');
    await flush();
    expect(out).toEqual([]);
    expect(fake.calls).toHaveLength(1); // the waiting value never runs
  });
});
