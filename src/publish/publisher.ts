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
 * - `session/set` (subscribed, retained): the examination context carried on every lesion/live message from then on
 *              (`parseSessionSet`); an invalid payload is logged with the reason and ignored.
 *
 * Protocol: MQTT 5 first; if the broker refuses it (CONNACK "unacceptable protocol version", as aedes — the embedded
 * broker — does), the publisher reconnects with 3.1.1 and stays with it.
 *
 * Parts: `connection.ts` (the client, reconnects with back-off, refusals), `outbox_pump.ts` (outbox → broker,
 * PUBACKs, retries, ACL denials), `connect_options.ts` (the one options builder); this file is the facade over them.
 * While the connection reports a problem (credentials refused, topic denied) the status is `degraded` with it.
 */
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import type { IClientPublishOptions, MqttClient } from 'mqtt';
import type { Observable } from 'rxjs';
import type { Frame, LesionEvent } from '../types/index.js';
import type { Logger } from '../types/logger.js';
import { deviceTopics, sessionSetTopicOf } from '../types/topics.js';
import { MqttConnection, type ConnectionInfo } from './connection.js';
import type { MqttConnectSettings, MqttTlsSettings } from './connect_options.js';
import { OutboxPump } from './outbox_pump.js';
import { DEFAULT_LESION_POLICY, publishedLesionOf, shouldPublishLesion, type LesionPolicyParams, type LesionPublishReason, type PublishedLesion } from './lesion_policy.js';
import { NO_SESSION, toLesionMessage, toStatusMessage, type StatusFields } from './lesion_message.js';
import { parseSessionSet } from './session_set.js';
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
  type SessionContext,
} from './wire_message.js';


/** How long after the SUBACK of `session/set` a retained command is still waited for at start-up. */
const SESSION_RETAINED_GRACE_MS = 100;
export type PublishLogger = Logger;
export type { ConnectionInfo, ConnectionState, DeliveryProblem } from './connection.js';

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
  /** Read at start (first line); ignored when `password` is given. */
  passwordFile?: string;
  /** CA, client certificate/key (+ passphrase), `rejectUnauthorized: false` only with `allowInsecureTls: true`. */
  tls?: MqttTlsSettings;
  /** How the operator names these settings, for messages (default: the config keys, mqtt.username …). */
  settingKeys?: MqttConnectSettings['keys'];
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
  readonly topics: { status: string; lesion: string; live: string; snapshot: string; metrics: string; sessionSet: string };
  /**
   * Feed every LesionEvent (one per processed frame) and, optionally, its frame (for snapshots). Synchronous and
   * never throws; the returned `lesion.durable` resolves once the lesion message is on disk.
   */
  /** Resolves true once the retained `session/set` (or its absence) is known after the first connect, false after `timeoutMs`. */
  whenSessionSettled(timeoutMs: number): Promise<boolean>;
  publishEvent(event: LesionEvent, frame?: Frame): PublishEventResult;
  /** Sets the retained status (kept and re-published on every reconnect). Resolves when the broker has it, or at once when offline. */
  publishStatus(fields: Omit<StatusFields, 'lastWill'>): Promise<void>;
  publishMetrics(service?: MetricsMessage['service']): Promise<void>;
  /** The examination context in force (from the retained `session/set`), carried on every lesion/live message. */
  session(): SessionContext;
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

const ID_RE = /^[A-Za-z0-9._-]{1,64}$/;
const zeroCounts = (): PerTopicCounts => ({ lesion: 0, live: 0, snapshot: 0, status: 0, metrics: 0 });

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

class MqttPublisher implements Publisher {
  readonly deviceId: string;
  readonly sessionId: string;
  readonly topics: Publisher['topics'];
  readonly connection$: Observable<ConnectionInfo>;

  private model: ModelIdentity;
  private readonly conn: MqttConnection;
  private readonly pumpOut: OutboxPump;

  private readonly policy: LesionPolicyParams;
  private lastLesion: PublishedLesion | null = null;
  private lesionSeq = 0;
  private liveSeq = 0;
  private snapshotSeq = 0;
  private readonly liveGate: RateGate;
  private readonly snapshotGate: RateGate;
  private encoding = false;

  private status: Omit<StatusFields, 'lastWill'> = { state: 'online' };
  private sessionContext: SessionContext = NO_SESSION;
  private metricsTimer: NodeJS.Timeout | null = null;
  private closing = false;

  private readonly counters = {
    published: zeroCounts(),
    dropped: zeroCounts(),
    invalid: 0,
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
    this.topics = { ...deviceTopics(opts.prefix ?? 'dermstream', opts.deviceId), sessionSet: sessionSetTopicOf(opts.prefix ?? 'dermstream', opts.deviceId) };
    this.policy = { ...DEFAULT_LESION_POLICY, heartbeatMs: opts.rates?.heartbeatMs ?? DEFAULT_LESION_POLICY.heartbeatMs };
    this.liveGate = new RateGate(opts.rates?.liveMaxHz ?? 10);
    this.snapshotGate = new RateGate(opts.rates?.snapshotMaxHz ?? 2);
    const clientId = opts.clientId ?? `dermstream-${opts.deviceId}`;
    this.conn = new MqttConnection({
      settings: {
        brokerUrl: opts.brokerUrl,
        username: opts.username,
        password: opts.password,
        passwordFile: opts.passwordFile,
        tls: opts.tls,
        keepaliveS: opts.keepaliveS,
        connectTimeoutMs: opts.connectTimeoutMs,
        reconnectPeriodMs: opts.reconnectPeriodMs,
        keys: opts.settingKeys,
      },
      clientId,
      protocolVersion: opts.protocolVersion ?? 'auto',
      will: (protocolVersion) => ({
        topic: this.topics.status,
        payload: Buffer.from(
          JSON.stringify(toStatusMessage({ state: 'offline', reason: 'connection lost', lastWill: true }, { deviceId: this.deviceId, sessionId: this.sessionId, atMs: Date.now(), protocolVersion })),
        ),
        qos: 1,
        retain: true,
        ...(protocolVersion === 5 ? { properties: { contentType: 'application/json' } } : {}),
      }),
      logger: log,
    });
    this.connection$ = this.conn.state$;
    for (const w of this.conn.warnings) log.warn({ brokerUrl: this.conn.url }, `publish: ${w}`);
    this.pumpOut = new OutboxPump(outbox, this.conn, Math.max(1, opts.outbox?.maxInFlight ?? 50), log, opts.username !== undefined ? `user "${opts.username}"` : `client "${clientId}"`);
    const listening = new WeakSet<MqttClient>();
    this.conn.onConnect(() => {
      if (!this.closing) void this.sendStatus();
      // Every connect (clean session, no resubscribe): the broker then hands over the retained command.
      const client = this.conn.mqtt;
      if (!client) return;
      if (!listening.has(client)) {
        listening.add(client);
        client.on('message', (topic, payload) => {
          if (topic === this.topics.sessionSet && client === this.conn.mqtt) this.applySessionSet(payload);
        });
      }
      client.subscribe(this.topics.sessionSet, { qos: 1 }, (err) => {
        if (err) this.log.warn({ topic: this.topics.sessionSet, err: err.message }, 'publish: could not subscribe to session/set; the examination context cannot be set');
        // A retained command follows the SUBACK on the wire: give it a moment to arrive before calling it settled.
        setTimeout(() => this.settleSession(), SESSION_RETAINED_GRACE_MS).unref();
      });
    });
    // A problem raised or cleared (ACL denial) changes what the status says; re-publish it.
    let lastProblem: string | undefined;
    this.conn.state$.subscribe((c) => {
      const p = c.problem?.message;
      if (p === lastProblem) return;
      lastProblem = p;
      if (this.conn.isConnected() && !this.closing) void this.sendStatus();
    });

    const st = outbox.stats();
    if (st.recovered > 0) log.info({ recovered: st.recovered, bytes: st.bytes }, 'publish: replaying unacknowledged lesion messages from the outbox');

    const interval = opts.rates?.metricsIntervalMs ?? 0;
    if (interval > 0) {
      this.metricsTimer = setInterval(() => void this.publishMetrics(opts.metricsProvider?.()), interval);
      this.metricsTimer.unref();
    }
    this.conn.start();
  }

  private get client(): MqttClient | null {
    return this.conn.mqtt;
  }

  private get protocolVersion(): 4 | 5 {
    return this.conn.protocolVersion;
  }

  private sessionSettledResolve: (() => void) | undefined;
  private readonly sessionSettled = new Promise<void>((resolve) => (this.sessionSettledResolve = resolve));
  private settleSession(): void {
    this.sessionSettledResolve?.();
  }

  /**
   * Resolves once the first connection's `session/set` subscription has delivered the retained context (or shown
   * there is none), or after `timeoutMs` — so that a run's first lesion messages carry the context set before the
   * device started. True when settled, false on the timeout (a broker that is down never holds the device back).
   */
  whenSessionSettled(timeoutMs: number): Promise<boolean> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), timeoutMs)));
    return Promise.race([this.sessionSettled.then(() => true), timeout]).finally(() => clearTimeout(timer));
  }

  private applySessionSet(payload: Buffer): void {
    const r = parseSessionSet(payload);
    if (!r.ok) {
      this.log.warn({ topic: this.topics.sessionSet, reason: r.reason }, `publish: session/set ignored: ${r.reason}`);
      return;
    }
    this.sessionContext = r.session;
    this.settleSession();
    this.log.info({ patientRef: r.session.patientRef, bodySite: r.session.bodySite?.code ?? null }, r.cleared ? 'session: context cleared' : 'session: context set');
  }

  session(): SessionContext {
    return this.sessionContext;
  }

  isConnected(): boolean {
    return this.conn.isConnected();
  }

  flush(timeoutMs: number): Promise<boolean> {
    return this.pumpOut.flush(timeoutMs);
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
        const msg = toLesionMessage(event, { kind: 'lesion', deviceId: this.deviceId, sessionId: this.sessionId, seq, model: this.model, publishedAtMs: wall, session: this.sessionContext });
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

    // An `ended` event is shown on the display too: it passes the live rate limit.
    if ((event.state === 'ended' && this.liveGate.maxHz > 0) || this.liveGate.tryPass(now)) {
      if (this.isConnected() && !this.socketBackedUp()) {
        const seq = this.liveSeq++;
        const msg = toLesionMessage(event, { kind: 'live', deviceId: this.deviceId, sessionId: this.sessionId, seq, model: this.model, publishedAtMs: wall, session: this.sessionContext });
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

  /** The status as set, degraded while the broker refuses us something, with the set-up warnings. */
  private effectiveStatus(): StatusFields {
    const problem = this.conn.info.problem;
    const warnings = [...this.conn.warnings, ...(problem ? [problem.message] : [])];
    const base: StatusFields = problem && this.status.state === 'online' ? { ...this.status, state: 'degraded', reason: problem.message } : { ...this.status };
    return warnings.length ? { ...base, warnings } : base;
  }

  private async sendStatus(fields: StatusFields = this.effectiveStatus()): Promise<void> {
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
    const p = this.pumpOut.counters;
    return {
      connected: this.isConnected(),
      protocolVersion: this.conn.info.protocolVersion,
      connects: this.conn.counters.connects,
      disconnects: this.conn.counters.disconnects,
      refused: this.conn.counters.refused,
      denied: p.denied,
      published: { ...c.published, lesion: p.published },
      dropped: { ...c.dropped },
      invalid: c.invalid,
      outbox: {
        depth: o.depth,
        bytes: o.bytes,
        inFlight: this.pumpOut.inFlight,
        appended: o.appended,
        acked: o.acked,
        recovered: o.recovered,
        replayed: p.replayed,
        retried: p.retried,
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
    return { ...this.metrics(), sessionId: this.sessionId, brokerUrl: this.conn.url, window: this.pumpOut.window(), inFlightMax: this.pumpOut.counters.inFlightMax };
  }

  // ---------------------------------------------------------------- shutdown

  async close(opts: { timeoutMs?: number } = {}): Promise<void> {
    if (this.closing) return;
    const deadline = Date.now() + (opts.timeoutMs ?? 3000);
    this.closing = true;
    if (this.metricsTimer) clearInterval(this.metricsTimer);
    const left = () => Math.max(0, deadline - Date.now());
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
    this.pumpOut.stop();
    const depth = this.outbox.depth;
    // A graceful DISCONNECT (no last will: the status says offline already); forced if the broker does not answer.
    await this.conn.close(left());
    await this.outbox.close();
    if (depth > 0) this.log.warn({ depth }, 'publish: closed with unacknowledged lesion messages; they stay in the outbox for the next start');
    else this.log.info({}, 'publish: closed');
  }
}
