/**
 * Does the broker speak MQTT 5? The bridge wants MQTT 5 for its shared subscription (`$share/<group>/…`, several
 * workers); aedes (the embedded broker where Mosquitto is absent) speaks 3.1.1 only and refuses an MQTT 5 CONNECT with
 * CONNACK return code 1 "unacceptable protocol version" (measured with aedes 1.2.0). Asking with one short-lived clean
 * connection before subscribing keeps that decision in one place and out of the subscription's reconnect loop.
 *
 * Anything else is not a protocol answer: refused credentials report MQTT 5 at once, a broker that is not up yet
 * after `timeoutMs` (10 s); the subscription's own connect (with its retries and timeout) then says what is wrong.
 */
import { connect, type IClientOptions } from 'mqtt';

/** CONNACK codes that mean "not this protocol version": 3.1.1 return code 1, MQTT 5 reason code 0x84. */
const UNSUPPORTED_VERSION = new Set([1, 0x84]);

export async function brokerSpeaksMqtt5(brokerUrl: string, mqtt: Partial<IClientOptions> = {}, timeoutMs = 10_000): Promise<boolean> {
  const client = connect(brokerUrl, {
    ...mqtt,
    protocolVersion: 5,
    clean: true,
    clientId: `dermstream-probe-${Math.random().toString(16).slice(2, 10)}`,
    reconnectPeriod: 250,
    connectTimeout: Math.min(timeoutMs, 10_000),
  });
  try {
    return await new Promise<boolean>((resolve) => {
      const timer = setTimeout(() => resolve(true), timeoutMs);
      client.once('connect', () => {
        clearTimeout(timer);
        resolve(true);
      });
      client.on('error', (err: Error & { code?: number | string }) => {
        // A numeric code is the broker's CONNACK: it answered, so it speaks the protocol unless it says otherwise
        // (refused credentials are then reported by the subscription's own connect). Socket errors: keep trying.
        if (typeof err.code === 'number') {
          clearTimeout(timer);
          resolve(!UNSUPPORTED_VERSION.has(err.code));
        }
      });
    });
  } finally {
    await new Promise<void>((r) => client.end(true, {}, () => r()));
  }
}

export interface SubscriptionPlan {
  protocolVersion: 4 | 5;
  /** The share group, or null: a plain subscription (this worker alone gets every message). */
  group: string | null;
}

/**
 * MQTT 5 with the share group when the broker has it; otherwise MQTT 3.1.1 and a plain subscription, said loudly:
 * without shared subscriptions a second worker would receive every message too, so only one may run.
 */
export async function planSubscription(
  brokerUrl: string,
  group: string | null,
  mqtt: Partial<IClientOptions> | undefined,
  log: { warn(obj: object, msg?: string): void },
  forced?: 4 | 5,
): Promise<SubscriptionPlan> {
  if (forced === 4) return { protocolVersion: 4, group: null };
  if (forced === 5 || (await brokerSpeaksMqtt5(brokerUrl, mqtt))) return { protocolVersion: 5, group };
  log.warn(
    { brokerUrl, group },
    'bridge: the broker does not speak MQTT 5 (no shared subscriptions): falling back to MQTT 3.1.1 with a plain subscription — run ONE bridge worker against this broker (a second would write every Observation again)',
  );
  return { protocolVersion: 4, group: null };
}
