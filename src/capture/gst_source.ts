/**
 * Runs one GStreamer launch description whose tail is our RGB appsink: pulls samples, watches the bus,
 * and stops the pipeline without leaving pool threads blocked (see gst_binding.ts for the addon's habits
 * this works around).
 *
 * Pipelines of plans marked reusable (camera and test-pattern chains, which have static pads) are
 * re-played rather than rebuilt on re-open: the addon never frees a pipeline, and each abandoned one keeps
 * about two frames alive (~2 MB at 640×480), whereas re-playing the same one measured ~20 kB. A stopped
 * pipeline goes back to an idle pool (per launch description) once its bus poll and pull have returned
 * from the pool threads, and only if it had delivered frames.
 */
import { classifyBusError, classifyParseError, type ErrorContext } from './classify_gst_error.js';
import { CaptureError, isCaptureError } from './errors.js';
import { gstreamer, type GstAppSink, type GstBusMessage, type GstCaps, type GstPipeline } from './gst_binding.js';
import { packedRgb, parseFramerate } from './packed_rgb.js';
import { captureTime, PACED_PREFETCH, type CaptureSession, type SessionHandlers } from './session.js';
import { SINK_NAME, type LaunchPlan } from './source_spec.js';

/** Sessions whose pipeline is playing (not yet stopped): for tests, metrics and `doctor`. */
const live = new Set<CaptureSession>();
export function livePipelineCount(): number {
  return live.size;
}

/** How long a pipeline that failed to start gets to say why before we stop it anyway. */
const START_FAILURE_GRACE_MS = 250;
const GST_SEEK_FLAG_FLUSH = 1;

/** A built pipeline and the bookkeeping of what the addon still has in flight for it. */
interface Slot {
  description: string;
  pipeline: GstPipeline;
  sink: GstAppSink;
  /** A pollBus request is queued or blocked on a pool thread. */
  polling: boolean;
  /** A pull request is queued or blocked on a pool thread. */
  pulling: boolean;
  /** Whether the pipeline is out of NULL, i.e. whether the addon re-arms pollBus after a message. */
  active: boolean;
  /** The owning session's handlers (no-ops once it has stopped). */
  onBus: (m: GstBusMessage) => void;
  onSample: (buf: Buffer | null, caps: GstCaps) => void;
  /** Called after every returned request; releases the slot once nothing is in flight. */
  settle: () => void;
  busCallback: (m: GstBusMessage) => void;
  sampleCallback: (buf: Buffer | null, caps: GstCaps) => void;
}

const idle = new Map<string, Slot[]>();
let built = 0;

/** Pipelines built so far (each re-open of the same source should not add one). */
export function pipelinesBuilt(): number {
  return built;
}

/** Stopped pipelines waiting to be re-played. */
export function idlePipelineCount(): number {
  let n = 0;
  for (const slots of idle.values()) n += slots.length;
  return n;
}

const noop = (): void => undefined;

function buildSlot(description: string): Slot | Error {
  let pipeline: GstPipeline;
  try {
    pipeline = new (gstreamer().Pipeline)(description);
  } catch (err) {
    return err as Error;
  }
  built++;
  // Keep stop()'s own state-change messages on the bus so that they are sure to wake the blocked bus poll.
  pipeline['auto-flush-bus'] = false;
  const sink = pipeline.findChild(SINK_NAME) as GstAppSink | undefined;
  if (!sink) return new CaptureError('PARSE', `the pipeline has no appsink named ${SINK_NAME}`, { hint: `do not name an element ${SINK_NAME}` });
  const slot: Slot = {
    description,
    pipeline,
    sink,
    polling: false,
    pulling: false,
    active: false,
    onBus: noop,
    onSample: noop,
    settle: noop,
    busCallback: (m) => {
      slot.onBus(m);
      // The addon re-arms this poll after we return iff the pipeline is not NULL.
      slot.polling = slot.active;
      slot.settle();
    },
    sampleCallback: (buf, caps) => {
      slot.pulling = false;
      slot.onSample(buf, caps);
      slot.settle();
    },
  };
  return slot;
}

function takeSlot(description: string): Slot | Error {
  return idle.get(description)?.pop() ?? buildSlot(description);
}

function pollBus(slot: Slot): void {
  slot.polling = true;
  slot.pipeline.pollBus(slot.busCallback);
}

function pull(slot: Slot): void {
  slot.pulling = true;
  slot.sink.pull(slot.sampleCallback);
}

/** Once nothing is in flight, park a stopped slot for re-use (or drop it if it is not clean). */
function release(slot: Slot, reusable: boolean): void {
  slot.onBus = noop;
  slot.onSample = noop;
  slot.settle = () => {
    if (slot.polling || slot.pulling) return;
    slot.settle = noop;
    if (!reusable) return;
    // Not from inside the addon's callback: it checks the pipeline state after we return, and a
    // pipeline re-played by then would get its poll re-armed twice.
    setImmediate(() => {
      const list = idle.get(slot.description) ?? [];
      list.push(slot);
      idle.set(slot.description, list);
    });
  };
  slot.settle();
}

export function startGstSession(plan: LaunchPlan, ctx: ErrorContext, h: SessionHandlers): CaptureSession {
  const taken = takeSlot(plan.description);
  if (taken instanceof Error) {
    const e = isCaptureError(taken)
      ? new CaptureError(taken.code, `${ctx.source}: ${taken.message}`, { ...(taken.hint !== undefined && { hint: taken.hint }) })
      : classifyParseError(taken.message, { ...ctx, description: plan.description });
    let gone = false;
    queueMicrotask(() => gone || h.error(e));
    return { rewind: () => false, stop: () => void (gone = true) };
  }
  const slot = taken;
  const { pipeline, sink } = slot;

  let stopped = false;
  let failed = false;
  let busEos = false;
  let pullEnded = false;
  let delivered = false;
  /**
   * A re-played pipeline's bus still holds the tail of its previous run. Ours starts with the appsink's
   * NULL→READY (sinks change state first); anything before it is stale.
   */
  let current = false;
  /** Start failed synchronously: read the bus message by message until GStreamer's reason appears. */
  let draining = false;
  /** Frames the consumer still takes (paced plans); the next pull waits for credit. Unpaced: unlimited. */
  let credit = plan.paced ? PACED_PREFETCH : Infinity;
  /** A pull is due but waits for credit. */
  let pullDue = false;
  const pullIfCredit = (): void => {
    if (credit > 0) pull(slot);
    else pullDue = true;
  };
  let drainTimer: ReturnType<typeof setTimeout> | undefined;

  const stop = (): void => {
    if (stopped) return;
    stopped = true;
    live.delete(session);
    if (drainTimer) clearTimeout(drainTimer);
    slot.active = false;
    // Posts state-changed messages, which wake the bus poll still blocked on a pool thread; the addon
    // then sees state NULL and does not re-arm it. A blocked pull returns null as the appsink stops.
    pipeline.stop();
    // Re-usable when its own start marker was read (what is left on the bus is then only this run's tail)
    // and it proved it works by delivering a frame.
    release(slot, plan.reusable && current && !draining && delivered);
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
    if (!current) {
      current = m.type === 'state-changed' && m._src_element_name === SINK_NAME && m['old-state'] === 'GST_STATE_NULL';
    } else {
      if (draining && m.type === 'state-changed' && /^pipeline\d+$/.test(m._src_element_name ?? '')) {
        slot.active = m['new-state'] !== 'GST_STATE_NULL';
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
    }
    if (draining && !slot.active) armDrainPoll();
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
    pollBus(slot);
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
    credit--;
    pullIfCredit();
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
    delivered = true;
    h.frame({ data, width, height, at, ...(fps !== undefined && { fps }) });
  };

  const rewind = (): boolean => {
    if (stopped || failed || !(busEos && pullEnded)) return false;
    if (!pipeline.seek(0, GST_SEEK_FLAG_FLUSH)) return false;
    busEos = pullEnded = false;
    pullIfCredit();
    return true;
  };

  const demand = (n: number): void => {
    if (!plan.paced || stopped || failed) return;
    credit += n;
    if (pullDue && credit > 0) {
      pullDue = false;
      pull(slot);
    }
  };

  const session: CaptureSession = { rewind, stop, demand };
  live.add(session);
  slot.onBus = onBus;
  slot.onSample = onSample;
  slot.settle = noop;
  pipeline.play();
  if (sink.eos) {
    // The appsink never started: an element failed NULL→READY inside play() (typically a camera that
    // cannot be opened). The addon stops re-arming pollBus while the pipeline is NULL, so drain by hand.
    draining = true;
    slot.active = false;
    armDrainPoll();
  } else {
    slot.active = true;
    pollBus(slot);
    pull(slot);
    queueMicrotask(() => stopped || h.opened());
  }
  return session;
}
