/**
 * The re-open logic driven by fake sessions, for what a machine without a camera cannot show for real:
 * a camera format that does not negotiate, a camera that ends, back-off reset after a healthy stretch.
 */
import { describe, expect, it } from 'vitest';
import { CaptureError } from '../../src/capture/errors.js';
import type { CaptureEvent } from '../../src/capture/events.js';
import { openSource } from '../../src/capture/open_source.js';
import { captureTime, type CaptureSession, type SessionHandlers } from '../../src/capture/session.js';
import type { LaunchPlan } from '../../src/capture/source_spec.js';
import { record } from './helpers.js';

type Script = (plan: LaunchPlan, h: SessionHandlers, n: number) => void;

/** A session factory whose n-th session (0-based) does what `script` says. */
function fakeSessions(script: Script) {
  const started: string[] = [];
  let stopped = 0;
  const startSession = (_spec: unknown, plan: LaunchPlan, _req: unknown, h: SessionHandlers): CaptureSession => {
    const n = started.length;
    started.push(plan.label);
    let live = true;
    const guarded: SessionHandlers = {
      opened: () => live && h.opened(),
      frame: (f) => live && h.frame(f),
      eos: () => live && h.eos(),
      error: (e) => live && h.error(e),
    };
    queueMicrotask(() => script(plan, guarded, n));
    return {
      rewind: () => false,
      stop: () => {
        if (live) stopped++;
        live = false;
      },
    };
  };
  return { startSession, preflight: () => undefined, started, stoppedCount: () => stopped };
}

const frame = (w = 8, h = 6) => ({ data: new Uint8Array(w * h * 3), width: w, height: h, fps: 30, at: captureTime() });

describe('supervisor (fake sessions)', () => {
  it('falls back MJPEG → YUY2 when a format does not negotiate, then re-opens straight into the one that worked', async () => {
    const fake = fakeSessions((plan, h, n) => {
      if (plan.label.startsWith('MJPEG')) return h.error(new CaptureError('NOT_NEGOTIATED', 'no MJPEG at 640x480'));
      h.opened();
      h.frame(frame());
      if (n === 1) h.error(new CaptureError('RUNTIME', 'lost the camera')); // after streaming a while
    });
    const cap = openSource('v4l2:/dev/video0', { width: 640, height: 480, restart: { initialMs: 10, jitter: 0 } }, fake);
    const r = record(cap, { timeoutMs: 3000, until: (x) => x.frames.length >= 2 });
    expect(await r.done).toBe('stopped');
    expect(fake.started).toEqual(['MJPEG 640x480', 'YUY2 640x480', 'YUY2 640x480']);
    const fb = r.events.find((e): e is Extract<CaptureEvent, { type: 'fallback' }> => e.type === 'fallback');
    expect(fb).toMatchObject({ from: 'MJPEG 640x480', to: 'YUY2 640x480', reason: 'no MJPEG at 640x480' });
    expect(r.events.filter((e) => e.type === 'error').map((e) => (e as Extract<CaptureEvent, { type: 'error' }>).error.code)).toEqual(['RUNTIME']);
    expect(cap.stats().plan).toBe('YUY2 640x480');
    expect(fake.stoppedCount()).toBe(3);
  });

  it('fails with the last reason when no camera format works', async () => {
    const fake = fakeSessions((plan, h) => h.error(new CaptureError('NOT_NEGOTIATED', `not ${plan.label}`)));
    const r = record(openSource('v4l2:/dev/video0', {}, fake), { timeoutMs: 3000 });
    expect(await r.done).toBe('error');
    expect(fake.started).toEqual(['MJPEG native', 'YUY2 native', 'camera default format']);
    expect((r.error as CaptureError).message).toBe('not camera default format');
  });

  it('re-opens a camera that ends (EOS) instead of completing', async () => {
    const fake = fakeSessions((_plan, h) => {
      h.opened();
      h.frame(frame());
      h.eos();
    });
    const r = record(openSource('v4l2:/dev/video0', { restart: { initialMs: 5, jitter: 0 } }, fake), { timeoutMs: 3000, until: (x) => x.frames.length >= 3 });
    expect(await r.done).toBe('stopped');
    expect(r.events.filter((e) => e.type === 'eos').every((e) => (e as Extract<CaptureEvent, { type: 'eos' }>).action === 'reopen')).toBe(true);
    expect(r.frames.map((f) => f.seq)).toEqual([0, 1, 2]);
  });

  it('resets the back-off once a session has streamed for healthyAfterMs', async () => {
    // Sessions 0-2 fail at once; session 3 streams 60 ms (healthy at 40 ms) and fails; session 4 fails at once.
    const fake = fakeSessions((_plan, h, n) => {
      if (n !== 3) return h.error(new CaptureError('RUNTIME', `fail ${n}`));
      h.opened();
      h.frame(frame());
      const t = setInterval(() => h.frame(frame()), 10);
      setTimeout(() => {
        clearInterval(t);
        h.error(new CaptureError('RUNTIME', 'fail after streaming'));
      }, 60);
    });
    const cap = openSource('test', { restart: { initialMs: 10, maxMs: 1000, jitter: 0 }, healthyAfterMs: 40 }, fake);
    const r = record(cap, { timeoutMs: 3000, until: (x) => x.events.filter((e) => e.type === 'reopening').length >= 5 });
    expect(await r.done).toBe('stopped');
    const delays = r.events.filter((e) => e.type === 'reopening').map((e) => (e as Extract<CaptureEvent, { type: 'reopening' }>).inMs);
    expect(delays).toEqual([10, 20, 40, 10, 20]);
  });
});
