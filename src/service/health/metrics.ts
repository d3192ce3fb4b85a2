/**
 * Prometheus instruments of the service (prom-client), on a registry of their own so that tests and two
 * instances in one process do not collide. Latencies are in milliseconds (the pipeline measures in ms; the
 * metric names say so), with buckets from 1 ms to 1 s.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

export const LATENCY_BUCKETS_MS = [1, 2, 5, 10, 20, 35, 50, 75, 100, 150, 200, 300, 500, 1000];
export const CAMERA_STATES = ['idle', 'opening', 'streaming', 'waiting', 'closed'] as const;
export type CameraStateName = (typeof CAMERA_STATES)[number];

export interface ModelInfoLabels {
  name: string;
  version: string;
  sha256: string;
  quantization: string;
}

/** Cumulative totals as the pipeline and capture keep them; `syncTotals` turns them into counter increments. */
export interface Totals {
  captured?: number;
  processed?: number;
  dropped?: number;
  rejected?: Record<string, number>;
  cameraRestarts?: number;
  /** Outbox: current depth (a gauge) and cumulative drops by reason (`OutboxStats.dropped`). */
  outboxDepth?: number;
  outboxDropped?: Record<string, number>;
  /** Outbox durability (`OutboxDurability`): on disk or not, messages in memory only, failed writes so far. */
  outboxDurable?: boolean;
  outboxMemoryOnly?: number;
  outboxWriteFailures?: number;
}

export class Metrics {
  readonly registry: Registry;
  readonly framesCaptured: Counter;
  readonly framesProcessed: Counter;
  readonly framesDropped: Counter;
  readonly qualityRejections: Counter<'reason'>;
  readonly stageLatency: Histogram<'stage'>;
  readonly endToEndLatency: Histogram;
  readonly inferenceBackend: Gauge<'backend'>;
  readonly modelInfo: Gauge<'name' | 'version' | 'sha256' | 'quantization'>;
  readonly brokerConnected: Gauge;
  readonly outboxDepth: Gauge;
  readonly outboxDropped: Counter<'reason'>;
  readonly cameraRestarts: Counter;
  readonly cameraState: Gauge<'state'>;
  readonly inputsSkipped: Counter;
  readonly outboxDurable: Gauge;
  readonly outboxMemoryOnly: Gauge;
  readonly outboxWriteFailures: Counter;
  private readonly seen = new Map<string, number>();
  private readonly scrapeHooks = new Set<() => void>();

  constructor(opts: { prefix?: string; defaultMetrics?: boolean; labels?: Record<string, string> } = {}) {
    const p = opts.prefix ?? 'dermstream_';
    const registers = [(this.registry = new Registry())];
    if (opts.labels) this.registry.setDefaultLabels(opts.labels);
    if (opts.defaultMetrics ?? true) collectDefaultMetrics({ register: this.registry, prefix: p });
    this.framesCaptured = new Counter({ name: `${p}frames_captured_total`, help: 'Frames delivered by the camera/source', registers });
    this.framesProcessed = new Counter({ name: `${p}frames_processed_total`, help: 'Frames that went through inference', registers });
    this.framesDropped = new Counter({ name: `${p}frames_dropped_total`, help: 'Frames dropped as stale before inference (latest-only)', registers });
    this.qualityRejections = new Counter({ name: `${p}quality_rejections_total`, help: 'Frames rejected by the quality gate, by reason', labelNames: ['reason'], registers });
    this.stageLatency = new Histogram({ name: `${p}stage_latency_milliseconds`, help: 'Time spent per pipeline stage (ms)', labelNames: ['stage'], buckets: LATENCY_BUCKETS_MS, registers });
    this.endToEndLatency = new Histogram({ name: `${p}end_to_end_latency_milliseconds`, help: 'Capture to published event (ms)', buckets: LATENCY_BUCKETS_MS, registers });
    this.inferenceBackend = new Gauge({ name: `${p}inference_backend`, help: 'TensorFlow.js backend in use (1 for the one that runs)', labelNames: ['backend'], registers });
    this.modelInfo = new Gauge({ name: `${p}model_info`, help: 'Model identity (always 1)', labelNames: ['name', 'version', 'sha256', 'quantization'], registers });
    this.brokerConnected = new Gauge({ name: `${p}broker_connected`, help: '1 while connected to the MQTT broker', registers });
    this.outboxDepth = new Gauge({ name: `${p}outbox_depth`, help: 'Lesion messages waiting in the durable outbox', registers });
    this.outboxDropped = new Counter({ name: `${p}outbox_dropped_total`, help: 'Undelivered lesion messages dropped by the outbox bounds, by reason', labelNames: ['reason'], registers });
    this.cameraRestarts = new Counter({ name: `${p}camera_restarts_total`, help: 'Times the source was re-opened after an error or stall', registers });
    this.cameraState = new Gauge({ name: `${p}camera_state`, help: 'Capture state (1 for the current one)', labelNames: ['state'], registers });
    this.inputsSkipped = new Counter({ name: `${p}inputs_skipped_total`, help: 'Stills of an images: source skipped because they could not be decoded (truncated, not an image, too large)', registers });
    this.outboxDurable = new Gauge({ name: `${p}outbox_durable`, help: '1 while every outbox message is on disk; 0 while the state disk refuses writes (messages in memory only)', registers });
    this.outboxMemoryOnly = new Gauge({ name: `${p}outbox_memory_only`, help: 'Unacknowledged lesion messages held in memory only (lost if the service stops now)', registers });
    this.outboxWriteFailures = new Counter({ name: `${p}outbox_write_failures_total`, help: 'Outbox writes the state disk refused (full, read-only)', registers });
    this.outboxDurable.set(1);
    this.outboxMemoryOnly.set(0);
    this.setCameraState('idle');
    this.brokerConnected.set(0);
    this.outboxDepth.set(0);
  }

  setBackend(backend: string): void {
    this.inferenceBackend.reset();
    this.inferenceBackend.set({ backend }, 1);
  }

  setModelInfo(model: ModelInfoLabels): void {
    this.modelInfo.reset();
    this.modelInfo.set({ ...model }, 1);
  }

  setCameraState(state: CameraStateName): void {
    for (const s of CAMERA_STATES) this.cameraState.set({ state: s }, s === state ? 1 : 0);
  }

  setBrokerConnected(connected: boolean): void {
    this.brokerConnected.set(connected ? 1 : 0);
  }

  /** Stage timings of one processed frame, e.g. `PipelineEvent.stages` (keys ending in `Ms`). */
  observeStages(stages: object): void {
    for (const [k, v] of Object.entries(stages)) {
      if (typeof v === 'number' && Number.isFinite(v)) this.stageLatency.observe({ stage: k.replace(/Ms$/, '') }, v);
    }
  }

  /**
   * Moves the counters up to cumulative totals kept elsewhere (pipeline counters, capture stats), so the
   * caller need not count twice. A total that went down (its owner was re-created) restarts from there.
   */
  syncTotals(t: Totals): void {
    const step = (key: string, total: number | undefined, inc: (n: number) => void) => {
      if (total === undefined) return;
      const last = this.seen.get(key) ?? 0;
      const delta = total >= last ? total - last : total;
      if (delta > 0) inc(delta);
      this.seen.set(key, total);
    };
    step('captured', t.captured, (n) => this.framesCaptured.inc(n));
    step('processed', t.processed, (n) => this.framesProcessed.inc(n));
    step('dropped', t.dropped, (n) => this.framesDropped.inc(n));
    step('restarts', t.cameraRestarts, (n) => this.cameraRestarts.inc(n));
    for (const [reason, total] of Object.entries(t.rejected ?? {})) step(`rejected:${reason}`, total, (n) => this.qualityRejections.inc({ reason }, n));
    for (const [reason, total] of Object.entries(t.outboxDropped ?? {})) step(`outbox:${reason}`, total, (n) => this.outboxDropped.inc({ reason }, n));
    if (t.outboxDepth !== undefined) this.outboxDepth.set(t.outboxDepth);
    step('outboxWriteFailures', t.outboxWriteFailures, (n) => this.outboxWriteFailures.inc(n));
    if (t.outboxDurable !== undefined) this.outboxDurable.set(t.outboxDurable ? 1 : 0);
    if (t.outboxMemoryOnly !== undefined) this.outboxMemoryOnly.set(t.outboxMemoryOnly);
  }

  /** Runs `hook` before every scrape (e.g. `() => metrics.syncTotals(...)`), so totals are fresh without a timer. */
  beforeScrape(hook: () => void): () => void {
    this.scrapeHooks.add(hook);
    return () => this.scrapeHooks.delete(hook);
  }

  text(): Promise<string> {
    for (const h of this.scrapeHooks) h();
    return this.registry.metrics();
  }
}
