/**
 * A typed, validating subscriber for dermstream lesion (or live) messages: the building block of the EHR bridge and
 * of any other consumer.
 *
 *   const sub = await subscribeLesions({ brokerUrl, group: 'ehr', onMessage: async (msg) => { ... } });
 *   ...
 *   await sub.close();
 *
 * Every payload is parsed and validated against `schema/lesion-message.schema.json` (and its device id and kind
 * checked against the topic it came on) before `onMessage` sees it, typed as `LesionMessage`; anything else goes to
 * `onInvalid` with the reason, and is counted.
 *
 * Acknowledgement (QoS 1). The PUBACK of a message is sent only after the promise returned by `onMessage` (or
 * `onInvalid`) resolves, so a consumer that writes the message durably before resolving never loses one to a crash:
 * the broker still holds it and sends it again. How: mqtt.js 5 calls `client.handleMessage(packet, callback)` for
 * every incoming PUBLISH and sends the PUBACK only when `callback` is called; it also stops taking packets off the
 * socket until then (back-pressure, one message at a time). We override `handleMessage` — mqtt.js documents it as
 * the hook to override — and call `callback` after the handler settles. `customHandleAcks` (MQTT 5 only) was the
 * other candidate: it chooses the PUBACK *reason code*, but a PUBACK with an error code still ends the QoS 1 flow, so
 * the broker would not send the message again; it does not help for "not written yet", and it would tie the bridge to
 * MQTT 5.
 *
 * When a handler throws (e.g. the disk is full), the message is not acknowledged: the connection is dropped and
 * re-opened after a back-off so the broker sends it again. For that to survive a restart of the consumer, use a
 * persistent session (`sessionExpirySec > 0` and a stable `clientId`); with a clean session the broker forgets
 * unacknowledged messages when the connection goes.
 *
 * Shared subscriptions (`group`): the topic becomes `$share/<group>/<prefix>/<device>/lesion` and the broker gives
 * each message to one member of the group (MQTT 5; Mosquitto also accepts it from 3.1.1 clients). A duplicate
 * publish of the same message can therefore reach two different members: de-duplication across members needs shared
 * state (see `src/bridge/claims.ts`).
 */
import { connect, type IClientOptions, type IPublishPacket, type MqttClient } from 'mqtt';
import { validateLesionMessage } from '../publish/validate.js';
import type { LesionMessage, LesionMessageKind } from '../publish/wire_message.js';
import { redactUrl } from '../publish/connect_options.js';
import { backoffDelayMs, backoffPolicy } from '../shared/backoff.js';
import { DEFAULT_PREFIX, parseTopic, sharedTopicOf, topicOf } from './topics.js';

export interface LesionMeta {
  topic: string;
  qos: 0 | 1 | 2;
  /** The broker marked it as a re-delivery (an earlier attempt was not acknowledged). */
  dup: boolean;
  retain: boolean;
  bytes: number;
  receivedAtMs: number;
}

export type InvalidReason = 'json' | 'schema' | 'topic';

export interface InvalidLesion {
  reason: InvalidReason;
  /** Human-readable details (schema errors, JSON parse error, topic mismatch). */
  errors: string[];
  topic: string;
  /** The raw payload as UTF-8 (truncated to 64 KiB). */
  payload: string;
  meta: LesionMeta;
}

export interface LesionSubscriptionStats {
  received: number;
  /** Passed to `onMessage` and settled without error. */
  delivered: number;
  invalid: Record<InvalidReason, number>;
  /** `onMessage`/`onInvalid` threw or rejected: not acknowledged, connection recycled for a re-delivery. */
  handlerErrors: number;
  /** Packets acknowledged (QoS 1) or settled (QoS 0). */
  settled: number;
  /** Received with the DUP flag (re-deliveries of unacknowledged messages). */
  redelivered: number;
  connects: number;
  disconnects: number;
}

export interface LesionSubscriptionOptions {
  /** `mqtt://`, `mqtts://`, `ws://`, `wss://`. */
  brokerUrl: string;
  prefix?: string;
  /** One device, or `+` (default) for all. */
  deviceId?: string;
  /** Shared-subscription group: the broker spreads the messages over the members. */
  group?: string;
  /** `lesion` (default, QoS 1, durable) or `live` (QoS 0, per frame). */
  kind?: LesionMessageKind;
  /** Default 1 for `lesion`, 0 for `live`. */
  qos?: 0 | 1;
  /** Called for each valid message; the message is acknowledged when the returned promise resolves. */
  onMessage(msg: LesionMessage, meta: LesionMeta): void | Promise<void>;
  /** Called for each invalid message (it is acknowledged afterwards: re-sending would not make it valid). */
  onInvalid?(bad: InvalidLesion): void | Promise<void>;
  /** Connection and handler errors (the subscription keeps going). */
  onError?(err: Error): void;
  /** Default: random. Use a stable id together with `sessionExpirySec` for a persistent session. */
  clientId?: string;
  /** > 0: persistent session (clean start off) kept this long by the broker after a disconnect. Default 0. */
  sessionExpirySec?: number;
  /** Default 5. */
  protocolVersion?: 4 | 5;
  /** Unacknowledged messages the broker may have in flight to us (MQTT 5 Receive Maximum). Default 32. */
  receiveMaximum?: number;
  /** Reconnect back-off, ms: first delay (default 500) and cap (default 30 000). */
  reconnectMinMs?: number;
  reconnectMaxMs?: number;
  /** Reject the returned promise if the first subscription is not in place within this time (default 30 000; 0 = wait forever). */
  connectTimeoutMs?: number;
  /** Extra mqtt.js options (credentials, TLS). */
  mqtt?: Partial<IClientOptions>;
}

export interface LesionSubscription {
  /** The topic filter subscribed to (with `$share/...` when grouped). */
  readonly topic: string;
  readonly clientId: string;
  readonly client: MqttClient;
  stats(): LesionSubscriptionStats;
  readonly connected: boolean;
  /**
   * Unsubscribes (leaves the share group), handles what the broker had already sent for up to `drainMs` (default
   * 2000) until 150 ms pass without a message, lets the message being handled finish (and be acknowledged), then
   * disconnects. Whatever arrives after that stays unacknowledged with the broker. Idempotent.
   */
  close(opts?: { drainMs?: number }): Promise<void>;
}

const MAX_PAYLOAD_ECHO = 64 * 1024;

export async function subscribeLesions(opts: LesionSubscriptionOptions): Promise<LesionSubscription> {
  const prefix = opts.prefix ?? DEFAULT_PREFIX;
  const kind = opts.kind ?? 'lesion';
  const filter = topicOf(prefix, opts.deviceId ?? '+', kind);
  const topic = opts.group ? sharedTopicOf(opts.group, filter) : filter;
  const qos = opts.qos ?? (kind === 'lesion' ? 1 : 0);
  const protocolVersion = opts.protocolVersion ?? 5;
  const clientId = opts.clientId ?? `dermstream-sub-${Math.random().toString(16).slice(2, 10)}`;
  const persistent = (opts.sessionExpirySec ?? 0) > 0;
  const minDelay = opts.reconnectMinMs ?? 500;
  const maxDelay = opts.reconnectMaxMs ?? 30_000;

  const stats: LesionSubscriptionStats = {
    received: 0,
    delivered: 0,
    invalid: { json: 0, schema: 0, topic: 0 },
    handlerErrors: 0,
    settled: 0,
    redelivered: 0,
    connects: 0,
    disconnects: 0,
  };

  const options: IClientOptions = {
    protocolVersion,
    clientId,
    clean: !persistent,
    keepalive: 30,
    reconnectPeriod: minDelay,
    connectTimeout: 10_000,
    resubscribe: true,
    // mqtt.js gives up for good after one refused CONNACK otherwise; a user added to the broker later must be enough.
    reconnectOnConnackError: true,
    ...(protocolVersion === 5
      ? { properties: { receiveMaximum: opts.receiveMaximum ?? 32, ...(persistent ? { sessionExpiryInterval: opts.sessionExpirySec } : {}) } }
      : {}),
    ...opts.mqtt,
  };
  const client = connect(opts.brokerUrl, options);
  const report = (err: Error) => opts.onError?.(err);

  let closing = false;
  let consecutiveFailures = 0;
  let refusals = 0;
  const retryPolicy = backoffPolicy({ initialMs: minDelay, maxMs: Math.max(minDelay, maxDelay) });
  /** The handler currently running (at most one: mqtt.js waits for our callback before the next packet). */
  let current: Promise<void> | null = null;

  const metaOf = (packet: IPublishPacket, bytes: number): LesionMeta => ({
    topic: packet.topic,
    qos: packet.qos,
    dup: packet.dup === true,
    retain: packet.retain === true,
    bytes,
    receivedAtMs: Date.now(),
  });

  async function handle(packet: IPublishPacket): Promise<void> {
    const buf = typeof packet.payload === 'string' ? Buffer.from(packet.payload) : Buffer.from(packet.payload);
    const meta = metaOf(packet, buf.length);
    stats.received++;
    if (meta.dup) stats.redelivered++;
    const text = buf.toString('utf8');
    const invalid = async (reason: InvalidReason, errors: string[]) => {
      stats.invalid[reason]++;
      await opts.onInvalid?.({ reason, errors, topic: packet.topic, payload: text.slice(0, MAX_PAYLOAD_ECHO), meta });
    };
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch (err) {
      return invalid('json', [(err as Error).message]);
    }
    const v = validateLesionMessage(parsed);
    if (!v.ok) return invalid('schema', v.errors);
    const msg = parsed as LesionMessage;
    const where = parseTopic(prefix, packet.topic);
    if (!where || where.deviceId !== msg.deviceId || where.kind !== msg.kind) {
      return invalid('topic', [`topic ${packet.topic} does not match deviceId ${msg.deviceId} / kind ${msg.kind}`]);
    }
    await opts.onMessage(msg, meta);
    stats.delivered++;
  }

  const defaultHandleMessage = client.handleMessage.bind(client);
  client.handleMessage = (packet, callback) => {
    if (packet.cmd !== 'publish') return defaultHandleMessage(packet, callback);
    if (closing) return; // not acknowledged: the broker keeps it for the session or another group member
    const pump = client.stream;
    const run = handle(packet as IPublishPacket);
    current = run.then(
      () => undefined,
      () => undefined,
    );
    run.then(
      () => {
        consecutiveFailures = 0;
        client.options.reconnectPeriod = minDelay;
        // Acknowledge only on the connection the message came in on; after a reconnect the broker re-sends it.
        if (client.stream !== pump) return;
        stats.settled++;
        callback();
      },
      (err: unknown) => {
        stats.handlerErrors++;
        consecutiveFailures++;
        const delay = backoffDelayMs(consecutiveFailures, retryPolicy);
        client.options.reconnectPeriod = delay;
        report(new Error(`lesion handler failed, message not acknowledged; reconnecting in ${delay} ms for a re-delivery: ${(err as Error)?.message ?? String(err)}`));
        // Never call `callback`: drop the connection so the broker re-sends what we did not acknowledge.
        if (client.stream === pump && !closing) pump.destroy();
      },
    );
  };

  client.on('connect', () => stats.connects++);
  client.on('close', () => {
    if (stats.connects > stats.disconnects) stats.disconnects++;
  });
  client.on('error', (err) => {
    // A refused CONNACK (bad credentials, not authorized): try again later and later, not every `minDelay`.
    const code = (err as { code?: unknown }).code;
    if (typeof code === 'number' && code > 0 && !client.connected) {
      refusals++;
      client.options.reconnectPeriod = backoffDelayMs(refusals, retryPolicy);
    }
    report(err);
  });
  client.on('connect', () => {
    refusals = 0;
    if (consecutiveFailures === 0) client.options.reconnectPeriod = minDelay;
  });

  const subscribed = new Promise<void>((resolve, reject) => {
    const timeoutMs = opts.connectTimeoutMs ?? 30_000;
    const timer = timeoutMs > 0 ? setTimeout(() => reject(new Error(`no subscription to ${topic} on ${redactUrl(opts.brokerUrl)} within ${timeoutMs} ms`)), timeoutMs) : null;
    const trySubscribe = () => {
      client.subscribe(topic, { qos }, (err, granted) => {
        const refused = granted?.find((g) => g.qos > 2);
        if (err || refused) {
          if (timer) clearTimeout(timer);
          reject(err ?? new Error(`broker refused the subscription to ${topic} (reason code ${refused!.qos})`));
          return;
        }
        if (timer) clearTimeout(timer);
        resolve();
      });
    };
    client.once('connect', trySubscribe);
  });
  try {
    await subscribed;
  } catch (err) {
    closing = true;
    await new Promise<void>((r) => client.end(true, {}, () => r()));
    throw err;
  }

  let closed: Promise<void> | null = null;
  return {
    topic,
    clientId,
    client,
    stats: () => structuredClone(stats),
    get connected() {
      return client.connected;
    },
    close(closeOpts: { drainMs?: number } = {}) {
      closed ??= (async () => {
        // Leave the share group first, then finish what the broker already sent us: a broker that keeps routing to
        // an offline member of a persistent session (Mosquitto does) would otherwise hold back this worker's share
        // of new messages until it comes back.
        if (client.connected) {
          await new Promise<void>((r) => {
            const t = setTimeout(r, 2000);
            client.unsubscribe(topic, () => {
              clearTimeout(t);
              r();
            });
          });
          const deadline = Date.now() + (closeOpts.drainMs ?? 2000);
          let last = stats.received;
          let quietSince = Date.now();
          while (Date.now() < deadline && Date.now() - quietSince < 150) {
            await new Promise((r) => setTimeout(r, 25));
            if (stats.received !== last) {
              last = stats.received;
              quietSince = Date.now();
            }
          }
        }
        closing = true;
        if (current) await current;
        await new Promise<void>((r) => client.end(false, {}, () => r()));
      })();
      return closed;
    },
  };
}
