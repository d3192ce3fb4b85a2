/**
 * Paced recordings (FrameRequest.paced): played as fast as possible, a file delivers one frame and then one per
 * credit of the consumer, with real GStreamer, in-process and in a capture child alike. The decoder waits for the
 * consumer (nothing decoded ahead to be dropped), a consumer that holds the source is not a stalled camera, and
 * every frame arrives, in order, before the end.
 */
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openSource } from '../../src/capture/open_source.js';
import type { CaptureEvent } from '../../src/capture/events.js';
import type { Frame } from '../../src/types/frame.js';
import { makeMjpegAvi, sleep, tempDir } from './helpers.js';

describe.each([false, true])('paced file: (isolate %s)', (isolate) => {
  const tmp = tempDir();
  let avi: string;
  beforeAll(() => {
    avi = makeMjpegAvi(path.join(tmp.dir, 'paced.avi'), { frames: 20, fps: 30, width: 160, height: 120 });
  });
  afterAll(() => tmp.remove());

  it('delivers one frame per credit, waits for the consumer without a stall, and ends after the last frame', async () => {
    const cap = openSource(`file:${avi}`, { realtime: false, paced: true, isolate, stallTimeoutMs: 300 });
    const frames: Frame[] = [];
    const events: CaptureEvent[] = [];
    const evSub = cap.events$.subscribe((e) => events.push(e));
    let completed = false;
    const sub = cap.frames$.subscribe({ next: (f) => frames.push(f), complete: () => (completed = true) });
    const until = async (ok: () => boolean, ms = 5000) => {
      const t0 = performance.now();
      while (!ok() && performance.now() - t0 < ms) await sleep(10);
    };
    await until(() => frames.length >= 1);
    // Held well past the stall timeout: the first frame only, and no stall (the consumer holds the source).
    await sleep(900);
    expect(frames).toHaveLength(1);
    cap.demand(3);
    await until(() => frames.length >= 4);
    await sleep(200);
    expect(frames).toHaveLength(4);
    expect(events.some((e) => e.type === 'stalled' || e.type === 'error')).toBe(false);
    // Then one credit per frame received, as the pipeline gives them: every frame, in order, and the end.
    const all = cap.frames$.subscribe(() => cap.demand());
    cap.demand();
    await until(() => completed);
    all.unsubscribe();
    sub.unsubscribe();
    evSub.unsubscribe();
    expect(completed).toBe(true);
    expect(frames.map((f) => f.seq)).toEqual([...Array(20).keys()]);
    expect(() => cap.demand(0)).toThrow(/positive integer/);
  }, 20_000);

  it('unpaced, the same file is decoded ahead without waiting for anyone', async () => {
    const cap = openSource(`file:${avi}`, { realtime: false, isolate });
    const frames: Frame[] = [];
    await new Promise<void>((resolve, reject) => cap.frames$.subscribe({ next: (f) => frames.push(f), complete: resolve, error: reject }));
    expect(frames).toHaveLength(20);
    cap.demand(5); // a no-op
  }, 20_000);
});
