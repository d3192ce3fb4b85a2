import { describe, expect, it } from 'vitest';
import type { CaptureError } from '../../src/capture/errors.js';
import type { CaptureEvent } from '../../src/capture/events.js';
import { livePipelineCount } from '../../src/capture/gst_source.js';
import { openSource } from '../../src/capture/open_source.js';
import { eventTypes, record } from './helpers.js';

/** 5 live frames at 10 fps, then concat switches to a branch whose frames are all dropped: no EOS, no frames. */
const STALLING =
  'gst:videotestsrc is-live=true num-buffers=5 ! video/x-raw,width=64,height=48,framerate=10/1 ! c. ' +
  'videotestsrc is-live=true ! video/x-raw,width=64,height=48,framerate=10/1 ! identity drop-probability=1.0 ! c. concat name=c';

function ofType<T extends CaptureEvent['type']>(events: CaptureEvent[], type: T): Extract<CaptureEvent, { type: T }>[] {
  return events.filter((e): e is Extract<CaptureEvent, { type: T }> => e.type === type);
}

describe('failures, with clear errors and re-opening', () => {
  it('a camera that does not exist: NO_DEVICE with the hint, when not retrying', async () => {
    const r = record(openSource('v4l2:/dev/video9', { restart: false }), { timeoutMs: 5000 });
    expect(await r.done).toBe('error');
    const err = r.error as CaptureError;
    expect(err.name).toBe('CaptureError');
    expect(err.code).toBe('NO_DEVICE');
    expect(err.message).toBe('camera /dev/video9 does not exist');
    expect(err.hint).toBe('check the cable / `ls /dev/video*` / udev rule');
    expect(err.stack).toBeDefined(); // kept for debugging, but message + hint are what is shown
  });

  it('a camera that does not exist: keeps retrying with growing back-off and reports it', async () => {
    const cap = openSource('v4l2:/dev/video9', { restart: { initialMs: 50, maxMs: 400, jitter: 0 } });
    const r = record(cap, { timeoutMs: 5000, until: (x) => ofType(x.events, 'opening').length >= 5 });
    expect(await r.done).toBe('stopped'); // the stream never errored
    const errors = ofType(r.events, 'error');
    expect(errors.length).toBeGreaterThanOrEqual(4);
    expect(errors.every((e) => e.error.code === 'NO_DEVICE' && e.willRetry)).toBe(true);
    expect(ofType(r.events, 'reopening').map((e) => e.inMs).slice(0, 4)).toEqual([50, 100, 200, 400]);
    expect(r.events.at(-1)!.restarts).toBe(4);
    expect(cap.stats().restarts).toBe(4);
    expect(cap.stats().lastError?.code).toBe('NO_DEVICE');
  });

  it('gives up after maxRestarts', async () => {
    const r = record(openSource('v4l2:/dev/video9', { restart: { initialMs: 10, jitter: 0 }, maxRestarts: 2 }), { timeoutMs: 5000 });
    expect(await r.done).toBe('error');
    expect(ofType(r.events, 'opening')).toHaveLength(3);
    expect(ofType(r.events, 'error').map((e) => e.willRetry)).toEqual([true, true, false]);
  });

  it("a description GStreamer cannot parse: PARSE, quoting GStreamer's message, never retried", async () => {
    const r = record(openSource('gst:videotestsrc ! ! videoconvert'), { timeoutMs: 5000 });
    expect(await r.done).toBe('error');
    const err = r.error as CaptureError;
    expect(err.code).toBe('PARSE');
    expect(err.message).toContain('syntax error');
    expect(ofType(r.events, 'error')[0]!.willRetry).toBe(false);
  });

  it('a missing element: MISSING_PLUGIN naming it', async () => {
    const r = record(openSource('gst:nonexistentelement123 ! fakesink'), { timeoutMs: 5000 });
    expect(await r.done).toBe('error');
    const err = r.error as CaptureError;
    expect(err.code).toBe('MISSING_PLUGIN');
    expect(err.element).toBe('nonexistentelement123');
    expect(err.message).toContain('nonexistentelement123');
    expect(err.hint).toContain('gst-inspect-1.0 nonexistentelement123');
  });

  it('a source that stops producing is declared stalled, torn down and re-opened; seq keeps counting', async () => {
    const cap = openSource(STALLING, { stallTimeoutMs: 400, restart: { initialMs: 50, jitter: 0 } });
    const r = record(cap, { timeoutMs: 8000, until: (x) => ofType(x.events, 'first-frame').length >= 2 && x.frames.length >= 7 });
    expect(await r.done).toBe('stopped');
    const types = eventTypes(r);
    const stalled = types.indexOf('stalled');
    expect(stalled).toBeGreaterThan(types.indexOf('first-frame'));
    expect(types.slice(stalled, stalled + 4)).toEqual(['stalled', 'error', 'reopening', 'opening']);
    expect(ofType(r.events, 'error')[0]!.error.code).toBe('STALLED');
    const stall = ofType(r.events, 'stalled')[0]!;
    expect(stall.sinceMs).toBeGreaterThanOrEqual(400);
    expect(stall.sinceMs).toBeLessThan(1000); // the stall timeout, not the 5 s first-frame allowance
    expect(r.frames.slice(0, 5).every((f) => f.capturedAt.monoMs < r.events[stalled]!.at.monoMs)).toBe(true);
    expect(r.frames.map((f) => f.seq)).toEqual(r.frames.map((_, i) => i));
    expect(cap.stats().restarts).toBe(1);
    expect(livePipelineCount()).toBe(0);
  });

  it('a source that never delivers a first frame is re-opened after firstFrameTimeoutMs', async () => {
    const never = 'gst:videotestsrc is-live=true ! video/x-raw,width=32,height=24 ! identity drop-probability=1.0';
    const r = record(openSource(never, { firstFrameTimeoutMs: 300, restart: { initialMs: 20, jitter: 0 } }), {
      timeoutMs: 5000,
      until: (x) => ofType(x.events, 'stalled').length >= 2,
    });
    expect(await r.done).toBe('stopped');
    expect(r.frames).toHaveLength(0);
    expect(ofType(r.events, 'error')[0]!.error.message).toContain('no first frame');
  });

  it('a runtime error from an element: RUNTIME with its words, and a re-open', async () => {
    const r = record(openSource('gst:videotestsrc ! video/x-raw,width=32,height=24 ! identity error-after=3', { restart: { initialMs: 20, jitter: 0 } }), {
      timeoutMs: 5000,
      until: (x) => ofType(x.events, 'opening').length >= 2,
    });
    expect(await r.done).toBe('stopped');
    const err = ofType(r.events, 'error')[0]!.error;
    expect(err.code).toBe('RUNTIME');
    expect(err.message).toContain('Failed after iterations as requested.');
    expect(err.element).toMatch(/^identity\d+$/); // GStreamer numbers element names per process
  });

  it('a device node that is not a camera: a clear message from GStreamer, via the start-failure path', async () => {
    const r = record(openSource('v4l2:/dev/null', { restart: false }), { timeoutMs: 5000 });
    expect(await r.done).toBe('error');
    const err = r.error as CaptureError;
    expect(err.code).toBe('NO_DEVICE');
    expect(err.message).toContain('not a video capture device');
    expect(livePipelineCount()).toBe(0);
  });
});
