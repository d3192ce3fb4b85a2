/**
 * Runs one GStreamer launch description whose tail is our RGB appsink: pulls samples, watches the bus,
 * and tears the pipeline down without leaving pool threads blocked (see gst_binding.ts for the addon's
 * habits this works around).
 */
import { classifyBusError, classifyParseError, type ErrorContext } from './classify_gst_error.js';
import { CaptureError, isCaptureError } from './errors.js';
import { gstreamer, type GstAppSink, type GstBusMessage, type GstCaps, type GstPipeline } from './gst_binding.js';
import { packedRgb, parseFramerate } from './packed_rgb.js';
import { captureTime, type CaptureSession, type SessionHandlers } from './session.js';
import { SINK_NAME, type LaunchPlan } from './source_spec.js';

/** Sessions whose pipeline has been created and not yet stopped: for tests, metrics and `doctor`. */
const live = new Set<CaptureSession>();
export function livePipelineCount(): number {
  return live.size;
}

/** How long a pipeline that failed to start gets to say why before we stop it anyway. */
const START_FAILURE_GRACE_MS = 250;
const GST_SEEK_FLAG_FLUSH = 1;

export function startGstSession(plan: LaunchPlan, ctx: ErrorContext, h: SessionHandlers): CaptureSession {
  let pipeline: GstPipeline;
  try {
    pipeline = new (gstreamer().Pipeline)(plan.description);
  } catch (err) {
    const e = isCaptureError(err) ? err : classifyParseError((err as Error).message, { ...ctx, description: plan.description });
    let stopped = false;
    queueMicrotask(() => stopped || h.error(e));
    return { rewind: () => false, stop: () => void (stopped = true) };
  }

  // Keep stop()'s own state-change messages on the bus so that they are sure to wake the blocked bus poll.
  pipeline['auto-flush-bus'] = false;
  const found = pipeline.findChild(SINK_NAME) as GstAppSink | undefined;
  if (!found) {
    // Only possible if a gst: description smuggled in its own element of that name.
    let gone = false;
    queueMicrotask(() =>
      gone || h.error(new CaptureError('PARSE', `${ctx.source}: the pipeline has no appsink named ${SINK_NAME}`, { hint: `do not name an element ${SINK_NAME}` })),
    );
    return { rewind: () => false, stop: () => void (gone = true) };
  }
  const sink: GstAppSink = found;

  let stopped = false;
  let failed = false;
  let busEos = false;
  let pullEnded = false;
  /** Start failed synchronously: read the bus message by message until GStreamer's reason appears. */
  let draining = false;
  let drainTimer: ReturnType<typeof setTimeout> | undefined;
  /** Whether the top-level pipeline has left NULL, i.e. whether the addon re-arms pollBus by itself. */
  let pipelineActive = false;

  const stop = (): void => {
    if (stopped) return;
    stopped = true;
    live.delete(session);
    if (drainTimer) clearTimeout(drainTimer);
    // Posts state-changed messages, which wake the one bus poll still blocked on a pool thread; the addon
    // then sees state NULL and does not re-arm it. The blocked pull returns null as the appsink stops.
    pipeline.stop();
  };

  const fail = (err: CaptureError): void => {
    if (stopped || failed) return;
    failed = true;
    stop();
    h.error(err);
  };

  const onBus = (m: GstBusMessage): void => {
    if (drainTimer) clearTimeout(drainTimer);
    drainTimer = undefined;
    if (stopped) return;
    if (m.type === 'state-changed' && /^pipeline\d+$/.test(m._src_element_name ?? '')) {
      pipelineActive = m['new-state'] !== 'GST_STATE_NULL';
    }
    if (m.type === 'error') return fail(classifyBusError(m, ctx));
    if (m.type === 'eos') {
      busEos = true;
      if (draining) {
        // Not a failure after all: the stream was empty and ended before we looked.
        draining = false;
        pullEnded = true;
        h.opened();
      }
      maybeEos();
    }
    if (draining && !pipelineActive) armDrainPoll();
  };

  const armDrainPoll = (): void => {
    drainTimer = setTimeout(() => {
      drainTimer = undefined;
      fail(
        new CaptureError('RUNTIME', `${ctx.source} failed to start and GStreamer gave no reason`, {
          hint: `try the pipeline by hand: gst-launch-1.0 ${plan.description.replace(/appsink .*$/, 'fakesink')}`,
        }),
      );
    }, START_FAILURE_GRACE_MS);
    pipeline.pollBus(onBus);
  };

  const maybeEos = (): void => {
    // Both: the bus says the stream ended, and the appsink has handed over its last sample.
    if (busEos && pullEnded && !stopped && !failed) h.eos();
  };

  const onSample = (buf: Buffer | null, caps: GstCaps): void => {
    if (stopped) return;
    if (!buf) {
      pullEnded = true;
      return maybeEos();
    }
    const at = captureTime();
    sink.pull(onSample);
    const { width, height } = caps;
    if (typeof width !== 'number' || typeof height !== 'number') {
      return fail(new CaptureError('RUNTIME', `${ctx.source}: sample without width/height in its caps`));
    }
    let data: Uint8Array;
    try {
      data = packedRgb(buf, width, height);
    } catch (err) {
      return fail(new CaptureError('RUNTIME', `${ctx.source}: ${(err as Error).message}`));
    }
    const fps = parseFramerate(caps.framerate);
    h.frame({ data, width, height, at, ...(fps !== undefined && { fps }) });
  };

  const rewind = (): boolean => {
    if (stopped || failed || !(busEos && pullEnded)) return false;
    if (!pipeline.seek(0, GST_SEEK_FLAG_FLUSH)) return false;
    busEos = pullEnded = false;
    sink.pull(onSample);
    return true;
  };

  const session: CaptureSession = { rewind, stop };
  live.add(session);
  pipeline.play();
  if (sink.eos) {
    // The appsink never started: an element failed NULL→READY inside play() (typically a camera that
    // cannot be opened). The addon stops re-arming pollBus while the pipeline is NULL, so drain by hand.
    draining = true;
    armDrainPoll();
  } else {
    pipeline.pollBus(onBus);
    sink.pull(onSample);
    queueMicrotask(() => stopped || h.opened());
  }
  return session;
}
