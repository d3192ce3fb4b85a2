import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { createPublisher, startEmbeddedBroker, validateLesionMessage, type EmbeddedBroker } from '../../src/publish/index.js';
import { MODEL, makeEvent } from './helpers/fixtures.js';
import { collect, until } from './helpers/mqtt_collector.js';

describe('embedded aedes broker', () => {
  const cleanup: (() => Promise<unknown>)[] = [];
  afterEach(async () => {
    for (const f of cleanup.splice(0).reverse()) await f().catch(() => undefined);
  });
  async function broker(opts: Parameters<typeof startEmbeddedBroker>[0] = { tcpPort: 0, wsPort: 0 }): Promise<EmbeddedBroker> {
    const b = await startEmbeddedBroker(opts);
    cleanup.push(() => b.close());
    return b;
  }

  it('a TCP client and a WebSocket client both receive what a publisher sends (which falls back to 3.1.1)', async () => {
    const b = await broker();
    expect(b.tcpPort).toBeGreaterThan(0);
    expect(b.wsUrl).toMatch(/^ws:\/\/127\.0\.0\.1:\d+\/$/);
    const tcp = await collect(b.url, 'dermstream/#', { protocolVersion: 4 });
    const ws = await collect(b.wsUrl!, 'dermstream/#', { protocolVersion: 4 });
    cleanup.push(() => tcp.close(), () => ws.close());

    const stateDir = await mkdtemp(join(tmpdir(), 'emb-'));
    cleanup.push(() => rm(stateDir, { recursive: true, force: true }));
    const pub = await createPublisher({ brokerUrl: b.url, deviceId: 'emb-1', stateDir, model: MODEL, reconnectPeriodMs: 100 });
    cleanup.push(() => pub.close({ timeoutMs: 500 }));
    const versions: (number | null)[] = [];
    const sub = pub.connection$.subscribe((c) => versions.push(c.protocolVersion));
    cleanup.push(async () => sub.unsubscribe());
    await until(() => pub.isConnected(), 5000, 'connected');
    expect(pub.stats().protocolVersion).toBe(4); // aedes speaks 3.1.1 only: the v5 CONNECT was refused
    pub.publishEvent(makeEvent({ seq: 0, state: 'stable', label: 'malignant' }));
    for (const c of [tcp, ws]) {
      await c.waitFor((m) => m.some((x) => x.topic === pub.topics.lesion) && m.some((x) => x.topic === pub.topics.status), 5000, 'lesion + status');
      const l = c.on(pub.topics.lesion)[0];
      expect(validateLesionMessage(l.json).ok).toBe(true);
      expect(l.json.label).toBe('malignant');
    }
    expect(ws.on(pub.topics.status)[0].json).toMatchObject({ state: 'online', protocolVersion: 4 });
  });

  it('publishes the last will over the embedded broker when the publisher connection dies', async () => {
    const b = await broker();
    const stateDir = await mkdtemp(join(tmpdir(), 'emb-'));
    cleanup.push(() => rm(stateDir, { recursive: true, force: true }));
    const pub = await createPublisher({ brokerUrl: b.wsUrl!, deviceId: 'emb-2', stateDir, model: MODEL, reconnectPeriodMs: 100 });
    cleanup.push(() => pub.close({ timeoutMs: 500 }));
    await until(() => pub.isConnected(), 5000, 'connected over WebSocket');
    const sub = await collect(b.url, pub.topics.status, { protocolVersion: 4 });
    cleanup.push(() => sub.close());
    await sub.waitFor((m) => m.some((x) => x.json?.state === 'online' && x.retain), 5000, 'retained online');
    (pub as unknown as { client: { stream: { destroy(): void } } }).client.stream.destroy();
    await sub.waitFor((m) => m.some((x) => x.json?.state === 'offline' && x.json.lastWill === true), 5000, 'LWT');
  });

  it('uses a free port when the default one is taken, and reports it', async () => {
    const blocker: Server = createServer();
    await new Promise<void>((r) => blocker.listen(0, '127.0.0.1', () => r()));
    cleanup.push(() => new Promise((r) => blocker.close(r)));
    const taken = (blocker.address() as { port: number }).port;
    const warnings: object[] = [];
    const b = await broker({ tcpPort: taken, wsPort: taken, logger: { info() {}, warn: (o) => warnings.push(o) } });
    expect(b.tcpPort).not.toBe(taken);
    expect(b.wsPort).not.toBe(taken);
    expect(warnings.length).toBe(2);
    const c = await collect(b.url, 'x', { protocolVersion: 4 });
    await c.close();
  });

  it('close() disconnects clients and frees the ports', async () => {
    const b = await broker();
    const c = await collect(b.url, 'x', { protocolVersion: 4, reconnectPeriod: 0 });
    const closed = new Promise<void>((r) => c.client.once('close', () => r()));
    await b.close();
    await closed;
    await c.close();
    const again = await startEmbeddedBroker({ tcpPort: b.tcpPort, wsPort: b.wsPort!, fallbackToFreePort: false });
    expect(again.tcpPort).toBe(b.tcpPort);
    await again.close();
  });
});
