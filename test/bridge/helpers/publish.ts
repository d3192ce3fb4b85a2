/** A plain MQTT 5 publisher for bridge tests (QoS 1, waits for every PUBACK). */
import { connect, type MqttClient } from 'mqtt';

export async function publisher(
  url: string,
  protocolVersion: 4 | 5 = 5,
): Promise<{ client: MqttClient; send(topic: string, payload: string | object, opts?: { retain?: boolean }): Promise<void>; close(): Promise<void> }> {
  const client = connect(url, { protocolVersion, reconnectPeriod: 100, clientId: `test-pub-${Math.random().toString(16).slice(2)}` });
  client.on('error', () => undefined);
  await new Promise<void>((resolve, reject) => {
    const t = setTimeout(() => reject(new Error('publisher: no connection')), 10_000);
    client.once('connect', () => {
      clearTimeout(t);
      resolve();
    });
  });
  return {
    client,
    send: (topic, payload, opts = {}) =>
      new Promise<void>((resolve, reject) =>
        client.publish(topic, typeof payload === 'string' ? payload : JSON.stringify(payload), { qos: 1, retain: opts.retain === true }, (err) => (err ? reject(err) : resolve())),
      ),
    close: () => new Promise<void>((r) => client.end(false, {}, () => r())),
  };
}

export async function waitUntil(pred: () => boolean | Promise<boolean>, timeoutMs = 20_000, what = 'condition'): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await pred())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}
