/**
 * Outbox → broker: sends the durable lesion records oldest first, at most `window` unacknowledged (min of
 * `maxInFlight` and the broker's MQTT 5 Receive Maximum), removes a record on its PUBACK, and re-sends a refused
 * one after the project's back-off. Never overtakes a record that is not on disk yet.
 *
 * A PUBACK with reason 135 (Not authorized: the broker's ACL denies this client the topic) is counted and raised as
 * a `publish-denied` problem on the connection, naming the topic; the record stays in the outbox and is retried
 * (capped at 30 s) until an acknowledgement on that topic clears the problem. Under MQTT 3.1.1 a broker has no way
 * to say this (Mosquitto acknowledges and drops the message), which is one reason the publisher prefers MQTT 5.
 */
import type { IClientPublishOptions, MqttClient } from 'mqtt';
import { backoffDelayMs, backoffPolicy } from '../shared/backoff.js';
import type { Logger } from '../types/logger.js';
import type { MqttConnection } from './connection.js';
import type { Outbox, OutboxRecord } from './outbox.js';

/** MQTT 5 reason code 0x87. */
export const NOT_AUTHORIZED = 135;

const RETRY = backoffPolicy({ initialMs: 500, maxMs: 30_000, factor: 2, jitter: 0.2 });

export interface PumpCounters {
  published: number;
  replayed: number;
  retried: number;
  /** PUBACKs with reason 135 (the broker's ACL denied the topic). */
  denied: number;
  inFlightMax: number;
}

export class OutboxPump {
  private readonly inflight = new Map<number, { gen: number }>();
  private readonly retry = new Map<number, { attempts: number; at: number }>();
  private retryTimer: NodeJS.Timeout | null = null;
  private readonly sentRecovered = new Set<number>();
  private readonly drainWaiters = new Set<() => void>();
  private gen = 0;
  private stopped = false;
  readonly counters: PumpCounters = { published: 0, replayed: 0, retried: 0, denied: 0, inFlightMax: 0 };

  constructor(
    private readonly outbox: Outbox,
    private readonly conn: MqttConnection,
    private readonly maxInFlight: number,
    private readonly log: Logger,
    private readonly who: string,
  ) {
    outbox.onDurable(() => this.pump());
    outbox.onDrop((rec) => this.retry.delete(rec.id));
    conn.onConnect(() => {
      // A new connection carries nothing over: what the old one had in flight is sent again from the outbox.
      this.gen++;
      this.inflight.clear();
      this.pump();
    });
  }

  get inFlight(): number {
    return this.inflight.size;
  }

  window(): number {
    const rm = (this.conn.mqtt as unknown as { serverProperties?: { receiveMaximum?: number } } | null)?.serverProperties?.receiveMaximum;
    return Math.max(1, Math.min(this.maxInFlight, rm ?? Number.POSITIVE_INFINITY));
  }

  pump(): void {
    const client = this.conn.mqtt;
    if (!client || !this.conn.isConnected() || this.stopped) return;
    const window = this.window();
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
    const token = { gen: this.gen };
    this.inflight.set(rec.id, token);
    this.counters.inFlightMax = Math.max(this.counters.inFlightMax, this.inflight.size);
    if (isRetry) this.counters.retried++;
    if (rec.recovered && !this.sentRecovered.has(rec.id)) {
      this.sentRecovered.add(rec.id);
      this.counters.replayed++;
    }
    const options: IClientPublishOptions = { qos: 1, retain: false };
    if (this.conn.protocolVersion === 5) {
      options.properties = { contentType: 'application/json', payloadFormatIndicator: true, userProperties: { messageId: rec.messageId } };
    }
    client.publish(rec.topic, rec.payload, options, (err) => {
      if (this.inflight.get(rec.id) === token) this.inflight.delete(rec.id);
      if (!err) {
        if (this.outbox.get(rec.id)) this.counters.published++;
        this.outbox.ack(rec.id);
        this.retry.delete(rec.id);
        this.sentRecovered.delete(rec.id);
        if (this.conn.info.problem?.kind === 'publish-denied' && this.conn.info.problem.topic === rec.topic) {
          this.log.info({ topic: rec.topic }, 'publish: the broker accepts lesion messages on this topic again');
          this.conn.setProblem('publish-denied', null);
        }
      } else if (this.outbox.get(rec.id) && token.gen === this.gen && !this.stopped) {
        const attempts = (this.retry.get(rec.id)?.attempts ?? 0) + 1;
        const delay = backoffDelayMs(attempts, RETRY);
        this.retry.set(rec.id, { attempts, at: Date.now() + delay });
        if ((err as { code?: unknown }).code === NOT_AUTHORIZED) {
          this.counters.denied++;
          const message = `the broker's ACL denies ${this.who} publishing to ${rec.topic} (PUBACK 135 Not authorized): grant write on that topic in the broker's ACL (or fix mqtt.topicPrefix / deviceId); lesion messages wait in the outbox`;
          if (this.conn.info.problem?.kind !== 'publish-denied') this.log.error({ topic: rec.topic, messageId: rec.messageId, denied: this.counters.denied }, `publish: ${message}`);
          this.conn.setProblem('publish-denied', { kind: 'publish-denied', message, topic: rec.topic });
        } else {
          this.log.warn({ messageId: rec.messageId, err: err.message, attempts, retryInMs: delay }, 'publish: lesion message not accepted; will retry');
        }
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

  /** Resolves true once every record appended so far is acknowledged, false at the timeout. */
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

  /** No more retries scheduled (the publisher is closing; what is left stays in the outbox). */
  stop(): void {
    this.stopped = true;
    if (this.retryTimer) clearTimeout(this.retryTimer);
  }
}
