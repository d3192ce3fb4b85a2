import { Subject, takeUntil, tap, timer, type Subscription } from 'rxjs';
import { openSource, type CaptureEvent, type CaptureSource, type OpenSourceOptions } from '../capture/index.js';
import type { BackendPreference } from '../model/backend.js';
import { startInferenceWorker, type InferenceClient, type InferenceEngineOptions } from '../model/inference_client.js';
import { createPipeline, type PipelineEvent, type PipelineOptions } from '../pipeline/index.js';
import { createPublisher, startEmbeddedBroker, type EmbeddedBroker, type Publisher, type PublisherOptions } from '../publish/index.js';
import type { Frame } from '../types/frame.js';

export interface Logger {
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
  debug?(obj: object, msg?: string): void;
}

/** Everything `dermstream run` needs, already validated (the config layer builds it). */
export interface RunOptions {
  source: string;
  capture: OpenSourceOptions;
  modelDir: string;
  backend: BackendPreference;
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
  onBroker?(connected: boolean): void;
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
}


/**
 * The main job: capture → quality gate → latest-only inference (worker thread) → contours →
 * debounce → MQTT (durable lesion, live, snapshot, status, metrics). Errors of the camera or the broker
 * are survived and reported; only a model that cannot load or a config that is wrong stop it.
 */
export async function startRun(opts: RunOptions, log: Logger, hooks: RunHooks = {}): Promise<RunHandle> {
  const started = performance.now();
  const inference = await startInferenceWorker(opts.modelDir, opts.backend, opts.engine);
  log.info({ model: inference.identity, engine: inference.engine, skippedBackends: inference.backendSkipped }, `model ${inference.identity.name} ${inference.identity.version} loaded on ${inference.identity.backend}`);

  let broker: EmbeddedBroker | undefined;
  let brokerUrl = opts.brokerUrl;
  let brokerWsUrl: string | undefined;
  if (!brokerUrl) {
    broker = await startEmbeddedBroker({ host: opts.embedded.host, tcpPort: opts.embedded.tcpPort, wsPort: opts.embedded.wsPort, logger: log });
    brokerUrl = broker.url;
    brokerWsUrl = broker.wsUrl ?? undefined;
    log.info({ url: broker.url, wsUrl: broker.wsUrl }, 'no broker configured: embedded MQTT broker started');
  }
  const publisher = await createPublisher({ ...opts.publisher, brokerUrl, deviceId: opts.deviceId, stateDir: opts.stateDir, model: inference.identity, logger: log });
  const brokerSub = publisher.connection$.subscribe((c) => {
    hooks.onBroker?.(c.state === 'connected');
    if (c.state === 'connected') log.info({ broker: brokerUrl, protocol: c.protocolVersion }, 'broker connected');
    else if (c.state === 'reconnecting') log.warn({ broker: brokerUrl, error: c.error }, 'broker connection lost; lesion messages wait in the outbox');
  });

  const capture = openSource(opts.source, opts.capture);
  const pipeline = createPipeline({ ...opts.pipeline, infer: (f) => inference.infer(f) });
  const stop$ = new Subject<string>();
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
    else if (e.type === 'stalled') log.warn({ source: capture.source, sinceMs: e.sinceMs }, 'camera stalled: no frame, re-opening');
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
    const p = e?.label ? (e.probabilities?.[e.label] ?? 0) : 0;
    const sd = e?.label ? (e.spread?.[e.label] ?? 0) : 0;
    const label = e?.label ? `${e.label} ${(p * 100).toFixed(0)}%±${(sd * 100).toFixed(0)}` : '—';
    return {
      text: `${fps.toFixed(1).padStart(4)} fps | ${(e?.state ?? 'starting').padEnd(13)} | ${label.padEnd(18)} | latency ${e ? e.timings.latencyMs.toFixed(0) : '—'} ms | dropped ${c.dropped} | rejected ${c.rejectedTotal} | outbox ${publisher.stats().outbox.depth}`,
      fields: { fps: Number(fps.toFixed(2)), state: e?.state ?? 'starting', label: e?.label ?? null, probability: p, latencyMs: e?.timings.latencyMs, dropped: c.dropped, rejected: c.rejectedTotal, outbox: publisher.stats().outbox.depth },
    };
  };
  const summaryTimer = opts.summary
    ? setInterval(() => process.stderr.write(`\r${summaryLine().text}   `), 1000)
    : setInterval(() => {
        const l = summaryLine();
        log.info(l.fields, l.text);
      }, 10_000);

  const limits$ = opts.durationS ? timer(opts.durationS * 1000) : undefined;
  let done!: (s: RunSummary) => void;
  const donePromise = new Promise<RunSummary>((r) => (done = r));
  let sub: Subscription | undefined;
  let finished = false;

  const finish = async (reason: string): Promise<RunSummary> => {
    if (finished) return donePromise;
    finished = true;
    stopReason = reason;
    sub?.unsubscribe();
    clearInterval(summaryTimer);
    if (opts.summary) process.stderr.write('\n');
    captureSub.unsubscribe();
    await inference.close();
    await publisher.close({ timeoutMs: 3000 });
    brokerSub.unsubscribe();
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
        void finish(`error: ${err.message}`);
      },
      complete: () => void finish(stopReason),
    });
  stop$.subscribe((reason) => {
    stopReason = reason;
  });

  const info: RunInfo = { brokerUrl, brokerWsUrl, model: inference.identity, source: capture.source };
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
