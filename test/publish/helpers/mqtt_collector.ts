/** A subscriber that records what arrives and lets a test await a condition (bounded), instead of sleeping. */
import { connect, type IClientOptions, type MqttClient, type Packet } from 'mqtt';

export interface Received {
  topic: string;
  payload: Buffer;
  json: any;
  retain: boolean;
  qos: number;
  packet: Packet;
}

export interface Collector {
  client: MqttClient;
  messages: Received[];
  on(topic: string): Received[];
  waitFor(pred: (msgs: Received[]) => boolean, timeoutMs?: number, what?: string): Promise<void>;
  close(): Promise<void>;
}

export async function collect(url: string, topics: string | string[], opts: IClientOptions = {}, qos: 0 | 1 = 1): Promise<Collector> {
  const client = connect(url, { reconnectPeriod: 100, connectTimeout: 5000, ...opts });
  client.on('error', () => undefined);
  const messages: Received[] = [];
  const waiters = new Set<() => void>();
  client.on('message', (topic, payload, packet) => {
    let json: any = undefined;
    try {
      json = JSON.parse(payload.toString('utf8'));
    } catch {
      /* not JSON */
    }
    messages.push({ topic, payload, json, retain: (packet as { retain?: boolean }).retain ?? false, qos: (packet as { qos?: number }).qos ?? 0, packet });
    for (const w of [...waiters]) w();
  });
  await new Promise<void>((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`collector: no connection to ${url}`)), 10_000);
    client.once('connect', () => {
      clearTimeout(t);
      client.subscribe(topics, { qos }, (err) => (err ? reject(err) : resolve()));
    });
  });
  return {
    client,
    messages,
    on: (topic) => messages.filter((m) => m.topic === topic),
    waitFor(pred, timeoutMs = 10_000, what = 'condition') {
      if (pred(messages)) return Promise.resolve();
      return new Promise((resolve, reject) => {
        const check = () => {
          if (pred(messages)) {
            clearTimeout(t);
            waiters.delete(check);
            resolve();
          }
        };
        const t = setTimeout(() => {
          waiters.delete(check);
          reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}; got ${messages.length} messages`));
        }, timeoutMs);
        waiters.add(check);
      });
    },
    close: () => new Promise<void>((r) => client.end(true, {}, () => r())),
  };
}

/** Resolves when `pred()` holds, polling on each tick of `intervalMs` (for state that emits no event), bounded. */
export async function until(pred: () => boolean, timeoutMs = 10_000, what = 'condition', intervalMs = 10): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!pred()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}
