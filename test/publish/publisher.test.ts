import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createPublisher, validateLesionMessage, validateStatusMessage, type Publisher, type PublisherOptions } from '../../src/publish/index.js';
import { MODEL, makeEvent, makeFrame } from './helpers/fixtures.js';
import { collect, until, type Collector } from './helpers/mqtt_collector.js';
import { mosquittoAvailable, mosquittoSkipReason, startMosquitto, type Mosquitto } from './helpers/mosquitto.js';

if (!mosquittoAvailable) console.warn(mosquittoSkipReason);

describe.skipIf(!mosquittoAvailable)('publisher against Mosquitto', () => {
  let broker: Mosquitto;
  let stateDir: string;
  const cleanup: (() => Promise<unknown>)[] = [];
  let n = 0;

  beforeAll(async () => {
    broker = await startMosquitto();
  });
  afterAll(async () => {
    await broker?.dispose();
  });
  afterEach(async () => {
    for (const f of cleanup.splice(0).reverse()) await f().catch(() => undefined);
  });

  async function publisher(over: Partial<PublisherOptions> = {}): Promise<Publisher> {
    stateDir = await mkdtemp(join(tmpdir(), 'pub-'));
    const dir = stateDir;
    const p = await createPublisher({
      brokerUrl: broker.url,
      deviceId: `dev-${process.pid}-${n++}`,
      stateDir: dir,
      model: MODEL,
      reconnectPeriodMs: 100,
      ...over,
    });
    cleanup.push(() => rm(dir, { recursive: true, force: true }));
    cleanup.push(() => p.close({ timeoutMs: 1000 }));
    return p;
  }

  async function subscriber(topics: string | string[], protocolVersion: 4 | 5 = 5): Promise<Collector> {
    const c = await collect(broker.url, topics, { protocolVersion });
    cleanup.push(() => c.close());
    return c;
  }

  it('publishes status online (retained, v5), lesion at QoS 1 and live, all valid against the schema', async () => {
    const pub = await publisher({ rates: { liveMaxHz: Number.POSITIVE_INFINITY } });
    const sub = await subscriber(`dermstream/${pub.deviceId}/#`);
    await sub.waitFor((m) => m.some((x) => x.topic === pub.topics.status), 5000, 'status');
    const status = sub.on(pub.topics.status)[0];
    expect(status.json.state).toBe('online');
    expect(validateStatusMessage(status.json).errors).toEqual([]);
    expect(status.json.protocolVersion).toBe(5);

    const states = ['searching', 'tracking', 'tracking', 'stable', 'stable', 'lost'] as const;
    states.forEach((state, i) => pub.publishEvent(makeEvent({ seq: i, state, changed: i > 0 && states[i - 1] !== state })));
    await sub.waitFor((m) => m.filter((x) => x.topic === pub.topics.lesion).length >= 4 && m.filter((x) => x.topic === pub.topics.live).length >= 6, 5000, 'lesion+live');
    const lesion = sub.on(pub.topics.lesion);
    expect(lesion.map((m) => m.json.state)).toEqual(['searching', 'tracking', 'stable', 'lost']);
    expect(lesion.map((m) => m.json.seq)).toEqual([0, 1, 2, 3]);
    for (const m of lesion) {
      expect(m.qos).toBe(1);
      expect(validateLesionMessage(m.json).errors).toEqual([]);
      expect(m.json.kind).toBe('lesion');
      // MQTT 5: the messageId is also a user property (de-dup without parsing) and the content type is set.
      expect((m.packet as any).properties?.userProperties?.messageId).toBe(m.json.messageId);
      expect((m.packet as any).properties?.contentType).toBe('application/json');
    }
    const live = sub.on(pub.topics.live);
    expect(live.length).toBe(6);
    for (const m of live) {
      expect(m.qos).toBe(0);
      expect(validateLesionMessage(m.json).errors).toEqual([]);
    }
    await until(() => pub.stats().outbox.depth === 0, 5000, 'outbox drained');
    expect(pub.stats().published.lesion).toBe(4);
    expect(pub.stats().invalid).toBe(0);
  });

  it('keeps the status retained for late subscribers and sets it offline by LWT when the connection dies', async () => {
    const pub = await publisher();
    await until(() => pub.isConnected(), 5000, 'connected');
    const late = await subscriber(pub.topics.status);
    await late.waitFor((m) => m.length >= 1, 5000, 'retained status');
    expect(late.messages[0].retain).toBe(true);
    expect(late.messages[0].json.state).toBe('online');

    // Kill the TCP connection abruptly (no DISCONNECT): the broker must publish the will.
    (pub as unknown as { client: { stream: { destroy(): void } } }).client.stream.destroy();
    await late.waitFor((m) => m.some((x) => x.json?.state === 'offline'), 5000, 'LWT offline');
    const will = late.messages.find((x) => x.json?.state === 'offline')!;
    expect(will.json.lastWill).toBe(true);
    expect(validateStatusMessage(will.json).errors).toEqual([]);
    // ... and a new subscriber sees it retained (or, if the publisher already came back, online again).
    // The publisher reconnects by itself and says online again.
    await late.waitFor((m) => m.filter((x) => x.json?.state === 'online').length >= 2, 5000, 'online again');
    expect(pub.stats().connects).toBe(2);
    expect(pub.stats().disconnects).toBe(1);
  });

  it('close() flushes, sets the status offline (retained, not as a will) and keeps nothing in the outbox', async () => {
    const pub = await publisher();
    const sub = await subscriber(pub.topics.status);
    await until(() => pub.isConnected(), 5000, 'connected');
    for (let i = 0; i < 5; i++) pub.publishEvent(makeEvent({ seq: i, label: i % 2 ? 'malignant' : 'benign', changed: true }));
    await pub.close({ timeoutMs: 3000 });
    expect(pub.stats().outbox.depth).toBe(0);
    expect(pub.stats().published.lesion).toBe(5);
    await sub.waitFor((m) => m.some((x) => x.json?.state === 'offline'), 5000, 'offline');
    const off = sub.messages.find((x) => x.json?.state === 'offline')!;
    expect(off.json.reason).toBe('shutdown');
    expect(off.json.lastWill).toBeUndefined();
    const after = await subscriber(pub.topics.status);
    await after.waitFor((m) => m.length >= 1, 5000, 'retained offline');
    expect(after.messages[0].json.state).toBe('offline');
  });

  it('rate-limits live to liveMaxHz and sends the lesion heartbeat at most once a second', async () => {
    const pub = await publisher({ rates: { liveMaxHz: 5, heartbeatMs: 1000 } });
    const sub = await subscriber([pub.topics.live, pub.topics.lesion]);
    await until(() => pub.isConnected(), 5000, 'connected');
    // 2 s of a stable verdict at 30 fps, in real time (the gates use the monotonic clock).
    const t0 = performance.now();
    let seq = 0;
    await new Promise<void>((resolve) => {
      const timer = setInterval(() => {
        pub.publishEvent(makeEvent({ seq: seq++, state: 'stable' }));
        if (performance.now() - t0 >= 2000) {
          clearInterval(timer);
          resolve();
        }
      }, 1000 / 30);
    });
    const elapsed = (performance.now() - t0) / 1000;
    await until(() => pub.stats().outbox.depth === 0, 5000, 'lesion acked');
    await sub.waitFor((m) => m.filter((x) => x.topic === pub.topics.live).length >= pub.stats().published.live, 3000, 'live delivered');
    const live = sub.on(pub.topics.live).length;
    const lesion = sub.on(pub.topics.lesion).length;
    expect(live).toBeLessThanOrEqual(Math.ceil(elapsed * 5) + 1);
    expect(live).toBeGreaterThanOrEqual(Math.floor(elapsed * 5) - 2);
    expect(lesion).toBeGreaterThanOrEqual(2); // first + heartbeat(s)
    expect(lesion).toBeLessThanOrEqual(Math.floor(elapsed) + 1);
  });

  it('sends snapshots (JPEG ≤ 320 px in a JSON envelope naming the frame) at most snapshotMaxHz', async () => {
    const pub = await publisher({ rates: { snapshotMaxHz: 1000, liveMaxHz: 0 } });
    const sub = await subscriber(pub.topics.snapshot);
    await until(() => pub.isConnected(), 5000, 'connected');
    const r = pub.publishEvent(makeEvent({ seq: 42 }), makeFrame(42));
    expect(r.snapshot).toBe(true);
    // While the first is encoding, the next frame's snapshot is skipped (at most one encode at a time).
    expect(pub.publishEvent(makeEvent({ seq: 43 }), makeFrame(43)).snapshot).toBe(false);
    await sub.waitFor((m) => m.length >= 1, 5000, 'snapshot');
    const s = sub.messages[0].json;
    expect(s.frame).toMatchObject({ seq: 42, width: 640, height: 480 });
    expect(s.image).toMatchObject({ mime: 'image/jpeg', width: 320, height: 240 });
    expect(Buffer.from(s.image.data, 'base64').subarray(0, 2)).toEqual(Buffer.from([0xff, 0xd8]));
  });

  it('an MQTT 3.1.1 subscriber receives what the v5 publisher sends, including the retained status', async () => {
    const pub = await publisher();
    await until(() => pub.isConnected(), 5000, 'connected');
    const sub = await subscriber(`dermstream/${pub.deviceId}/#`, 4);
    pub.publishEvent(makeEvent({ seq: 0, state: 'stable', label: 'malignant' }));
    await sub.waitFor((m) => m.some((x) => x.topic === pub.topics.lesion) && m.some((x) => x.topic === pub.topics.status), 5000, 'lesion + status over 3.1.1');
    const l = sub.on(pub.topics.lesion)[0];
    expect(l.json.label).toBe('malignant');
    expect(validateLesionMessage(l.json).ok).toBe(true);
    expect(sub.on(pub.topics.status)[0].json.state).toBe('online');
  });

  it('publishes metrics that validate', async () => {
    const pub = await publisher();
    const sub = await subscriber(pub.topics.metrics);
    await until(() => pub.isConnected(), 5000, 'connected');
    await pub.publishMetrics({ fps: 14.2, stages: { inferMs: 41 } });
    await sub.waitFor((m) => m.length >= 1, 5000, 'metrics');
    const { validateMetricsMessage } = await import('../../src/publish/index.js');
    expect(validateMetricsMessage(sub.messages[0].json).errors).toEqual([]);
    expect(sub.messages[0].json.service.fps).toBe(14.2);
  });

  it('reports connection changes on connection$', async () => {
    const pub = await publisher();
    const seen: string[] = [];
    const sub = pub.connection$.subscribe((c) => seen.push(c.state));
    await until(() => seen.includes('connected'), 5000, 'connected');
    await pub.close({ timeoutMs: 1000 });
    sub.unsubscribe();
    expect(seen[seen.length - 1]).toBe('closed');
  });

  it('throughput: lesion messages appended (fsync), sent at QoS 1 and acknowledged', async () => {
    const pub = await publisher({ rates: { liveMaxHz: 0 } });
    const sub = await subscriber(pub.topics.lesion);
    await until(() => pub.isConnected(), 5000, 'connected');
    const total = 2000;
    const t0 = performance.now();
    for (let i = 0; i < total; i++) pub.publishEvent(makeEvent({ seq: i, label: i % 2 ? 'malignant' : 'benign', changed: true }));
    const tQueued = performance.now() - t0;
    expect(await pub.flush(30_000)).toBe(true);
    const tAcked = performance.now() - t0;
    await sub.waitFor((m) => m.length >= total, 10_000, 'all delivered');
    const st = pub.stats();
    console.log(
      `throughput: ${total} lesion messages queued in ${tQueued.toFixed(0)} ms, all PUBACKed after ${tAcked.toFixed(0)} ms ` +
        `(${((total / tAcked) * 1000).toFixed(0)} msg/s end to end, window ${st.window}, max in flight ${st.inFlightMax}); append latency mean ${st.outbox.appendLatencyMs.mean.toFixed(2)} ms, ` +
        `max ${st.outbox.appendLatencyMs.max.toFixed(2)} ms`,
    );
    expect(st.outbox.acked).toBe(total);
    // Mosquitto advertises an MQTT 5 receive maximum of 20: the window follows it (≤ 50 otherwise).
    expect(st.window).toBe(20);
    expect(st.inFlightMax).toBeLessThanOrEqual(20);
    expect(st.inFlightMax).toBeGreaterThan(1);
  });
});
