/**
 * Turns what a run reports (capture events, processed events, broker state, the loaded model) into the
 * service's observability: readiness checks, Prometheus metrics, systemd READY/STATUS/WATCHDOG. Its `hooks`
 * have the shape of `RunHooks` in src/service/run.ts, so the wiring is `startRun(opts, log, monitor.hooks)`.
 */
import type { CaptureEvent } from '../../capture/events.js';
import { Notifier, Watchdog, defaultNotifier } from '../notify.js';
import type { ModelIdentity } from '../../types/model_identity.js';
import { HealthState } from './health_state.js';
import { Metrics, type Totals } from './metrics.js';

/** The model identity contract (src/types); the old name stays for callers. */
export type ModelIdentityLike = ModelIdentity;

/** What the monitor needs of a processed event (a `PipelineEvent` has it). */
export interface ProcessedEventLike {
  timings: { latencyMs: number };
  /** `StageTimes`: numeric fields ending in `Ms`. */
  stages?: object;
}

export interface MonitorHooks {
  onFrame(frame: unknown): void;
  onEvent(event: ProcessedEventLike): void;
  onCaptureEvent(event: CaptureEvent): void;
  onBroker(connected: boolean, reason?: string): void;
  /** The outbox's durability changed (the state disk refused a write, or takes them again). */
  onStorage?(d: { durable: boolean; reason?: string; memoryOnly: number; writeFailures: number }): void;
  onReady(info: { model: ModelIdentityLike; source?: string }): void;
}

export interface ServiceMonitorOptions {
  metrics?: Metrics;
  health?: HealthState;
  notifier?: Notifier;
  watchdog?: Watchdog;
  /** Cumulative totals read at every /metrics scrape (pipeline counters, outbox stats). */
  totals?: () => Totals;
  logger?: { info(obj: object, msg?: string): void; warn(obj: object, msg?: string): void };
}

export class ServiceMonitor {
  readonly metrics: Metrics;
  readonly health: HealthState;
  readonly notifier: Notifier;
  readonly watchdog: Watchdog;
  readonly hooks: MonitorHooks;
  private readyNotified = false;
  private readonly offHealth: () => void;

  constructor(private readonly opts: ServiceMonitorOptions = {}) {
    this.metrics = opts.metrics ?? new Metrics();
    this.health = opts.health ?? new HealthState();
    this.notifier = opts.notifier ?? defaultNotifier();
    this.watchdog = opts.watchdog ?? new Watchdog({ notifier: this.notifier });
    if (opts.totals) {
      const totals = opts.totals;
      this.metrics.beforeScrape(() => this.metrics.syncTotals(totals()));
    }
    // systemd's STATUS= line (`systemctl status dermstream`) follows readiness.
    this.offHealth = this.health.onChange(() => {
      if (this.readyNotified) void this.notifier.status(this.health.summary());
    });
    this.hooks = {
      onFrame: () => this.metrics.framesCaptured.inc(),
      onEvent: (e) => this.onEvent(e),
      onCaptureEvent: (e) => this.onCaptureEvent(e),
      onBroker: (connected, reason) => {
        this.health.setBroker(connected, connected ? undefined : (reason ?? 'not connected to the MQTT broker'));
        this.metrics.setBrokerConnected(connected);
      },
      onReady: (info) => this.onReady(info),
      onStorage: (d) => {
        this.health.setStorage(d.durable, d.durable ? undefined : `state disk refuses writes (${d.reason ?? 'unknown error'}): ${d.memoryOnly} lesion messages in memory only`);
        this.metrics.syncTotals({ outboxDurable: d.durable, outboxMemoryOnly: d.memoryOnly, outboxWriteFailures: d.writeFailures });
      },
    };
  }

  /** The model is loaded and verified (also done by onReady). */
  modelLoaded(model: ModelIdentityLike): void {
    this.health.setModel(true);
    this.metrics.setBackend(model.backend);
    this.metrics.setModelInfo({ name: model.name, version: model.version, sha256: model.sha256, quantization: model.quantization });
  }

  /** Before exit (SIGTERM): STOPPING=1, no more watchdog pings. */
  async stopping(reason: string): Promise<void> {
    this.watchdog.stop();
    this.offHealth();
    await this.notifier.stopping(`stopping: ${reason}`);
    await this.notifier.close();
  }

  private onReady(info: { model: ModelIdentityLike; source?: string }): void {
    this.modelLoaded(info.model);
    // Ready = the service runs; a camera or broker that is not there yet is reported (STATUS, /healthz),
    // not a failed start: systemd would otherwise restart the service in a loop while the camera is unplugged.
    this.readyNotified = true;
    void this.notifier.ready(this.health.summary());
    this.watchdog.start();
  }

  private onEvent(e: ProcessedEventLike): void {
    this.watchdog.frameProcessed();
    if (e.stages) this.metrics.observeStages(e.stages);
    if (Number.isFinite(e.timings.latencyMs)) this.metrics.endToEndLatency.observe(e.timings.latencyMs);
  }

  private onCaptureEvent(e: CaptureEvent): void {
    this.metrics.syncTotals({ cameraRestarts: e.restarts });
    switch (e.type) {
      case 'opening':
        this.metrics.setCameraState('opening');
        this.watchdog.expectFrames(false);
        break;
      case 'first-frame':
        this.metrics.setCameraState('streaming');
        this.health.setCamera(true);
        this.watchdog.expectFrames(true);
        break;
      case 'stalled':
        this.health.setCamera(false, `no frame for ${Math.round(e.sinceMs)} ms`);
        break;
      case 'error':
        this.health.setCamera(false, e.error.message);
        if (e.willRetry) this.watchdog.expectFrames(false);
        break;
      case 'reopening':
        this.metrics.setCameraState('waiting');
        this.watchdog.expectFrames(false);
        break;
      case 'skipped':
        this.metrics.inputsSkipped.inc();
        break;
      case 'eos':
        if (e.action === 'complete') {
          this.health.setCamera(false, e.truncated ? 'recording truncated' : 'recording ended');
          this.watchdog.expectFrames(false);
        }
        break;
      case 'closed':
        this.metrics.setCameraState('closed');
        this.watchdog.expectFrames(false);
        if (e.reason !== 'unsubscribed') this.health.setCamera(false, e.reason === 'failed' ? 'camera failed' : 'source ended');
        break;
      default:
        break;
    }
  }
}
