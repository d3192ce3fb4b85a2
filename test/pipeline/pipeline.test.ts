import { Observable, interval, lastValueFrom, map, take, toArray } from 'rxjs';
import { describe, expect, it } from 'vitest';
import { createPipeline, type InferFn, type PipelineEvent } from '../../src/pipeline/pipeline.js';
import type { QualityRejection } from '../../src/pipeline/quality_gate.js';
import type { Box, Frame, Inference, LesionEvent } from '../../src/types/index.js';
import { det, makeFrame, sleep, texturedFrame } from './fixtures.js';

const A: Box = [200, 150, 320, 260];
const textured = texturedFrame();
const black = makeFrame(640, 480, () => 0);

/** Frames every `periodMs`; `isBlack(i)` frames are unreadable. Capture time is the real monotonic clock. */
function frameStream(n: number, periodMs: number, isBlack: (i: number) => boolean): Observable<Frame> {
  return interval(periodMs).pipe(
    take(n),
    map((i) => {
      const now = performance.now();
      return {
        ...(isBlack(i) ? black : textured),
        seq: i,
        capturedAt: { monoMs: now, wallMs: Date.now() },
      };
    }),
  );
}

/** A fake model: `inferMs` per call, a benign lesion at A while `present(seq)`; tracks concurrency. */
function fakeModel(inferMs: number, present: (seq: number) => boolean) {
  const seen: number[] = [];
  let concurrent = 0;
  let maxConcurrent = 0;
  const infer: InferFn = async (frame) => {
    concurrent++;
    maxConcurrent = Math.max(maxConcurrent, concurrent);
    seen.push(frame.seq);
    await sleep(inferMs);
    concurrent--;
    const result: Inference = {
      frame: { seq: frame.seq, capturedAt: frame.capturedAt, width: frame.width, height: frame.height, source: frame.source },
      detections: present(frame.seq) ? [det(A, 0.12, 0.93)] : [],
      timings: { preprocessMs: 1, inferMs: inferMs - 2, postprocessMs: 1 },
    };
    return result;
  };
  return { infer, seen, maxConcurrent: () => maxConcurrent };
}

/** A paced source as `CaptureSource` is with `paced: true`: the first frame unasked, then one per credit. */
function pacedStream(n: number, isBlack: (i: number) => boolean) {
  let credit = 1;
  let next = 0;
  let emit: (() => void) | undefined;
  const frames$ = new Observable<Frame>((sub) => {
    emit = () => {
      // Asynchronous, as a decoder's frame is: never from inside the consumer's call.
      setTimeout(() => {
        while (credit > 0 && next < n) {
          credit--;
          const i = next++;
          sub.next({ ...(isBlack(i) ? black : textured), seq: i, capturedAt: { monoMs: performance.now(), wallMs: Date.now() } });
        }
        if (next >= n) sub.complete();
      }, 1);
    };
    emit();
  });
  return { frames$, demand: () => { credit++; emit?.(); } };
}

describe('createPipeline', () => {
  it('paced by onFrameTaken, a source runs at the network\'s rate: every readable frame inferred, none dropped', async () => {
    const model = fakeModel(6, () => true);
    let taken = 0;
    const src = pacedStream(40, (i) => i % 5 === 4);
    const pipeline = createPipeline({ infer: model.infer, onFrameTaken: () => { taken++; src.demand(); } });
    await lastValueFrom(pipeline(src.frames$).pipe(toArray()));
    const c = pipeline.counters();
    expect(c.framesIn).toBe(40);
    expect(taken).toBe(40); // one credit per frame: 32 handed to the network, 8 rejected by the gate
    expect(c.dropped).toBe(0);
    expect(model.seen).toEqual([...Array(40).keys()].filter((i) => i % 5 !== 4));
    expect(model.maxConcurrent()).toBe(1);
  });


  it('turns a fast frame stream into steady lesion events with a slow fake model', async () => {
    const model = fakeModel(15, (seq) => seq < 110);
    const pipeline = createPipeline({
      infer: model.infer,
      debounceParams: { maxConsecutiveMisses: 4 },
      contourTolerance: 1.5,
    });
    const rejections: QualityRejection[] = [];
    pipeline.rejections$.subscribe((r) => rejections.push(r));
    const isBlack = (i: number) => i % 10 === 9;
    const events = await lastValueFrom(pipeline(frameStream(160, 4, isBlack)).pipe(toArray()));

    // Latest-only: one inference at a time, and frames were dropped rather than queued.
    expect(model.maxConcurrent()).toBe(1);
    const c = pipeline.counters();
    expect(c.framesIn).toBe(160);
    expect(c.rejected.dark).toBe(16);
    expect(c.rejectedTotal).toBe(16);
    expect(rejections.map((r) => r.frame.seq)).toEqual(Array.from({ length: 16 }, (_, k) => k * 10 + 9));
    expect(c.accepted).toBe(144);
    expect(c.dropped).toBeGreaterThan(0);
    expect(c.inferStarted + c.dropped).toBe(c.accepted);
    expect(c.processed).toBe(c.inferStarted);
    expect(c.inFlight + c.waiting).toBe(0);
    expect(c.events).toBe(events.length);
    expect(model.seen.some(isBlack)).toBe(false); // unreadable frames never reach the model
    expect(model.seen[model.seen.length - 1]).toBe(158); // the newest readable frame (159 is black) is processed
    for (let k = 1; k < model.seen.length; k++) expect(model.seen[k]).toBeGreaterThan(model.seen[k - 1]);

    // The story: searching → tracking → stable benign → lost → (its episode) ended benign → searching.
    const story = events.filter((e) => e.changed).map((e) => `${e.state}:${e.label}`);
    expect(story).toEqual(['searching:null', 'tracking:benign', 'stable:benign', 'lost:benign', 'ended:benign', 'searching:null']);
    const ended = events.filter((e) => e.state === 'ended');
    expect(ended).toHaveLength(1);
    expect(ended[0]!.episode).toMatchObject({ index: 0, endReason: 'lost', verdict: 'benign' });
    expect(events.find((e) => e.state === 'stable')!.episodeIndex).toBe(0);

    const stable = events.filter((e) => e.state === 'stable');
    expect(stable.length).toBeGreaterThan(3);
    for (const e of stable) {
      expect(e.trackId).toBe(1);
      expect(e.box!.pixels).toEqual(A);
      expect(e.box!.normalized).toEqual([200 / 640, 150 / 480, 0.5, 260 / 480].map((v) => Math.round(v * 1e4) / 1e4));
      expect(e.contours).toHaveLength(1);
      const xs = e.contours[0].pixels.map((p) => p[0]);
      expect(Math.min(...xs)).toBeGreaterThanOrEqual(200);
      expect(Math.max(...xs)).toBeLessThanOrEqual(320);
      expect(e.probabilities!.malignant).toBeCloseTo(0.12, 6);
      expect(e.agreement.window).toBe(10);
    }
    for (const e of events) {
      expect(e.timings.latencyMs).toBeGreaterThanOrEqual(0);
      expect(e.stages.latencyMs).toBe(e.timings.latencyMs);
      if (e.stages.inferCallMs > 0) {
        expect(e.timings.inferMs).toBe(13);
        expect(e.stages.inferCallMs).toBeGreaterThanOrEqual(14);
        expect(e.timings.latencyMs).toBeGreaterThanOrEqual(e.stages.inferCallMs);
        expect(e.stages.qualityMs).toBeGreaterThan(0);
      }
    }
    const searching = events.filter((e) => e.state === 'searching');
    expect(searching.every((e) => e.box === null && e.contours.length === 0 && e.trackId === null)).toBe(true);
    // A PipelineEvent is a LesionEvent.
    const asLesion: LesionEvent = events[0] satisfies PipelineEvent;
    expect(asLesion.frame.width).toBe(640);
  });

  it('a failing inference is counted, reported and skipped; the stream goes on', async () => {
    let calls = 0;
    const errors: unknown[] = [];
    const pipeline = createPipeline({
      infer: async (frame) => {
        await sleep(2);
        if (++calls % 3 === 0) throw new Error('worker hiccup');
        return { frame, detections: [det(A, 0.9)], timings: { preprocessMs: 0, inferMs: 1, postprocessMs: 0 } };
      },
    });
    pipeline.inferErrors$.subscribe((e) => errors.push(e.error));
    const events = await lastValueFrom(pipeline(frameStream(60, 5, () => false)).pipe(toArray()));
    const c = pipeline.counters();
    expect(c.inferErrors).toBeGreaterThan(0);
    expect(errors).toHaveLength(c.inferErrors);
    expect(c.processed + c.inferErrors).toBe(c.inferStarted);
    // One event per model output, and the `ended` event of the episode the end of the source closed.
    expect(events).toHaveLength(c.processed + 1);
    expect(events.some((e) => e.state === 'stable' && e.label === 'malignant')).toBe(true);
    expect(events[events.length - 1]!.episode).toMatchObject({ endReason: 'source-ended', verdict: 'malignant' });
  });

  it("with onInferError 'fail' the error ends the stream", async () => {
    const pipeline = createPipeline({ infer: async () => Promise.reject(new Error('boom')), onInferError: 'fail' });
    await expect(lastValueFrom(pipeline(frameStream(5, 2, () => false)))).rejects.toThrow('boom');
  });

  it('without the quality gate every frame is offered to the model', async () => {
    const model = fakeModel(1, () => true);
    const pipeline = createPipeline({ infer: model.infer, qualityGate: false });
    await lastValueFrom(pipeline(frameStream(20, 5, () => true)).pipe(toArray()));
    const c = pipeline.counters();
    expect(c.accepted).toBe(20);
    expect(c.rejectedTotal).toBe(0);
    expect(model.seen.length).toBeGreaterThan(0);
  });

  it('a lesion seen through a stretch of unreadable frames is reported lost, then searching', async () => {
    // 30 readable frames with the lesion, then the scope is lifted: 60 uniform frames (rejected).
    const grey = makeFrame(640, 480, () => 128);
    const frames = interval(10).pipe(
      take(90),
      map((i): Frame => ({ ...(i < 30 ? textured : grey), seq: i, capturedAt: { monoMs: performance.now(), wallMs: Date.now() } })),
    );
    const pipeline = createPipeline({ infer: fakeModel(2, () => true).infer, debounceParams: { lostAfterMs: 200 } });
    const events = await lastValueFrom(pipeline(frames).pipe(toArray()));
    expect(pipeline.counters().rejected.uniform).toBe(60);
    const story = events.filter((e) => e.changed).map((e) => e.state);
    expect(story).toEqual(['searching', 'tracking', 'stable', 'lost', 'ended', 'searching']);
    const lost = events.find((e) => e.state === 'lost')!;
    expect(lost.frame.seq).toBeGreaterThanOrEqual(30); // reported on a rejected frame's clock
    expect(lost.stages.inferCallMs).toBe(0);
  });

  it('a lift ends the episode (not lost), and the lesion seen again at the same place is a new episode', async () => {
    // 30 readable frames, 40 dark ones (400 ms at 10 ms: past liftMs 300, short of lostAfterMs 1500), 30 readable.
    const frames = frameStream(100, 10, (i) => i >= 30 && i < 70);
    const pipeline = createPipeline({ infer: fakeModel(2, () => true).infer });
    const events = await lastValueFrom(pipeline(frames).pipe(toArray()));
    const story = events.filter((e) => e.changed).map((e) => `${e.state}:${e.episodeIndex ?? e.episode?.index ?? '-'}`);
    expect(story).toEqual(['searching:-', 'tracking:0', 'stable:0', 'ended:0', 'searching:-', 'tracking:1', 'stable:1', 'ended:1']);
    const ended = events.filter((e) => e.state === 'ended').map((e) => e.episode!);
    expect(ended.map((e) => e.endReason)).toEqual(['lifted', 'source-ended']);
    expect(events.some((e) => e.state === 'lost')).toBe(false);
    // Neither episode holds a frame of the other: the first ends before the dark run, the second starts after it.
    expect(ended[0]!.bestFrameSeq!).toBeLessThan(30);
    expect(events.filter((e) => e.episodeIndex === 1).every((e) => e.frame.seq >= 70)).toBe(true);
    expect(new Set(events.filter((e) => e.episodeIndex !== null && e.state !== 'ended').map((e) => `${e.episodeIndex}:${e.trackId}`)).size).toBe(2);
  });

  it('the open episode closes as shutdown when the service says the frames stopped for that', async () => {
    let stopping = false;
    const pipeline = createPipeline({ infer: fakeModel(2, () => true).infer, endReason: () => (stopping ? 'shutdown' : 'source-ended') });
    const frames = frameStream(20, 5, () => false).pipe(map((f) => ((stopping = f.seq === 19), f)));
    const events = await lastValueFrom(pipeline(frames).pipe(toArray()));
    expect(events.filter((e) => e.state === 'ended').map((e) => e.episode!.endReason)).toEqual(['shutdown']);
  });
});
