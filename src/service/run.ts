import { join } from 'node:path';
import { Subject, takeUntil, tap, timer, type Subscription } from 'rxjs';
import { openSource, type CaptureEvent, type CaptureSource, type OpenSourceOptions } from '../capture/index.js';
import type { BackendPreference } from '../model/backend.js';
import type { ModelTrust } from '../model/weights_io.js';
import { startInferenceWorker, type InferenceClient, type InferenceEngineOptions } from '../model/inference_client.js';
import { createPipeline, type PipelineEvent, type PipelineOptions } from '../pipeline/index.js';
import { createPublisher, redactUrl, startEmbeddedBroker, type EmbeddedBroker, type OutboxDurability, type Publisher, type PublisherOptions } from '../publish/index.js';
import { resolve as resolvePath } from 'node:path';
import type { Frame } from '../types/frame.js';
import type { Logger } from '../types/logger.js';
import { StartError } from './exit_codes.js';
import { prepareStateDir, StateDirError } from './state_dir.js';
import { operatingPointForRun, type OperatingPointInForce } from './config/operating_point.js';

export type { Logger } from '../types/logger.js';

/** Everything `dermstream run` needs, already validated (the config layer builds it). */
export interface RunOptions {
  source: string;
  capture: OpenSourceOptions;
  modelDir: string;
  /** The operating point in force and where it came from (runOptionsFrom); absent: the model's for unset keys. */
  operatingPoint?: OperatingPointInForce;
  backend: BackendPreference;
  /** Trusted signing keys and whether a signature is required (model.trustedKeys, model.requireSignature). */
  modelTrust?: ModelTrust;
  /** Inference engine and ONNX Runtime options (model.engine, model.onnx.*); default auto. */
  engine?: InferenceEngineOptions;
  pipeline: Omit<PipelineOptions, 'infer'>;
  /** Empty: start the embedded broker. */
  brokerUrl: string;
  embedded: { host: string; tcpPort: number; wsPort: number | false };
  publisher: Omit<PublisherOptions, 'brokerUrl' | 'model' | 'deviceId' | 'stateDir' | 'logger'>;
  deviceId: string;
  stateDir: string;
  maxFrames?: number;
  durationS?: number;
  /** Print the one-line live summary (fps, state, label, latency) to stderr. */
  summary: boolean;
}

/** What the service layer (health, metrics, watchdog, display) observes of a run. */
export interface RunHooks {
  onFrame?(frame: Frame): void;
  onEvent?(event: PipelineEvent): void;
  onCaptureEvent?(event: CaptureEvent): void;
  /** `reason`: why delivery is not possible (credentials refused, topic denied), when known. */
  onBroker?(connected: boolean, reason?: string): void;
  onStorage?(durability: OutboxDurability): void;
  /** The live one-line summary, every second when `summary` is on (a terminal); null once at the end. */
  onSummary?(text: string | null): void;
  onReady?(info: RunInfo): void;
}

export interface RunInfo {
  brokerUrl: string;
  brokerWsUrl?: string;
  model: InferenceClient['identity'];
  source: string;
}

export interface RunHandle {
  info: RunInfo;
  /** Resolves when the run ends (source ended, limits reached, or stop()). */
  done: Promise<RunSummary>;
  stop(reason: string): Promise<RunSummary>;
  capture: CaptureSource;
  publisher: Publisher;
  inference: InferenceClient;
  pipelineCounters(): ReturnType<ReturnType<typeof createPipeline>['counters']>;
}

export interface RunSummary {
  reason: string;
  framesCaptured: number;
  processed: number;
  dropped: number;
  rejected: number;
  events: number;
  lesionPublished: number;
  outboxPending: number;
  seconds: number;
  /** Why the run failed (the camera for good, the stream): the process exits non-zero for it. */
  error?: Error;
}


/**
 * The main job: capture → quality gate → latest-only inference (worker thread) → contours →
 * debounce → MQTT (durable lesion, live, snapshot, status, metrics). Errors of the camera or the broker
 * are survived and reported; only a model that cannot load or a config that is wrong stop it.
 */
export async function startRun(opts: RunOptions, log: Logger, hooks: RunHooks = {}): Promise<RunHandle> {
  const started = performance.now();
  const inference = await startInferenceWorker(opts.modelDir, opts.backend, opts.engine, opts.modelTrust);
  // Falling back past tfjs-node(-gpu) is the normal case off the Jetson ("Cannot find package …" wrapped
  // over four lines at INFO on every start): a debug detail, not news.
  for (const skipped of inference.backendSkipped ?? []) log.debug?.({ skipped }, `backend not available: ${skipped}`);
  log.info({ model: inference.identity, engine: inference.engine, signature: inference.signature }, `model ${inference.identity.name} ${inference.identity.version} loaded on ${inference.identity.backend}`);
  if (inference.signature.status === 'unsigned') {
    log.warn({ signature: inference.signature, modelDir: opts.modelDir }, 'model: manifest is not signed; its integrity rests on its own hashes (set model.requireSignature and model.trustedKeys)');
  } else if (inference.signature.status !== 'verified') {
    // The signature checks against its own key, but no trusted key vouches for it. With requireSignature off that is
    // the operator's choice (the demo runs the development-signed model this way); said once, not as a warning.
    log.info(
      { signature: inference.signature, modelDir: opts.modelDir },
      `model: signed by key ${inference.signature.keyId}, which is not in model.trustedKeys; loaded because model.requireSignature is off`,
    );
  }

  let op: OperatingPointInForce;
  try {
    op = opts.operatingPoint ?? operatingPointForRun(opts.pipeline.debounceParams, opts.modelDir);
  } catch (err) {
    await inference.close();
    throw err;
  }
  log.info({ operatingPoint: op }, `votes malignant at p ≥ ${op.threshold} ± ${op.margin} (${op.source === 'model' ? "the model's operating point" : 'set by the configuration'})`);
  // `model.operatingPoint` on the wire (lesion schema 1.1.0): consumers see the threshold the verdict was voted at.
  const modelOnWire = { ...inference.identity, operatingPoint: op };

  let broker: EmbeddedBroker | undefined;
  let brokerUrl = opts.brokerUrl;
  let brokerWsUrl: string | undefined;
  let publisher: Publisher;
  try {
    try {
      prepareStateDir(opts.stateDir);
    } catch (err) {
      throw stateDirError(err, opts.stateDir);
    }
    if (!brokerUrl) {
      // Mosquitto where installed (MQTT 5: an EHR bridge can run several workers), persistence beside the outbox.
      broker = await startEmbeddedBroker({ host: opts.embedded.host, tcpPort: opts.embedded.tcpPort, wsPort: opts.embedded.wsPort, dataDir: join(opts.stateDir, 'broker'), logger: log }).catch((err: unknown) => {
        throw embeddedBrokerError(err, opts.embedded);
      });
      brokerUrl = broker.url;
      brokerWsUrl = broker.wsUrl ?? undefined;
      log.info({ url: broker.url, wsUrl: broker.wsUrl, engine: broker.engine, protocols: broker.protocols }, 'no broker configured: embedded MQTT broker started');
    }
    // aedes (where Mosquitto is absent) speaks MQTT 3.1.1 only: ask for it at once rather than warn about our own broker refusing MQTT 5.
    const only311 = broker !== undefined && !broker.protocols.includes(5);
    publisher = await createPublisher({ ...opts.publisher, ...(only311 && { protocolVersion: 4 as const }), brokerUrl, deviceId: opts.deviceId, stateDir: opts.stateDir, model: modelOnWire, logger: log }).catch((err: unknown) => {
      throw stateDirError(err, opts.stateDir);
    });
  } catch (err) {
    // The inference worker and the broker's sockets would keep the process alive: a start-up failure
    // then hung instead of exiting (issue 10, item 3).
    await inference.close().catch(() => undefined);
    await broker?.close().catch(() => undefined);
    throw err;
  }
  const brokerSub = publisher.connection$.subscribe((c) => {
    // Connected but refused (a topic denied by the ACL) is not ready either: verdicts wait in the outbox.
    hooks.onBroker?.(c.state === 'connected' && !c.problem, c.problem?.message);
    if (c.state === 'connected') log.info({ broker: redactUrl(brokerUrl), protocol: c.protocolVersion }, 'broker connected');
    else if (c.state === 'reconnecting') log.warn({ broker: redactUrl(brokerUrl), error: c.error }, 'broker connection lost; lesion messages wait in the outbox');
  });

  // A full or read-only state disk: verdicts are still sent, but from memory only. Say so in health, the
  // retained status and metrics until the disk takes writes again (issue 10, item 8).
  const offDurability = publisher.onDurability((d) => {
    hooks.onStorage?.(d);
    if (!d.durable) {
      log.error({ stateDir: opts.stateDir, reason: d.reason, memoryOnly: d.memoryOnly }, `storage: outbox writes fail in ${opts.stateDir} (${d.reason}); lesion messages are kept in memory only until space is freed`);
      void publisher.publishStatus({ state: 'degraded', reason: `storage: outbox not durable (${d.reason}); free space in ${opts.stateDir}` });
    } else {
      log.info({ stateDir: opts.stateDir }, 'storage: outbox writes succeed again; every lesion message is on disk');
      void publisher.publishStatus({ state: 'online', ...(capture.stats().state === 'streaming' && { camera: 'ok' as const }) });
    }
  });

  // The examination context set before the device started (retained session/set) must be on its first lesion
  // message: under load the first frames were processed before the retained command had arrived. Bounded: a broker
  // that is down does not hold the capture back (verdicts then wait in the outbox, without a context, as before).
  if (!(await publisher.whenSessionSettled(1000))) log.warn({ topic: publisher.topics.sessionSet }, 'session: no session/set subscription within 1 s; starting without waiting for the examination context');

  // Played as fast as possible, a recording is paced by the network (one credit per frame taken): every frame
  // analysed, none decoded only to be dropped (issue 11: decoding ahead cost the network a third of its rate).
  const paced = opts.capture.realtime === false;
  const capture = openSource(opts.source, { ...opts.capture, paced });
  const stop$ = new Subject<string>();
  // Subscribed before the frames: a stop is known by the time the frames complete, so the open episode
  // closes as `shutdown` (a stop, a limit) rather than `source-ended` (the recording's end).
  let stopping = false;
  stop$.subscribe(() => (stopping = true));
  const pipeline = createPipeline({ ...opts.pipeline, debounceParams: { ...opts.pipeline.debounceParams, malignantThreshold: op.threshold, uncertainMargin: op.margin }, infer: (f) => inference.infer(f), ...(paced && { onFrameTaken: () => capture.demand() }), endReason: () => (stopping ? 'shutdown' : 'source-ended') });
  let stopReason = 'source ended';
  let framesCaptured = 0;
  let lesionPublished = 0;
  // Snapshots need the pixels of the frame an event describes; keep the last few frames by seq.
  const recent = new Map<number, Frame>();

  const captureSub = capture.events$.subscribe((e) => {
    hooks.onCaptureEvent?.(e);
    if (e.type === 'error') {
      log.error({ source: capture.source, code: e.error.code, hint: e.error.hint, willRetry: e.willRetry }, `camera: ${e.error.message}`);
      void publisher.publishStatus({ state: 'degraded', camera: e.willRetry ? 'reopening' : 'failed', reason: `camera: ${e.error.message}` });
    } else if (e.type === 'reopening') log.warn({ source: capture.source, inMs: e.inMs, failures: e.failures }, `camera: re-opening in ${Math.round(e.inMs)} ms`);
    else if (e.type === 'skipped') log.warn({ source: capture.source, file: e.file, skipped: e.skipped }, `skipped ${e.file}: ${e.reason}`);
    else if (e.type === 'eos' && e.truncated) {
      stopReason = `recording truncated: ${e.truncated}`;
      log.warn({ source: capture.source, frames: e.frames }, `recording truncated: ${e.truncated}`);
    } else if (e.type === 'stalled') log.warn({ source: capture.source, sinceMs: e.sinceMs, timeoutMs: e.timeoutMs }, `camera stalled: no frame for ${e.sinceMs} ms (limit ${e.timeoutMs} ms)`);
    else if (e.type === 'first-frame') {
      log.info({ source: capture.source, width: e.width, height: e.height, fps: e.fps, openMs: e.openMs }, 'camera delivering');
      void publisher.publishStatus({ state: 'online', camera: 'ok' });
    } else if (e.type === 'fallback') log.warn({ from: e.from, to: e.to, reason: e.reason }, 'camera format fallback');
    else log.debug?.({ event: e }, `capture ${e.type}`);
  });

  // Live one-line summary: frames/s over the last second, state, label, latency. On a terminal it
  // rewrites one line every second; under systemd it is a log line every 10 s.
  let lastEvent: PipelineEvent | undefined;
  let processedAtLastTick = 0;
  let lastTick = performance.now();
  const summaryLine = () => {
    const c = pipeline.counters();
    const now = performance.now();
    const fps = (c.processed - processedAtLastTick) / ((now - lastTick) / 1000);
    processedAtLastTick = c.processed;
    lastTick = now;
    const e = lastEvent;
    // p(malignant) against the threshold in force, never the winning label's own percentage (issue 8: "malignant
    // 37 %" read as 37 % sure of malignant; it was p(malignant) = 0.37 above a 0.15 threshold).
    const p = e?.probabilities?.malignant ?? 0;
    const sd = e?.spread?.malignant ?? 0;
    const label = e?.label ? `${e.label} p(mal) ${(p * 100).toFixed(0)}%±${(sd * 100).toFixed(0)} ${p >= op.threshold ? '≥' : '<'} ${(op.threshold * 100).toFixed(0)}%` : '—';
    return {
      text: `${fps.toFixed(1).padStart(4)} fps | ${(e?.state ?? 'starting').padEnd(13)} | ${label.padEnd(32)} | latency ${e ? e.timings.latencyMs.toFixed(0) : '—'} ms | dropped ${c.dropped} | rejected ${c.rejectedTotal} | outbox ${publisher.stats().outbox.depth}`,
      fields: { fps: Number(fps.toFixed(2)), state: e?.state ?? 'starting', label: e?.label ?? null, probability: p, latencyMs: e?.timings.latencyMs, dropped: c.dropped, rejected: c.rejectedTotal, outbox: publisher.stats().outbox.depth },
    };
  };
  const summaryTimer = opts.summary
    ? setInterval(() => (hooks.onSummary ? hooks.onSummary(summaryLine().text) : process.stderr.write(`${summaryLine().text}\n`)), 1000)
    : setInterval(() => {
        const l = summaryLine();
        log.info(l.fields, l.text);
      }, 10_000);

  const limits$ = opts.durationS ? timer(opts.durationS * 1000) : undefined;
  let done!: (s: RunSummary) => void;
  const donePromise = new Promise<RunSummary>((r) => (done = r));
  let sub: Subscription | undefined;
  let finished = false;
  let failure: Error | undefined;

  const finish = async (reason: string): Promise<RunSummary> => {
    if (finished) return donePromise;
    finished = true;
    stopReason = reason;
    sub?.unsubscribe();
    clearInterval(summaryTimer);
    if (opts.summary) hooks.onSummary?.(null);
    captureSub.unsubscribe();
    await inference.close();
    await publisher.close({ timeoutMs: 3000 });
    brokerSub.unsubscribe();
    offDurability();
    await broker?.close();
    const c = pipeline.counters();
    const summary: RunSummary = {
      reason: stopReason,
      framesCaptured,
      processed: c.processed,
      dropped: c.dropped,
      rejected: c.rejectedTotal,
      events: c.events,
      lesionPublished,
      outboxPending: publisher.stats().outbox.depth,
      seconds: (performance.now() - started) / 1000,
      ...(failure && { error: failure }),
    };
    log.info(summary, `run ended: ${stopReason}`);
    done(summary);
    return summary;
  };

  if (limits$) limits$.subscribe(() => stop$.next(`duration of ${opts.durationS} s reached`));
  const frames$ = capture.frames$.pipe(
    tap((f) => {
      framesCaptured++;
      recent.set(f.seq, f);
      if (recent.size > 4) recent.delete(recent.keys().next().value as number);
      hooks.onFrame?.(f);
      if (opts.maxFrames && framesCaptured >= opts.maxFrames) setImmediate(() => stop$.next(`--max-frames ${opts.maxFrames} reached`));
    }),
    takeUntil(stop$),
  );
  sub = frames$
    .pipe(pipeline)
    .subscribe({
      next: (event) => {
        lastEvent = event;
        const r = publisher.publishEvent(event, recent.get(event.frame.seq));
        if (r.lesion) lesionPublished++;
        hooks.onEvent?.(event);
      },
      error: (err: Error) => {
        log.error({ err: err.message }, `stream failed: ${err.message}`);
        failure = err;
        void finish(`error: ${err.message}`);
      },
      complete: () => void finish(stopReason),
    });
  stop$.subscribe((reason) => {
    stopReason = reason;
  });

  const info: RunInfo = { brokerUrl, brokerWsUrl, model: modelOnWire, source: capture.source };
  hooks.onReady?.(info);
  return {
    info,
    done: donePromise,
    stop: (reason) => {
      // Let the frame in inference finish and its event publish; force the end if it hangs.
      stop$.next(reason);
      const t = setTimeout(() => void finish(reason), 3000);
      return donePromise.finally(() => clearTimeout(t));
    },
    capture,
    publisher,
    inference,
    pipelineCounters: () => pipeline.counters(),
  };
}

/** The embedded broker could not listen: name the key (a host that does not resolve said only "ENOTFOUND"). */
function embeddedBrokerError(err: unknown, e: RunOptions['embedded']): StartError {
  const code = (err as NodeJS.ErrnoException).code;
  const msg = (err as Error).message;
  if (code === 'EADDRINUSE') {
    return new StartError('mqtt.embedded.port', `the embedded broker cannot listen on ${e.host}:${e.tcpPort}${e.wsPort ? ` / ${e.wsPort}` : ''}: the port is in use (${msg})`, 'stop what uses the port or set mqtt.embedded.port / mqtt.embedded.wsPort to a free one', undefined, err);
  }
  return new StartError('mqtt.embedded.host', `the embedded broker cannot listen on mqtt.embedded.host = "${e.host}": ${msg}`, 'use an address of this machine: 127.0.0.1 (default), 0.0.0.0 (all interfaces) or one of `ip -brief address`', undefined, err);
}

const STATE_DIR_HINT = 'set outbox.stateDir (or STATE_DIRECTORY) to a writable folder on a disk, e.g. /var/lib/dermstream (systemd StateDirectory=)';

/** The outbox could not be opened under stateDir (a file in the way, /proc, no permission, a full disk). */
function stateDirError(err: unknown, dir: string): Error {
  if (err instanceof StateDirError) return new StartError('outbox.stateDir', `the outbox cannot be opened in outbox.stateDir = "${dir}": ${err.reason}`, STATE_DIR_HINT, undefined, err);
  const code = (err as NodeJS.ErrnoException).code;
  // Only a file system error about a path in the state folder is the state folder's fault (a missing TLS
  // file also fails createPublisher with ENOENT).
  const at = (err as NodeJS.ErrnoException).path;
  if (!code || !at || !resolvePath(at).startsWith(resolvePath(dir))) return err as Error;
  const why =
    code === 'ENOTDIR' ? 'a part of the path is a file, not a folder'
    : code === 'EACCES' || code === 'EPERM' ? 'this user may not write there'
    : code === 'ENOENT' ? 'the path cannot be created there'
    : code === 'ENOSPC' ? 'the disk is full'
    : code === 'EROFS' ? 'the file system is read-only'
    : code;
  return new StartError('outbox.stateDir', `the outbox cannot be opened in outbox.stateDir = "${dir}": ${why} (${(err as Error).message})`, STATE_DIR_HINT, undefined, err);
}
