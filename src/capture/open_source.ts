/**
 * A source as an RxJS stream that survives its camera: sessions are opened, watched for stalls, torn
 * down and re-opened with back-off, while `frames$` stays subscribed and `events$` says what happened.
 */
import { Observable, Subject, share } from 'rxjs';
import type { CaptureTime, Frame } from '../types/frame.js';
import { backoffDelayMs, backoffPolicy, type BackoffPolicy } from './backoff.js';
import { describeTruncation, fileTruncation } from './container_length.js';
import { CaptureError } from './errors.js';
import type { CaptureEvent } from './events.js';
import { startIsolatedGstSession } from './gst_isolated.js';
import { startGstSession } from './gst_source.js';
import { startImageFolderSession, type ImageFolderOptions } from './image_folder_source.js';
import { preflight } from './preflight.js';
import { captureTime, PACED_PREFETCH, type CaptureSession, type RawFrame, type SessionHandlers } from './session.js';
import { launchPlans, normalizeRequest, parseSource, type FrameRequest, type LaunchPlan, type SourceKind, type SourceSpec } from './source_spec.js';

export interface OpenSourceOptions extends FrameRequest {
  /** Recorded media (file:, images:, gst:) start again at the end instead of completing. */
  loop?: boolean;
  /** No frame for this long (after the first) = stalled: tear down and re-open. Default 2000. */
  stallTimeoutMs?: number;
  /** Allowance for the first frame after opening; cameras take a while to start. Default 5000. */
  firstFrameTimeoutMs?: number;
  /**
   * Re-open after errors, stalls and (cameras) unexpected ends, with this back-off. Default: on for
   * v4l2:, test and gst: (live sources), off for file: and images: (an error there is final).
   */
  restart?: boolean | Partial<BackoffPolicy>;
  /** Give up after this many re-opens (the stream then errors). Default: never. */
  maxRestarts?: number;
  /** A session that has streamed this long resets the back-off to its initial delay. Default 10000. */
  healthyAfterMs?: number;
  /** Base for relative paths in the source string. Default process.cwd(). */
  cwd?: string;
  /** Source of jitter for the back-off (tests pass a constant). */
  random?: () => number;
  /** images: longer side of a decoded still when no size is requested (default 1920; shrink-on-load). */
  maxImageSide?: number;
  /** images: stills above this many pixels are skipped with a warning (default 100 Mpx). */
  maxImagePixels?: number;
  /**
   * Run each GStreamer session in a child process of its own (gst_isolated.ts), so that nothing GStreamer
   * does can block this event loop and its leaks end with the session. Default false here (tests count
   * pipelines in-process); the service turns it on (capture.isolate).
   */
  isolate?: boolean;
}

export type CaptureState = 'idle' | 'opening' | 'streaming' | 'waiting' | 'closed';

export interface CaptureStats {
  state: CaptureState;
  /** Frames delivered since openSource (all subscriptions, all restarts). */
  frames: number;
  restarts: number;
  /** Inputs skipped as undecodable (stills of an images: folder). */
  skipped: number;
  lastFrameAt?: CaptureTime;
  width?: number;
  height?: number;
  fps?: number;
  /** The launch plan (camera format) in use. */
  plan?: string;
  lastError?: CaptureError;
}

export interface CaptureSource {
  /** Canonical id, also `Frame.source`. */
  readonly source: string;
  readonly kind: SourceKind;
  /**
   * Frames; subscribing opens the source, the last unsubscribe closes it (one pipeline however many
   * subscribers). Completes at the end of a recording (unless loop), errors with a CaptureError when the
   * source fails for good. `seq` keeps counting across re-opens and re-subscriptions.
   */
  readonly frames$: Observable<Frame>;
  /** Hot: subscribe before frames$ to see the opening. Never completes; `closed` marks each end. */
  readonly events$: Observable<CaptureEvent>;
  stats(): CaptureStats;
  /**
   * Paced sources (`paced: true` with `realtime: false`, recorded media): the consumer takes `n` more frames
   * (default 1). Each session delivers its first frame unasked. A no-op for every other source.
   */
  demand(n?: number): void;
}

/** @internal Seams for tests that drive the supervisor with fake sessions (e.g. a camera format fallback). */
export interface SessionDeps {
  startSession?: typeof startSession;
  preflight?: typeof preflight;
}

const LIVE_KINDS: ReadonlySet<SourceKind> = new Set(['v4l2', 'test', 'gst']);

/**
 * Parses the source and options (throws CaptureError 'BAD_SOURCE' at once if they are malformed);
 * nothing is opened until frames$ is subscribed.
 */
export function openSource(source: string, options: OpenSourceOptions = {}, deps: SessionDeps = {}): CaptureSource {
  const start = deps.startSession ?? startSession;
  const check = deps.preflight ?? preflight;
  const spec = parseSource(source, options.cwd);
  const request = normalizeRequest(options);
  const plans: LaunchPlan[] = spec.kind === 'images' ? [{ label: 'images', description: '', sync: request.realtime, drop: true, reusable: false }] : launchPlans(spec, request);
  const restartOpt = options.restart ?? LIVE_KINDS.has(spec.kind);
  const policy: BackoffPolicy | undefined = restartOpt === false ? undefined : backoffPolicy(restartOpt === true ? {} : restartOpt);
  const stallTimeoutMs = positive(options.stallTimeoutMs ?? 2000, 'stallTimeoutMs');
  const firstFrameTimeoutMs = positive(options.firstFrameTimeoutMs ?? Math.max(5000, stallTimeoutMs), 'firstFrameTimeoutMs');
  const healthyAfterMs = options.healthyAfterMs ?? 10_000;
  const maxRestarts = options.maxRestarts ?? Infinity;
  const random = options.random ?? Math.random;
  const stills = {
    ...(options.maxImageSide !== undefined && { maxSide: options.maxImageSide }),
    ...(options.maxImagePixels !== undefined && { maxPixels: options.maxImagePixels }),
  };

  const events = new Subject<CaptureEvent>();
  const stats: CaptureStats = { state: 'idle', frames: 0, restarts: 0, skipped: 0 };
  let seq = 0;
  /** The camera format that has delivered frames before: re-opens go straight to it. */
  let provenPlan: number | undefined;
  /** Forwards credit to the open session of the (shared) subscription; set while frames$ is subscribed. */
  let grant: ((n: number) => void) | undefined;

  const emit = (e: DistributiveOmit<CaptureEvent, 'source' | 'at' | 'restarts'>): void => {
    events.next({ ...e, source: spec.id, at: captureTime(), restarts: stats.restarts } as CaptureEvent);
  };

  const frames$ = new Observable<Frame>((subscriber) => {
    let session: CaptureSession | undefined;
    let token = 0;
    let closed = false;
    let failures = 0;
    let attempt = 0;
    let planIndex = provenPlan ?? 0;
    let reopenTimer: ReturnType<typeof setTimeout> | undefined;
    let watchdog: ReturnType<typeof setTimeout> | undefined;
    let openedAtMs = 0;
    let sessionFrames = 0;
    let firstFrameMs: number | undefined;
    let lastFrameMs: number | undefined;
    let sessionFps: number | undefined;
    let lastSize: string | undefined;
    /** Paced session: frames it may still deliver. At 0 the consumer holds the source: no frame is not a stall. */
    let credit = Infinity;

    const endSession = (): void => {
      token++;
      if (watchdog) clearTimeout(watchdog);
      watchdog = undefined;
      session?.stop();
      session = undefined;
    };

    const close = (reason: 'unsubscribed' | 'completed' | 'failed'): void => {
      if (closed) return;
      closed = true;
      endSession();
      if (reopenTimer) clearTimeout(reopenTimer);
      reopenTimer = undefined;
      stats.state = 'closed';
      emit({ type: 'closed', reason, frames: stats.frames });
    };

    const stallLimitMs = (): number => {
      if (sessionFrames === 0) return firstFrameTimeoutMs;
      // A slow recording or image folder (say 0.25 fps) is not stalled between its frames.
      return sessionFps ? Math.max(stallTimeoutMs, 3000 / sessionFps) : stallTimeoutMs;
    };

    const checkStall = (): void => {
      watchdog = undefined;
      if (closed || !session) return;
      if (credit <= 0) return; // nothing asked for; demand() re-arms the watchdog
      const since = performance.now() - (lastFrameMs ?? openedAtMs);
      const limit = stallLimitMs();
      if (since < limit) {
        watchdog = setTimeout(checkStall, limit - since);
        return;
      }
      emit({ type: 'stalled', sinceMs: Math.round(since), timeoutMs: Math.round(limit) });
      const what = sessionFrames === 0 ? 'no first frame' : 'no frame';
      onError(
        new CaptureError('STALLED', `${what} from ${spec.id} for ${Math.round(since)} ms`, {
          hint: spec.kind === 'v4l2' ? 'check the cable and `dmesg` for USB resets; a lower resolution or frame rate helps a saturated USB bus' : 'the source stopped producing frames',
        }),
      );
    };

    const open = (): void => {
      if (closed) return;
      reopenTimer = undefined;
      attempt++;
      const plan = plans[planIndex]!;
      stats.state = 'opening';
      stats.plan = plan.label;
      emit({ type: 'opening', attempt, plan: plan.label });
      if (closed) return; // an events$ subscriber may unsubscribe frames$ from inside emit()
      sessionFrames = 0;
      firstFrameMs = lastFrameMs = sessionFps = undefined;
      openedAtMs = performance.now();
      credit = plan.paced ? PACED_PREFETCH : Infinity;
      const my = ++token;
      const guard =
        <A extends unknown[]>(fn: (...a: A) => void) =>
        (...a: A): void => {
          if (my === token && !closed) fn(...a);
        };
      const handlers = {
        opened: guard(() => emit({ type: 'opened', attempt, plan: plan.label })),
        frame: guard(onFrame),
        eos: guard(onEos),
        error: guard(onError),
        skipped: guard((file: string, reason: string) => {
          stats.skipped++;
          emit({ type: 'skipped', file, reason, skipped: stats.skipped });
        }),
      };
      const blocked = check(spec);
      if (blocked) {
        session = { rewind: () => false, stop: () => undefined };
        queueMicrotask(() => handlers.error(blocked));
        return;
      }
      session = start(spec, plan, request, handlers, stills, options.isolate ?? false);
      watchdog = setTimeout(checkStall, stallLimitMs());
    };

    const onFrame = (raw: RawFrame): void => {
      const now = raw.at.monoMs;
      if (sessionFrames === 0) {
        firstFrameMs = now;
        if (spec.kind === 'v4l2') provenPlan = planIndex;
        stats.state = 'streaming';
        emit({ type: 'first-frame', width: raw.width, height: raw.height, openMs: Math.round(now - openedAtMs), ...(raw.fps !== undefined && { fps: raw.fps }) });
      }
      const size = `${raw.width}x${raw.height}`;
      if (lastSize !== undefined && size !== lastSize && sessionFrames > 0) emit({ type: 'resized', width: raw.width, height: raw.height });
      lastSize = size;
      sessionFrames++;
      lastFrameMs = now;
      credit--;
      sessionFps = raw.fps;
      if (sessionFrames === 1) {
        // The watchdog was set for the (longer) first-frame allowance; from now on the stall timeout rules.
        if (watchdog) clearTimeout(watchdog);
        watchdog = setTimeout(checkStall, stallLimitMs());
      }
      if (failures > 0 && firstFrameMs !== undefined && now - firstFrameMs >= healthyAfterMs) failures = 0;
      stats.frames++;
      stats.lastFrameAt = raw.at;
      stats.width = raw.width;
      stats.height = raw.height;
      if (raw.fps !== undefined) stats.fps = raw.fps;
      subscriber.next({ seq: seq++, capturedAt: raw.at, width: raw.width, height: raw.height, format: 'RGB', data: raw.data, source: spec.id });
    };

    const onEos = (): void => {
      const frames = sessionFrames;
      if (spec.kind === 'v4l2' && policy) {
        // A camera does not end; it was unplugged or reset.
        emit({ type: 'eos', frames, action: 'reopen' });
        return retry(new CaptureError('RUNTIME', `${spec.id} ended unexpectedly`, { hint: 'the camera was unplugged or reset; check the cable and `dmesg`' }));
      }
      if (options.loop && session?.rewind()) {
        emit({ type: 'eos', frames, action: 'loop' });
        return;
      }
      if ((spec.kind === 'gst' || spec.kind === 'test') && policy) {
        // A live chain that ends (a network camera that hung up, num-buffers on a test source) would otherwise
        // complete the run with exit 0, which systemd's Restart=on-failure takes as "done": the device stays down.
        emit({ type: 'eos', frames, action: 'reopen' });
        return retry(
          new CaptureError('RUNTIME', `${spec.id} reached end-of-stream after ${frames} frames; a live source should not end, re-opening`, {
            hint: 'for a recording use file:<path> (it ends the run) or capture.loop: true',
          }),
        );
      }
      // A recording that ends early is said to be cut, not "ended" (issue 10, item 6).
      const cut = spec.kind === 'file' ? fileTruncation(spec.path) : undefined;
      emit({ type: 'eos', frames, action: 'complete', ...(cut && spec.kind === 'file' && { truncated: describeTruncation(cut, spec.path) }) });
      close('completed');
      subscriber.complete();
    };

    const onError = (err: CaptureError): void => {
      const neverStreamed = sessionFrames === 0 && provenPlan === undefined;
      endSession();
      stats.lastError = err;
      // A camera format that cannot work here: try the next one at once, no back-off.
      if (neverStreamed && planIndex + 1 < plans.length && ['NOT_NEGOTIATED', 'MISSING_PLUGIN', 'DECODE'].includes(err.code)) {
        const from = plans[planIndex]!.label;
        planIndex++;
        emit({ type: 'fallback', from, to: plans[planIndex]!.label, reason: err.message });
        return open(); // open() checks `closed` first
      }
      retry(err);
    };

    const retry = (err: CaptureError): void => {
      endSession();
      const willRetry = policy !== undefined && err.retryable && stats.restarts < maxRestarts;
      emit({ type: 'error', error: err.toJSON(), willRetry });
      if (closed) return;
      if (!willRetry) {
        close('failed');
        return subscriber.error(err);
      }
      failures++;
      if (provenPlan === undefined) planIndex = 0;
      const inMs = backoffDelayMs(failures, policy!, random);
      stats.state = 'waiting';
      emit({ type: 'reopening', inMs, failures });
      if (closed) return;
      reopenTimer = setTimeout(() => {
        stats.restarts++;
        open();
      }, inMs);
    };

    grant = (n: number): void => {
      if (closed || !session || credit === Infinity) return;
      if (credit <= 0) {
        // The stall clock starts again from the request, not from the frame before the consumer paused.
        lastFrameMs = performance.now();
        if (!watchdog) watchdog = setTimeout(checkStall, stallLimitMs());
      }
      credit += n;
      session.demand?.(n);
    };
    open();
    return () => {
      grant = undefined;
      close('unsubscribed');
    };
  }).pipe(share());

  const demand = (n = 1): void => {
    if (!(Number.isInteger(n) && n > 0)) throw new RangeError(`demand: n must be a positive integer, got ${n}`);
    grant?.(n);
  };
  return { source: spec.id, kind: spec.kind, frames$, events$: events.asObservable(), stats: () => ({ ...stats }), demand };
}

function startSession(
  spec: SourceSpec,
  plan: LaunchPlan,
  request: ReturnType<typeof normalizeRequest>,
  handlers: SessionHandlers,
  stills: Pick<ImageFolderOptions, 'maxSide' | 'maxPixels'> = {},
  isolate = false,
): CaptureSession {
  if (spec.kind === 'images') {
    return startImageFolderSession(
      spec.folder,
      spec.id,
      {
        realtime: request.realtime,
        ...(request.fps !== undefined && { fps: request.fps }),
        ...(request.width !== undefined && { width: request.width }),
        ...(request.height !== undefined && { height: request.height }),
        ...stills,
      },
      handlers,
    );
  }
  const ctx = { source: spec.id, ...(spec.kind === 'v4l2' && { device: spec.device }), userDescription: spec.kind === 'gst' };
  return isolate ? startIsolatedGstSession(plan, ctx, handlers) : startGstSession(plan, ctx, handlers);
}

function positive(v: number, name: string): number {
  if (!(Number.isFinite(v) && v > 0)) throw new CaptureError('BAD_SOURCE', `${name} must be a positive number of ms, got ${v}`);
  return v;
}

type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;
