import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { connect } from 'mqtt';
import { afterEach, describe, expect, it } from 'vitest';
import { mosquittoConfig } from '../../src/publish/child_mosquitto.js';
import { mosquittoAvailable, mosquittoSkipReason } from './helpers/mosquitto.js';
import { createPublisher, startEmbeddedBroker, validateLesionMessage, type EmbeddedBroker } from '../../src/publish/index.js';
import { MODEL, makeEvent } from './helpers/fixtures.js';
import { collect, until } from './helpers/mqtt_collector.js';

describe('embedded aedes broker', () => {
  const cleanup: (() => Promise<unknown>)[] = [];
  afterEach(async () => {
    for (const f of cleanup.splice(0).reverse()) await f().catch(() => undefined);
  });
  async function broker(opts: Parameters<typeof startEmbeddedBroker>[0] = { tcpPort: 0, wsPort: 0 }): Promise<EmbeddedBroker> {
    const b = await startEmbeddedBroker({ engine: 'aedes', ...opts });
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
    const again = await startEmbeddedBroker({ engine: 'aedes', tcpPort: b.tcpPort, wsPort: b.wsPort!, fallbackToFreePort: false });
    expect(again.tcpPort).toBe(b.tcpPort);
    await again.close();
  });
});

if (!mosquittoAvailable) console.warn(mosquittoSkipReason);

/** Running (a zombie waiting for a reaper counts as gone). */
const alive = (pid: number) => {
  try {
    return !/^\d+ \(.*\) [ZX]/.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
};

describe('embedded broker: child Mosquitto (the default where it is installed)', () => {
  const cleanup: (() => Promise<unknown>)[] = [];
  afterEach(async () => {
    for (const f of cleanup.splice(0).reverse()) await f().catch(() => undefined);
  });
  async function tmp(): Promise<string> {
    const d = await mkdtemp(join(tmpdir(), 'emb-mosq-'));
    cleanup.push(() => rm(d, { recursive: true, force: true }));
    return d;
  }

  it('the generated config: loopback listeners for MQTT and WebSocket, persistence in the data dir', () => {
    const conf = mosquittoConfig({ host: '127.0.0.1', tcpPort: 1883, wsPort: 9001, dataDir: '/var/lib/dermstream/broker' });
    expect(conf).toMatch(/^listener 1883 127\.0\.0\.1\nprotocol mqtt$/m);
    expect(conf).toMatch(/^listener 9001 127\.0\.0\.1\nprotocol websockets$/m);
    expect(conf).toMatch(/^persistence true$/m);
    expect(conf).toMatch(/^persistence_location \/var\/lib\/dermstream\/broker\/$/m);
    expect(mosquittoConfig({ host: '127.0.0.1', tcpPort: 1, wsPort: null, dataDir: '/x' })).not.toMatch(/websockets/);
  });

  it('falls back to aedes where the binary is absent, and says so', async () => {
    const infos: string[] = [];
    const b = await startEmbeddedBroker({ tcpPort: 0, wsPort: false, mosquittoBin: '/nonexistent/mosquitto', logger: { info: (_o, m) => infos.push(m ?? ''), warn() {} } });
    cleanup.push(() => b.close());
    expect(b.engine).toBe('aedes');
    expect(b.protocols).toEqual([4]);
    expect(infos.join('\n')).toMatch(/mosquitto not installed, using aedes/);
  });

  it.skipIf(!mosquittoAvailable)('MQTT 5 on TCP and WebSocket: the publisher connects with 5, a browser-style WebSocket client receives', async () => {
    const dataDir = await tmp();
    const b = await startEmbeddedBroker({ tcpPort: 0, wsPort: 0, dataDir });
    cleanup.push(() => b.close());
    expect(b.engine).toBe('mosquitto');
    expect(b.protocols).toEqual([4, 5]);
    expect(await readFile(join(dataDir, 'mosquitto.conf'), 'utf8')).toMatch(/listener \d+ 127\.0\.0\.1/);
    const ws = await collect(b.wsUrl!, 'dermstream/#', { protocolVersion: 5 });
    cleanup.push(() => ws.close());
    const stateDir = await tmp();
    const pub = await createPublisher({ brokerUrl: b.url, deviceId: 'emb-5', stateDir, model: MODEL, reconnectPeriodMs: 100 });
    cleanup.push(() => pub.close({ timeoutMs: 500 }));
    await until(() => pub.isConnected(), 5000, 'connected');
    expect(pub.stats().protocolVersion).toBe(5);
    pub.publishEvent(makeEvent({ seq: 0, state: 'stable', label: 'benign' }));
    await ws.waitFor((m) => m.some((x) => x.topic === pub.topics.lesion), 5000, 'lesion over WebSocket');
    expect(validateLesionMessage(ws.on(pub.topics.lesion)[0]!.json).ok).toBe(true);
  });

  it.skipIf(!mosquittoAvailable)('persistence in the data dir: a persistent session\'s queued message survives a broker restart', async () => {
    const dataDir = await tmp();
    const b1 = await startEmbeddedBroker({ tcpPort: 0, wsPort: false, dataDir });
    const sub = connect(b1.url, { protocolVersion: 5, clientId: 'persist-sub', clean: false, properties: { sessionExpiryInterval: 600 }, reconnectPeriod: 0 });
    await new Promise<void>((r) => sub.once('connect', () => sub.subscribe('q/t', { qos: 1 }, () => r())));
    await new Promise<void>((r) => sub.end(false, {}, () => r()));
    const p = connect(b1.url, { protocolVersion: 5, reconnectPeriod: 0 });
    await new Promise<void>((r) => p.once('connect', () => p.publish('q/t', 'kept', { qos: 1 }, () => r())));
    await new Promise<void>((r) => p.end(false, {}, () => r()));
    await b1.close();
    expect(alive(b1.pid!)).toBe(false);
    const b2 = await startEmbeddedBroker({ tcpPort: b1.tcpPort, wsPort: false, dataDir, fallbackToFreePort: false });
    cleanup.push(() => b2.close());
    const back = connect(b2.url, { protocolVersion: 5, clientId: 'persist-sub', clean: false, properties: { sessionExpiryInterval: 600 }, reconnectPeriod: 0 });
    cleanup.push(() => new Promise<void>((r) => back.end(true, {}, () => r())));
    const got = await new Promise<string>((resolve, reject) => {
      const t = setTimeout(() => reject(new Error('no queued message after the restart')), 5000);
      back.on('message', (_t, payload) => {
        clearTimeout(t);
        resolve(payload.toString());
      });
    });
    expect(got).toBe('kept');
  });

  it.skipIf(!mosquittoAvailable)('uses a free port when the default one is taken', async () => {
    const blocker: Server = createServer();
    await new Promise<void>((r) => blocker.listen(0, '127.0.0.1', () => r()));
    cleanup.push(() => new Promise((r) => blocker.close(r)));
    const taken = (blocker.address() as { port: number }).port;
    const warnings: object[] = [];
    const b = await startEmbeddedBroker({ tcpPort: taken, wsPort: false, dataDir: await tmp(), logger: { info() {}, warn: (o) => warnings.push(o) } });
    cleanup.push(() => b.close());
    expect(b.engine).toBe('mosquitto');
    expect(b.tcpPort).not.toBe(taken);
    expect(warnings).toHaveLength(1);
  });

  it.skipIf(!mosquittoAvailable)('dies with the service: SIGKILL of the process that started it takes the child Mosquitto down too', async () => {
    const dataDir = await tmp();
    const script = `import { startEmbeddedBroker } from ${JSON.stringify(new URL('../../src/publish/embedded_broker.ts', import.meta.url).pathname)};
const b = await startEmbeddedBroker({ tcpPort: 0, wsPort: false, dataDir: ${JSON.stringify(dataDir)} });
process.stdout.write(JSON.stringify({ pid: b.pid }) + '\\n');
setInterval(() => {}, 1000);`;
    const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
    cleanup.push(async () => child.kill('SIGKILL'));
    const pid = await new Promise<number>((resolve, reject) => {
      let buf = '';
      child.stdout!.on('data', (d) => {
        buf += d;
        if (buf.includes('\n')) resolve(JSON.parse(buf.split('\n')[0]!).pid);
      });
      child.once('exit', (code) => reject(new Error(`child exited ${code}`)));
    });
    expect(alive(pid)).toBe(true);
    child.kill('SIGKILL');
    await until(() => !alive(pid), 5000, 'mosquitto to exit after its parent was killed');
  });
});
