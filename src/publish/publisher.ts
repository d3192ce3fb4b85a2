/**
 * The publisher the service wires: LesionEvents in, MQTT messages out.
 *
 * Topics (`<prefix>/<deviceId>/...`):
 * - `status`   retained, QoS 1: `online` on every connect (or the last status given to `publishStatus`), `offline`
 *              (lastWill: true) as the last will, `offline` (reason `shutdown`) on `close()`.
 * - `lesion`   QoS 1, durable: on every change of state/label/track and a heartbeat (≤ 1/s) while a lesion is in view
 *              (`shouldPublishLesion`). Appended to the outbox (fdatasync) before it is sent, removed on PUBACK,
 *              replayed after reconnects and restarts; at most `maxInFlight` unacknowledged at a time.
 * - `live`     QoS 0, every processed frame, at most `liveMaxHz`; dropped while offline or when the socket backs up.
 * - `snapshot` QoS 0, JSON envelope with a base64 JPEG ≤ `snapshotMaxWidth` px wide, at most `snapshotMaxHz`.
 * - `metrics`  QoS 0, `publishMetrics()` and every `metricsIntervalMs`.
 *
 * Protocol: MQTT 5 first; if the broker refuses it (CONNACK "unacceptable protocol version", as aedes — the embedded
 * broker — does), the publisher reconnects with 3.1.1 and stays with it.
 */
import { readFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { connect, type IClientOptions, type IClientPublishOptions, type MqttClient } from 'mqtt';
import { BehaviorSubject, type Observable } from 'rxjs';
import { backoffDelayMs, backoffPolicy } from '../capture/backoff.js';
import type { Frame, LesionEvent } from '../types/index.js';
import { DEFAULT_LESION_POLICY, publishedLesionOf, shouldPublishLesion, type LesionPolicyParams, type LesionPublishReason, type PublishedLesion } from './lesion_policy.js';
import { toLesionMessage, toStatusMessage, type StatusFields } from './lesion_message.js';
import { Outbox, type OutboxDurability, type OutboxRecord } from './outbox.js';
import { RateGate } from './rate_gate.js';
import { makeThumbnail, toSnapshotMessage } from './snapshot.js';
import { validateLesionMessage, validateMetricsMessage, validateSnapshotMessage, validateStatusMessage, type ValidationResult } from './validate.js';
import {
  METRICS_SCHEMA_ID,
  METRICS_SCHEMA_VERSION,
  type MetricsMessage,
  type MetricValue,
  type ModelIdentity,
  type PerTopicCounts,
  type PublisherMetrics,
  type StatusMessage,
} from './wire_message.js';

/** A pino-compatible subset. */
export interface PublishLogger {
  debug?(obj: object, msg?: string): void;
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
}

const silent: PublishLogger = { info() {}, warn() {}, error() {} };

export interface PublisherOptions {
  /** `mqtt://`, `mqtts://`, `ws://` or `wss://` (with a path for ws, e.g. `ws://host:9001/`). */
  brokerUrl: string;
  /** Topic prefix, default `dermstream`. */
  prefix?: string;
  /** `[A-Za-z0-9._-]{1,64}` (it is a topic level). */
  deviceId: string;
  /** Default: a fresh random id per process (so message ids never repeat across restarts). */
  sessionId?: string;
  /** The outbox lives in `<stateDir>/outbox`. */
  stateDir: string;
  model: ModelIdentity;
  /** Default `dermstream-<deviceId>`. */
  clientId?: string;
  username?: string;
  password?: string;
  tls?: { caFile?: string; certFile?: string; keyFile?: string; rejectUnauthorized?: boolean; servername?: string };
  /** `auto` (default): 5, falling back to 4 (3.1.1) if the broker refuses 5. */
  protocolVersion?: 'auto' | 5 | 4;
  keepaliveS?: number;
  reconnectPeriodMs?: number;
  connectTimeoutMs?: number;
  rates?: {
    /** Default 10; 0 disables `live`. */
    liveMaxHz?: number;
    /** Default 2; 0 disables `snapshot`. */
    snapshotMaxHz?: number;
    snapshotMaxWidth?: number;
    snapshotQuality?: number;
    /** Lesion heartbeat spacing, default 1000 ms. */
    heartbeatMs?: number;
    /** Periodic metrics, default 0 (only on `publishMetrics`). */
    metricsIntervalMs?: number;
  };
  outbox?: { maxBytes?: number; maxAgeMs?: number; segmentBytes?: number; maxInFlight?: number; fsync?: boolean };
  /** Extra values for periodic metrics. */
  metricsProvider?: () => MetricsMessage['service'];
  /** Check every message against its schema (failures are logged and counted; the message is still sent). Default true. */
  validate?: boolean;
  /** Drop live/snapshot while more than this many bytes wait in the socket (default 1 MiB). */
  maxSocketBacklogBytes?: number;
  logger?: PublishLogger;
}

export type ConnectionState = 'connecting' | 'connected' | 'reconnecting' | 'closed';

export interface ConnectionInfo {
  state: ConnectionState;
  /** Protocol level of the current (or last) connection. */
  protocolVersion: 4 | 5 | null;
  /** Wall ms of the change. */
  since: number;
  /** Why the last connection ended or failed, if known. */
  error?: string;
}

export interface PublishEventResult {
  /** The lesion message appended to the outbox, or null when the policy skipped this event. */
  /**
   * `durable` never rejects: true once the message is on disk (fdatasync'ed), false if the disk refused it (then it
   * is still sent from memory but would not survive a restart; logged and visible in the logs as an error).
   */
  lesion: { messageId: string; seq: number; reason: LesionPublishReason; durable: Promise<boolean> } | null;
  live: boolean;
  snapshot: boolean;
}

export interface PublisherStats extends PublisherMetrics {
  sessionId: string;
  brokerUrl: string;
  /** Current limit on unacknowledged lesion messages: min(maxInFlight, the broker's MQTT 5 receive maximum). */
  window: number;
  /** Most lesion messages ever unacknowledged at once. */
  inFlightMax: number;
}

export interface Publisher {
  readonly deviceId: string;
  readonly sessionId: string;
  readonly topics: { status: string; lesion: string; live: string; snapshot: string; metrics: string };
  /**
   * Feed every LesionEvent (one per processed frame) and, optionally, its frame (for snapshots). Synchronous and
   * never throws; the returned `lesion.durable` resolves once the lesion message is on disk.
   */
  publishEvent(event: LesionEvent, frame?: Frame): PublishEventResult;
  /** Sets the retained status (kept and re-published on every reconnect). Resolves when the broker has it, or at once when offline. */
  publishStatus(fields: Omit<StatusFields, 'lastWill'>): Promise<void>;
  publishMetrics(service?: MetricsMessage['service']): Promise<void>;
  /** Model identity for the following messages (e.g. after the backend is chosen). */
  setModel(model: ModelIdentity): void;
  isConnected(): boolean;
  readonly connection$: Observable<ConnectionInfo>;
  stats(): PublisherStats;
  /** Whether the outbox's messages are on disk (false while the state disk refuses writes); see OutboxDurability. */
  durability(): OutboxDurability;
  /** Called when durability is lost or regained. Returns an unsubscribe function. */
  onDurability(listener: (d: OutboxDurability) => void): () => void;
  /** Resolves true once every lesion message appended so far is acknowledged, false at the timeout. */
  flush(timeoutMs: number): Promise<boolean>;
  /** Sends what it can within `timeoutMs` (default 3000), sets status offline, disconnects; the rest stays in the outbox. */
  close(opts?: { timeoutMs?: number }): Promise<void>;
}

/** A lesion message the broker refused: 0.5 s doubling to 30 s (the project's one back-off, no jitter: one device, one broker). */
const PUBLISH_RETRY = backoffPolicy({ initialMs: 500, maxMs: 30_000, jitter: 0 });

const ID_RE = /^[A-Za-z0-9._-]{1,64}$/;
const zeroCounts = (): PerTopicCounts => ({ lesion: 0, live: 0, snapshot: 0, status: 0, metrics: 0 });

/** mqtt.js reports a refused protocol level as CONNACK return code 1 (3.1.1 encoding) or reason code 0x84 (v5). */
function isProtocolRefusal(err: unknown): boolean {
  const code = (err as { code?: unknown }).code;
  return code === 1 || code === 0x84;
}

export async function createPublisher(opts: PublisherOptions): Promise<Publisher> {
  if (!ID_RE.test(opts.deviceId)) throw new Error(`deviceId must match ${ID_RE}: ${JSON.stringify(opts.deviceId)}`);
  const sessionId = opts.sessionId ?? `${new Date().toISOString().replace(/[-:]/g, '').slice(0, 15)}-${randomBytes(4).toString('hex')}`;
  if (!ID_RE.test(sessionId)) throw new Error(`sessionId must match ${ID_RE}: ${JSON.stringify(sessionId)}`);
  const log = opts.logger ?? silent;
  const outbox = await Outbox.open({
    dir: join(opts.stateDir, 'outbox'),
    maxBytes: opts.outbox?.maxBytes,
    maxAgeMs: opts.outbox?.maxAgeMs,
    segmentBytes: opts.outbox?.segmentBytes,
    fsync: opts.outbox?.fsync,
    logger: log,
  });
  return new MqttPublisher(opts, sessionId, outbox, log);
}

interface InFlight {
  gen: number;
}

class MqttPublisher implements Publisher {
  readonly deviceId: string;
  readonly sessionId: string;
  readonly topics: Publisher['topics'];

  private model: ModelIdentity;
  private client: MqttClient | null = null;
  private gen = 0;
  private protocolVersion: 4 | 5;
  private readonly autoProtocol: boolean;
  private readonly connection = new BehaviorSubject<ConnectionInfo>({ state: 'connecting', protocolVersion: null, since: Date.now() });
  readonly connection$: Observable<ConnectionInfo> = this.connection.asObservable();

  private readonly policy: LesionPolicyParams;
  private lastLesion: PublishedLesion | null = null;
  private lesionSeq = 0;
  private liveSeq = 0;
  private snapshotSeq = 0;
  private readonly liveGate: RateGate;
  private readonly snapshotGate: RateGate;
  private encoding = false;

  private readonly inflight = new Map<number, InFlight>();
  private readonly retry = new Map<number, { attempts: number; at: number }>();
  private retryTimer: NodeJS.Timeout | null = null;
  private readonly maxInFlight: number;
  private readonly sentRecovered = new Set<number>();

  private status: Omit<StatusFields, 'lastWill'> = { state: 'online' };
  private metricsTimer: NodeJS.Timeout | null = null;
  private closing = false;
  private closed = false;
  private readonly drainWaiters = new Set<() => void>();

  private readonly counters = {
    connects: 0,
    disconnects: 0,
    published: zeroCounts(),
    dropped: zeroCounts(),
    invalid: 0,
    replayed: 0,
    retried: 0,
    inFlightMax: 0,
  };

  constructor(
    private readonly opts: PublisherOptions,
    sessionId: string,
    private readonly outbox: Outbox,
    private readonly log: PublishLogger,
  ) {
    this.deviceId = opts.deviceId;
    this.sessionId = sessionId;
    this.model = opts.model;
    const base = `${opts.prefix ?? 'dermstream'}/${opts.deviceId}`;
    this.topics = { status: `${base}/status`, lesion: `${base}/lesion`, live: `${base}/live`, snapshot: `${base}/snapshot`, metrics: `${base}/metrics` };
    this.policy = { ...DEFAULT_LESION_POLICY, heartbeatMs: opts.rates?.heartbeatMs ?? DEFAULT_LESION_POLICY.heartbeatMs };
    this.liveGate = new RateGate(opts.rates?.liveMaxHz ?? 10);
    this.snapshotGate = new RateGate(opts.rates?.snapshotMaxHz ?? 2);
    this.maxInFlight = Math.max(1, opts.outbox?.maxInFlight ?? 50);
    this.autoProtocol = (opts.protocolVersion ?? 'auto') === 'auto';
    this.protocolVersion = opts.protocolVersion === 4 ? 4 : 5;

    outbox.onDurable(() => this.pump());
    outbox.onDrop((rec) => this.retry.delete(rec.id));
    const st = outbox.stats();
    if (st.recovered > 0) log.info({ recovered: st.recovered, bytes: st.bytes }, 'publish: replaying unacknowledged lesion messages from the outbox');

    const interval = opts.rates?.metricsIntervalMs ?? 0;
    if (interval > 0) {
      this.metricsTimer = setInterval(() => void this.publishMetrics(opts.metricsProvider?.()), interval);
      this.metricsTimer.unref();
    }
    this.startClient();
  }

  // ---------------------------------------------------------------- connection

  private clientOptions(): IClientOptions {
    const o = this.opts;
    const will: StatusMessage = toStatusMessage(
      { state: 'offline', reason: 'connection lost', lastWill: true },
      { deviceId: this.deviceId, sessionId: this.sessionId, atMs: Date.now(), protocolVersion: this.protocolVersion },
    );
    const options: IClientOptions = {
      protocolVersion: this.protocolVersion,
      clientId: o.clientId ?? `dermstream-${o.deviceId}`,
      clean: true,
      keepalive: o.keepaliveS ?? 30,
      reconnectPeriod: o.reconnectPeriodMs ?? 1000,
      connectTimeout: o.connectTimeoutMs ?? 10_000,
      queueQoSZero: false,
      resubscribe: false,
      username: o.username,
      password: o.password,
      will: {
        topic: this.topics.status,
        payload: Buffer.from(JSON.stringify(will)),
        qos: 1,
        retain: true,
        ...(this.protocolVersion === 5 ? { properties: { contentType: 'application/json' } } : {}),
      },
    };
    if (o.tls) {
      if (o.tls.caFile) options.ca = readFileSync(o.tls.caFile);
      if (o.tls.certFile) options.cert = readFileSync(o.tls.certFile);
      if (o.tls.keyFile) options.key = readFileSync(o.tls.keyFile);
      options.rejectUnauthorized = o.tls.rejectUnauthorized ?? true;
      if (o.tls.servername) options.servername = o.tls.servername;
    }
    return options;
  }

  private setConnection(state: ConnectionState, error?: string): void {
    const cur = this.connection.value;
    if (cur.state === state && cur.error === error) return;
    this.connection.next({ state, protocolVersion: this.client ? this.protocolVersion : cur.protocolVersion, since: Date.now(), ...(error ? { error } : {}) });
  }

  private startClient(): void {
    const gen = ++this.gen;
    // A new client carries nothing over: whatever the old one had in flight is sent again from the outbox.
    this.inflight.clear();
    const options = this.clientOptions();
    const client = connect(this.opts.brokerUrl, options);
    this.client = client;
    const mine = () => this.gen === gen && !this.closed;

    client.on('connect', () => {
      if (!mine()) return;
      this.counters.connects++;
      this.log.info({ brokerUrl: this.opts.brokerUrl, protocolVersion: this.protocolVersion }, 'publish: connected');
      this.setConnection('connected');
      if (!this.closing) void this.sendStatus();
      this.pump();
    });
    client.on('reconnect', () => {
      if (!mine()) return;
      // Refresh the will's timestamp for the next CONNECT.
      const w = this.clientOptions().will;
      if (w && client.options.will) client.options.will.payload = w.payload;
      this.setConnection('reconnecting');
    });
    client.on('close', () => {
      if (!mine()) return;
      if (this.connection.value.state === 'connected') {
        this.counters.disconnects++;
        this.log.warn({ brokerUrl: this.opts.brokerUrl }, 'publish: disconnected; lesion messages wait in the outbox');
      }
      if (!this.closing) this.setConnection('reconnecting', this.connection.value.error);
    });
    client.on('error', (err) => {
      if (!mine()) return;
      if (this.autoProtocol && this.protocolVersion === 5 && isProtocolRefusal(err)) {
        this.log.warn({ brokerUrl: this.opts.brokerUrl, err: err.message }, 'publish: broker refuses MQTT 5, reconnecting with 3.1.1');
        this.protocolVersion = 4;
        client.end(true);
        this.startClient();
        return;
      }
      this.log.warn({ brokerUrl: this.opts.brokerUrl, err: err.message }, 'publish: MQTT error');
      this.setConnection(this.connection.value.state === 'connected' ? 'connected' : 'reconnecting', err.message);
    });
  }

  isConnected(): boolean {
    return !!this.client?.connected && this.connection.value.state === 'connected';
  }

  // ---------------------------------------------------------------- lesion outbox → broker

  private windowSize(): number {
    const rm = (this.client as unknown as { serverProperties?: { receiveMaximum?: number } } | null)?.serverProperties?.receiveMaximum;
    return Math.max(1, Math.min(this.maxInFlight, rm ?? Number.POSITIVE_INFINITY));
  }

  /** Sends durable outbox records, oldest first, keeping at most `windowSize()` unacknowledged. */
  private pump(): void {
    const client = this.client;
    if (!client || !this.isConnected() || this.closed) return;
    const window = this.windowSize();
    const now = Date.now();
    let nextRetry = Number.POSITIVE_INFINITY;
    for (const rec of this.outbox.pending()) {
      if (this.inflight.size >= window) break;
      if (!rec.durable) break; // in order: never overtake a record that is not on disk yet
      if (this.inflight.has(rec.id)) continue;
      const r = this.retry.get(rec.id);
      if (r && r.at > now) {
        nextRetry = Math.min(nextRetry, r.at);
        continue;
      }
      this.send(client, rec, r !== undefined);
    }
    if (nextRetry !== Number.POSITIVE_INFINITY && !this.retryTimer) {
      this.retryTimer = setTimeout(() => {
        this.retryTimer = null;
        this.pump();
      }, Math.max(10, nextRetry - now));
      this.retryTimer.unref();
    }
    this.checkDrained();
  }

  private send(client: MqttClient, rec: OutboxRecord, isRetry: boolean): void {
    const token: InFlight = { gen: this.gen };
    this.inflight.set(rec.id, token);
    this.counters.inFlightMax = Math.max(this.counters.inFlightMax, this.inflight.size);
    if (isRetry) this.counters.retried++;
    if (rec.recovered && !this.sentRecovered.has(rec.id)) {
      this.sentRecovered.add(rec.id);
      this.counters.replayed++;
    }
    const options: IClientPublishOptions = { qos: 1, retain: false };
    if (this.protocolVersion === 5) {
      options.properties = { contentType: 'application/json', payloadFormatIndicator: true, userProperties: { messageId: rec.messageId } };
    }
    client.publish(rec.topic, rec.payload, options, (err) => {
      if (this.inflight.get(rec.id) === token) this.inflight.delete(rec.id);
      if (!err) {
        if (this.outbox.get(rec.id)) this.counters.published.lesion++;
        this.outbox.ack(rec.id);
        this.retry.delete(rec.id);
        this.sentRecovered.delete(rec.id);
      } else if (this.outbox.get(rec.id) && token.gen === this.gen && !this.closing) {
        const attempts = (this.retry.get(rec.id)?.attempts ?? 0) + 1;
        this.retry.set(rec.id, { attempts, at: Date.now() + backoffDelayMs(attempts, PUBLISH_RETRY) });
        this.log.warn({ messageId: rec.messageId, err: err.message, attempts }, 'publish: lesion message not accepted; will retry');
      }
      this.pump();
    });
  }

  private checkDrained(): void {
    if (this.outbox.depth === 0) {
      for (const w of this.drainWaiters) w();
      this.drainWaiters.clear();
    }
  }

  flush(timeoutMs: number): Promise<boolean> {
    if (this.outbox.depth === 0) return Promise.resolve(true);
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.drainWaiters.delete(done);
        resolve(true);
      };
      const timer = setTimeout(() => {
        this.drainWaiters.delete(done);
        resolve(this.outbox.depth === 0);
      }, timeoutMs);
      this.drainWaiters.add(done);
      this.pump();
    });
  }

  // ---------------------------------------------------------------- per-frame

  private check(kind: string, result: ValidationResult, id: string): void {
    if (result.ok) return;
    this.counters.invalid++;
    this.log.error({ kind, id, errors: result.errors.slice(0, 10) }, 'publish: message does not match its schema (sent anyway)');
  }

  private socketBackedUp(): boolean {
    const stream = (this.client as unknown as { stream?: { writableLength?: number } } | null)?.stream;
    return (stream?.writableLength ?? 0) > (this.opts.maxSocketBacklogBytes ?? 1024 * 1024);
  }

  publishEvent(event: LesionEvent, frame?: Frame): PublishEventResult {
    const result: PublishEventResult = { lesion: null, live: false, snapshot: false };
    if (this.closing) {
      this.log.warn({ frame: event.frame.seq }, 'publish: event after close() ignored');
      return result;
    }
    const now = performance.now();
    const wall = Date.now();
    const validate = this.opts.validate ?? true;
    try {
      const d = shouldPublishLesion(this.lastLesion, event, now, this.policy);
      if (d.publish) {
        const seq = this.lesionSeq++;
        const msg = toLesionMessage(event, { kind: 'lesion', deviceId: this.deviceId, sessionId: this.sessionId, seq, model: this.model, publishedAtMs: wall });
        if (validate) this.check('lesion', validateLesionMessage(msg), msg.messageId);
        const appended = this.outbox.append(this.topics.lesion, msg.messageId, JSON.stringify(msg));
        // A disk failure is logged by the outbox; the record is still sent from memory.
        const durable = appended.durable.then(() => true, () => false);
        this.lastLesion = publishedLesionOf(event, now);
        result.lesion = { messageId: msg.messageId, seq, reason: d.reason!, durable };
      }
    } catch (err) {
      // Never let one bad event stop the stream; but this is a verdict lost, so say it loudly.
      this.log.error({ err, frame: event.frame.seq }, 'publish: could not queue the lesion message');
    }

    if (this.liveGate.tryPass(now)) {
      if (this.isConnected() && !this.socketBackedUp()) {
        const seq = this.liveSeq++;
        const msg = toLesionMessage(event, { kind: 'live', deviceId: this.deviceId, sessionId: this.sessionId, seq, model: this.model, publishedAtMs: wall });
        if (validate) this.check('live', validateLesionMessage(msg), msg.messageId);
        this.client!.publish(this.topics.live, JSON.stringify(msg), this.qos0Options(), (err) => {
          if (err) this.counters.dropped.live++;
          else this.counters.published.live++;
        });
        result.live = true;
      } else {
        this.counters.dropped.live++;
      }
    }

    if (frame && this.snapshotGate.maxHz > 0 && this.isConnected()) {
      if (this.encoding || this.socketBackedUp()) {
        // Do not consume the slot: try again on the next frame.
        if (this.encoding) this.counters.dropped.snapshot++;
      } else if (this.snapshotGate.tryPass(now)) {
        result.snapshot = true;
        void this.sendSnapshot(frame);
      }
    }
    return result;
  }

  private qos0Options(): IClientPublishOptions {
    return this.protocolVersion === 5 ? { qos: 0, retain: false, properties: { contentType: 'application/json', payloadFormatIndicator: true } } : { qos: 0, retain: false };
  }

  private async sendSnapshot(frame: Frame): Promise<void> {
    this.encoding = true;
    try {
      const thumb = await makeThumbnail(frame, this.opts.rates?.snapshotMaxWidth ?? 320, this.opts.rates?.snapshotQuality ?? 70);
      if (!this.isConnected() || this.closing) {
        this.counters.dropped.snapshot++;
        return;
      }
      const msg = toSnapshotMessage(frame, thumb, { deviceId: this.deviceId, sessionId: this.sessionId, seq: this.snapshotSeq++, publishedAtMs: Date.now() });
      if (this.opts.validate ?? true) this.check('snapshot', validateSnapshotMessage(msg), String(msg.seq));
      this.client!.publish(this.topics.snapshot, JSON.stringify(msg), this.qos0Options(), (err) => {
        if (err) this.counters.dropped.snapshot++;
        else this.counters.published.snapshot++;
      });
    } catch (err) {
      this.counters.dropped.snapshot++;
      this.log.warn({ err: (err as Error).message, frame: frame.seq }, 'publish: snapshot failed');
    } finally {
      this.encoding = false;
    }
  }

  // ---------------------------------------------------------------- status & metrics

  private publishAsync(topic: string, payload: string, options: IClientPublishOptions): Promise<void> {
    const client = this.client;
    if (!client || !this.isConnected()) return Promise.reject(new Error('not connected'));
    return new Promise((resolve, reject) => client.publish(topic, payload, options, (err) => (err ? reject(err) : resolve())));
  }

  private statusOptions(): IClientPublishOptions {
    return this.protocolVersion === 5 ? { qos: 1, retain: true, properties: { contentType: 'application/json', payloadFormatIndicator: true } } : { qos: 1, retain: true };
  }

  private async sendStatus(fields: StatusFields = this.status): Promise<void> {
    const msg = toStatusMessage(fields, { deviceId: this.deviceId, sessionId: this.sessionId, atMs: Date.now(), protocolVersion: this.protocolVersion });
    if (this.opts.validate ?? true) this.check('status', validateStatusMessage(msg), msg.state);
    try {
      await this.publishAsync(this.topics.status, JSON.stringify(msg), this.statusOptions());
      this.counters.published.status++;
    } catch (err) {
      this.counters.dropped.status++;
      this.log.debug?.({ err: (err as Error).message }, 'publish: status not sent (will be sent on the next connect)');
    }
  }

  publishStatus(fields: Omit<StatusFields, 'lastWill'>): Promise<void> {
    this.status = { ...fields };
    if (!this.isConnected()) return Promise.resolve();
    return this.sendStatus();
  }

  setModel(model: ModelIdentity): void {
    this.model = model;
  }

  async publishMetrics(service?: MetricsMessage['service']): Promise<void> {
    const msg: MetricsMessage = {
      schema: { id: METRICS_SCHEMA_ID, version: METRICS_SCHEMA_VERSION },
      deviceId: this.deviceId,
      sessionId: this.sessionId,
      at: new Date().toISOString(),
      publisher: this.metrics(),
    };
    if (service) msg.service = service as Record<string, MetricValue | Record<string, MetricValue>>;
    if (this.opts.validate ?? true) this.check('metrics', validateMetricsMessage(msg), msg.at);
    try {
      await this.publishAsync(this.topics.metrics, JSON.stringify(msg), this.qos0Options());
      this.counters.published.metrics++;
    } catch {
      this.counters.dropped.metrics++;
    }
  }

  private metrics(): PublisherMetrics {
    const o = this.outbox.stats();
    const c = this.counters;
    return {
      connected: this.isConnected(),
      protocolVersion: this.connection.value.protocolVersion,
      connects: c.connects,
      disconnects: c.disconnects,
      published: { ...c.published },
      dropped: { ...c.dropped },
      invalid: c.invalid,
      outbox: {
        depth: o.depth,
        bytes: o.bytes,
        inFlight: this.inflight.size,
        appended: o.appended,
        acked: o.acked,
        recovered: o.recovered,
        replayed: c.replayed,
        retried: c.retried,
        dropped: o.dropped,
        torn: o.torn,
        segments: o.segments,
        appendLatencyMs: o.appendLatencyMs,
      },
    };
  }

  durability(): OutboxDurability {
    return this.outbox.durability();
  }

  onDurability(listener: (d: OutboxDurability) => void): () => void {
    return this.outbox.onDurability(listener);
  }

  stats(): PublisherStats {
    return { ...this.metrics(), sessionId: this.sessionId, brokerUrl: this.opts.brokerUrl, window: this.windowSize(), inFlightMax: this.counters.inFlightMax };
  }

  // ---------------------------------------------------------------- shutdown

  async close(opts: { timeoutMs?: number } = {}): Promise<void> {
    if (this.closing) return;
    const deadline = Date.now() + (opts.timeoutMs ?? 3000);
    this.closing = true;
    if (this.metricsTimer) clearInterval(this.metricsTimer);
    if (this.retryTimer) clearTimeout(this.retryTimer);
    const left = () => Math.max(0, deadline - Date.now());
    const client = this.client;
    if (this.isConnected()) {
      await this.flush(left());
      const offline = toStatusMessage(
        { ...this.status, state: 'offline', reason: 'shutdown' },
        { deviceId: this.deviceId, sessionId: this.sessionId, atMs: Date.now(), protocolVersion: this.protocolVersion },
      );
      await Promise.race([
        this.publishAsync(this.topics.status, JSON.stringify(offline), this.statusOptions()).catch(() => undefined),
        new Promise((r) => setTimeout(r, left()).unref()),
      ]);
    }
    const depth = this.outbox.depth;
    this.closed = true;
    if (client) {
      // A graceful DISCONNECT (no last will: the status says offline already); forced if the broker does not answer.
      await Promise.race([new Promise<void>((r) => client.end(false, {}, () => r())), new Promise<void>((r) => setTimeout(r, Math.max(100, left())).unref())]);
      if (!client.disconnected) client.end(true);
    }
    await this.outbox.close();
    this.setConnection('closed');
    this.connection.complete();
    if (depth > 0) this.log.warn({ depth }, 'publish: closed with unacknowledged lesion messages; they stay in the outbox for the next start');
    else this.log.info({}, 'publish: closed');
  }
}
