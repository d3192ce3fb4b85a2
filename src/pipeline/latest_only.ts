import { Observable, type OperatorFunction } from 'rxjs';

/**
 * Latest-only: at most one value in `project` (the inference) at a time; while it runs, each newer value
 * replaces the one waiting (a one-slot mailbox). Stale frames are dropped, never queued, whatever the source
 * rate: back-pressure by dropping, as the architecture asks.
 *
 * Like RxJS's `exhaustMap` (no concurrency), except that the newest value that arrived during the run is
 * kept and processed next instead of being ignored — what a live view wants. Results come out in source
 * order. When the source completes, the waiting value (if any) is still processed, then the output completes.
 * On unsubscribe the running call's `AbortSignal` fires and its result is discarded.
 *
 * Errors from `project` end the stream (as in RxJS) unless `onError` is given: then they are reported and
 * the operator carries on with the next value.
 */

export interface LatestOnlyStats {
  /** Values received from the source. */
  received: number;
  /** Calls of `project` started. */
  started: number;
  /** Calls that resolved (results emitted). */
  completed: number;
  /** Calls that failed (only counted when `onError` lets the stream go on). */
  failed: number;
  /** Values replaced in the mailbox before they could run. */
  dropped: number;
  /** Calls running now (0 or 1). */
  inFlight: number;
  /** Values waiting now (0 or 1). */
  waiting: number;
  /** Highest `inFlight` ever seen; 1 if the operator is correct. */
  maxInFlight: number;
  /** Highest `waiting` ever seen; 1 if the operator is correct. */
  maxWaiting: number;
}

export function createLatestOnlyStats(): LatestOnlyStats {
  return {
    received: 0,
    started: 0,
    completed: 0,
    failed: 0,
    dropped: 0,
    inFlight: 0,
    waiting: 0,
    maxInFlight: 0,
    maxWaiting: 0,
  };
}

export interface LatestOnlyOptions<T> {
  /** Counters to update in place (shared with the service's metrics). */
  stats?: LatestOnlyStats;
  /** Told about each value that is dropped from the mailbox. */
  onDrop?: (value: T) => void;
  /** If given, a failed call is reported here and skipped instead of erroring the stream. */
  onError?: (error: unknown, value: T) => void;
}

export function latestOnly<T, R>(
  project: (value: T, signal: AbortSignal) => PromiseLike<R> | R,
  options: LatestOnlyOptions<T> = {},
): OperatorFunction<T, R> {
  const stats = options.stats ?? createLatestOnlyStats();
  return (source) =>
    new Observable<R>((subscriber) => {
      let running = false;
      let hasWaiting = false;
      let waiting: T | undefined;
      let sourceDone = false;
      let closed = false;
      let controller: AbortController | null = null;

      const setWaiting = (has: boolean, value?: T) => {
        hasWaiting = has;
        waiting = value;
        stats.waiting = has ? 1 : 0;
        if (stats.waiting > stats.maxWaiting) stats.maxWaiting = stats.waiting;
      };

      const finishIfDone = () => {
        if (!closed && sourceDone && !running && !hasWaiting) subscriber.complete();
      };

      const runNext = () => {
        if (closed || running || !hasWaiting) {
          finishIfDone();
          return;
        }
        const value = waiting as T;
        setWaiting(false);
        run(value);
      };

      const run = (value: T) => {
        running = true;
        stats.started++;
        stats.inFlight = 1;
        if (stats.inFlight > stats.maxInFlight) stats.maxInFlight = stats.inFlight;
        const ctrl = new AbortController();
        controller = ctrl;
        const settle = () => {
          running = false;
          stats.inFlight = 0;
          controller = null;
        };
        let pending: PromiseLike<R>;
        try {
          pending = Promise.resolve(project(value, ctrl.signal));
        } catch (err) {
          pending = Promise.reject(err);
        }
        pending.then(
          (result) => {
            if (closed || ctrl.signal.aborted) return;
            settle();
            stats.completed++;
            // Start the waiting frame before handing this result downstream: contours, debounce and
            // publishing then overlap the next inference instead of leaving the network idle.
            if (!closed && hasWaiting) {
              const next = waiting as T;
              setWaiting(false);
              run(next);
            }
            subscriber.next(result);
            finishIfDone();
          },
          (err: unknown) => {
            if (closed || ctrl.signal.aborted) return;
            settle();
            if (options.onError) {
              stats.failed++;
              options.onError(err, value);
              runNext();
            } else {
              subscriber.error(err);
            }
          },
        );
      };

      const subscription = source.subscribe({
        next(value) {
          stats.received++;
          if (!running) {
            run(value);
            return;
          }
          if (hasWaiting) {
            stats.dropped++;
            options.onDrop?.(waiting as T);
          }
          setWaiting(true, value);
        },
        error: (err) => subscriber.error(err),
        complete() {
          sourceDone = true;
          finishIfDone();
        },
      });

      return () => {
        closed = true;
        subscription.unsubscribe();
        controller?.abort();
        if (hasWaiting) setWaiting(false);
        stats.inFlight = 0;
      };
    });
}
