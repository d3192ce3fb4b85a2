import { Writable } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import { HealthState, Metrics, startHealthServer, type HealthServer } from '../../src/service/health/index.js';
import { createLogger } from '../../src/service/logging.js';

/**
 * A strict reader of the Prometheus text exposition format (0.0.4): every line is a comment (# HELP / # TYPE)
 * or a sample `name{label="value",...} number`; every sample belongs to a family declared by # TYPE; counters
 * end in _total; histogram buckets are cumulative and end with le="+Inf" equal to _count.
 */
interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}
function parsePrometheus(text: string): { types: Map<string, string>; samples: Sample[] } {
  const types = new Map<string, string>();
  const samples: Sample[] = [];
  const NAME = '[a-zA-Z_:][a-zA-Z0-9_:]*';
  const sampleRe = new RegExp(`^(${NAME})(?:\\{(.*)\\})?\\s+(\\S+)(?:\\s+-?\\d+)?$`);
  const labelRe = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"(,|$)/y;
  for (const [i, line] of text.split('\n').entries()) {
    if (line === '') continue;
    if (line.startsWith('#')) {
      const m = /^# (HELP|TYPE) (\S+) ?(.*)$/.exec(line);
      if (!m) throw new Error(`line ${i + 1}: bad comment: ${line}`);
      if (m[1] === 'TYPE') {
        if (!['counter', 'gauge', 'histogram', 'summary', 'untyped'].includes(m[3]!)) throw new Error(`line ${i + 1}: bad type ${m[3]}`);
        if (types.has(m[2]!)) throw new Error(`line ${i + 1}: duplicate TYPE for ${m[2]}`);
        types.set(m[2]!, m[3]!);
      }
      continue;
    }
    const m = sampleRe.exec(line);
    if (!m) throw new Error(`line ${i + 1}: not a sample: ${line}`);
    const labels: Record<string, string> = {};
    if (m[2]) {
      labelRe.lastIndex = 0;
      let pos = 0;
      while (pos < m[2].length) {
        labelRe.lastIndex = pos;
        const l = labelRe.exec(m[2]);
        if (!l) throw new Error(`line ${i + 1}: bad labels: ${m[2]}`);
        labels[l[1]!] = l[2]!;
        pos = labelRe.lastIndex;
      }
    }
    // Prometheus reads values with Go's ParseFloat: Inf/NaN case-insensitively (prom-client prints "Nan" for an
    // event-loop lag not yet sampled).
    const isNaNText = /^nan$/i.test(m[3]!);
    const v = /^\+?inf$/i.test(m[3]!) ? Infinity : /^-inf$/i.test(m[3]!) ? -Infinity : isNaNText ? NaN : Number(m[3]);
    if (Number.isNaN(v) && !isNaNText) throw new Error(`line ${i + 1}: bad value ${m[3]}`);
    const family = [...types.keys()].find((f) => m[1] === f || (['histogram', 'summary'].includes(types.get(f)!) && /^(.*)_(bucket|sum|count)$/.exec(m[1]!)?.[1] === f));
    if (!family) throw new Error(`line ${i + 1}: sample ${m[1]} has no # TYPE`);
    samples.push({ name: m[1]!, labels, value: v });
  }
  for (const [name, type] of types) if (type === 'counter' && !name.endsWith('_total')) throw new Error(`counter ${name} does not end in _total`);
  return { types, samples };
}

const get = (samples: Sample[], name: string, labels: Record<string, string> = {}) =>
  samples.find((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v))?.value;

describe('/healthz, /readyz, /livez, /metrics', () => {
  let server: HealthServer | undefined;
  afterEach(async () => {
    await server?.close();
    server = undefined;
  });

  it('turns not-ready when the broker or the camera goes away, and ready again when they are back', async () => {
    const health = new HealthState();
    server = await startHealthServer({ port: 0, health, metrics: new Metrics() });
    const probe = async (route: string) => {
      const r = await fetch(`${server!.url}${route}`);
      return { status: r.status, body: (await r.json()) as { live: boolean; ready: boolean; checks: Record<string, { ok: boolean; reason?: string }> } };
    };

    let r = await probe('/healthz');
    expect(r.status).toBe(503);
    expect(r.body).toMatchObject({ live: true, ready: false, checks: { camera: { ok: false }, model: { ok: false }, broker: { ok: false } } });
    expect((await probe('/livez')).status).toBe(200);

    health.setModel(true);
    health.setCamera(true);
    health.setBroker(true);
    r = await probe('/healthz');
    expect(r.status).toBe(200);
    expect(r.body.ready).toBe(true);
    expect((await probe('/readyz')).status).toBe(200);

    health.setBroker(false, 'connection refused');
    r = await probe('/healthz');
    expect(r.status).toBe(503);
    expect(r.body.live).toBe(true);
    expect(r.body.checks.broker).toMatchObject({ ok: false, reason: 'connection refused' });
    expect(r.body.checks.camera.ok).toBe(true);
    expect((await probe('/readyz')).status).toBe(503);
    expect((await probe('/livez')).status).toBe(200);

    health.setBroker(true);
    expect((await probe('/healthz')).status).toBe(200);

    health.setCamera(false, 'no frames for 2000 ms');
    r = await probe('/healthz');
    expect(r.status).toBe(503);
    expect(r.body.checks.camera.reason).toBe('no frames for 2000 ms');
    expect(health.summary()).toBe('not ready: camera (no frames for 2000 ms)');

    health.setCamera(true);
    expect((await probe('/healthz')).status).toBe(200);
  });

  it('HEAD works, other methods are 405, unknown routes 404', async () => {
    server = await startHealthServer({ port: 0, health: new HealthState() });
    expect((await fetch(`${server.url}/livez`, { method: 'HEAD' })).status).toBe(200);
    expect((await fetch(`${server.url}/healthz`, { method: 'POST' })).status).toBe(405);
    expect((await fetch(`${server.url}/nope`)).status).toBe(404);
  });

  it('onChange fires on changes only', () => {
    const h = new HealthState();
    const seen: boolean[] = [];
    h.onChange((s) => seen.push(s.checks.broker.ok));
    h.setBroker(true);
    h.setBroker(true);
    h.setBroker(false, 'x');
    h.setBroker(false, 'x');
    expect(seen).toEqual([true, false]);
  });

  it('/metrics parses as Prometheus text with every instrument', async () => {
    const metrics = new Metrics();
    metrics.setBackend('wasm');
    metrics.setModelInfo({ name: 'lesionnet-edge', version: '1.0.0', sha256: 'ab'.repeat(32), quantization: 'uint8' });
    metrics.setBrokerConnected(true);
    metrics.outboxDepth.set(3);
    metrics.outboxDropped.inc({ reason: 'size' });
    metrics.setCameraState('streaming');
    metrics.syncTotals({ captured: 10, processed: 7, dropped: 2, rejected: { dark: 1, blurry: 2 }, cameraRestarts: 1 });
    metrics.syncTotals({ captured: 15, processed: 9, dropped: 2, rejected: { dark: 1, blurry: 3 }, cameraRestarts: 1 });
    metrics.observeStages({ qualityMs: 0.8, inferMs: 42, debounceMs: 0.1 });
    metrics.endToEndLatency.observe(61);
    server = await startHealthServer({ port: 0, health: new HealthState(), metrics });
    const res = await fetch(`${server.url}/metrics`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
    const { types, samples } = parsePrometheus(await res.text());

    expect(types.get('dermstream_frames_captured_total')).toBe('counter');
    expect(get(samples, 'dermstream_frames_captured_total')).toBe(15);
    expect(get(samples, 'dermstream_frames_processed_total')).toBe(9);
    expect(get(samples, 'dermstream_frames_dropped_total')).toBe(2);
    expect(get(samples, 'dermstream_quality_rejections_total', { reason: 'blurry' })).toBe(3);
    expect(get(samples, 'dermstream_camera_restarts_total')).toBe(1);
    expect(get(samples, 'dermstream_inference_backend', { backend: 'wasm' })).toBe(1);
    expect(get(samples, 'dermstream_model_info', { name: 'lesionnet-edge', quantization: 'uint8' })).toBe(1);
    expect(get(samples, 'dermstream_broker_connected')).toBe(1);
    expect(get(samples, 'dermstream_outbox_depth')).toBe(3);
    expect(get(samples, 'dermstream_outbox_dropped_total', { reason: 'size' })).toBe(1);
    expect(get(samples, 'dermstream_camera_state', { state: 'streaming' })).toBe(1);
    expect(get(samples, 'dermstream_camera_state', { state: 'waiting' })).toBe(0);
    // Histograms: ms buckets from 1 to 1000, cumulative, +Inf = count.
    expect(types.get('dermstream_stage_latency_milliseconds')).toBe('histogram');
    const infer = samples.filter((s) => s.name === 'dermstream_stage_latency_milliseconds_bucket' && s.labels.stage === 'infer');
    expect(infer.map((s) => s.labels.le)).toEqual(['1', '2', '5', '10', '20', '35', '50', '75', '100', '150', '200', '300', '500', '1000', '+Inf']);
    for (let i = 1; i < infer.length; i++) expect(infer[i]!.value).toBeGreaterThanOrEqual(infer[i - 1]!.value);
    expect(get(samples, 'dermstream_stage_latency_milliseconds_bucket', { stage: 'infer', le: '35' })).toBe(0);
    expect(get(samples, 'dermstream_stage_latency_milliseconds_bucket', { stage: 'infer', le: '50' })).toBe(1);
    expect(get(samples, 'dermstream_end_to_end_latency_milliseconds_count')).toBe(1);
    // Process default metrics.
    expect(types.has('dermstream_process_resident_memory_bytes')).toBe(true);
    expect(types.has('dermstream_nodejs_eventloop_lag_seconds')).toBe(true);
  });

  it('the strict parser rejects malformed exposition text', () => {
    expect(() => parsePrometheus('# TYPE a counter\na 1\n')).toThrow(/_total/);
    expect(() => parsePrometheus('b_total 1\n')).toThrow(/no # TYPE/);
    expect(() => parsePrometheus('# TYPE c_total counter\nc_total{x=1} 1\n')).toThrow(/bad labels/);
  });
});

describe('logging', () => {
  const sink = () => {
    const lines: string[] = [];
    const stream = new Writable({
      write(chunk, _e, done) {
        lines.push(...chunk.toString().split('\n').filter(Boolean));
        done();
      },
    });
    return { lines, stream };
  };

  it('JSON lines with level and severity; secrets redacted; below-level lines dropped', async () => {
    const { lines, stream } = sink();
    const log = createLogger('info', { destination: stream, base: { deviceId: 'd1' } });
    log.debug('hidden');
    log.info({ mqtt: { password: 'hunter2', username: 'u' } }, 'connecting');
    log.warn({ err: new Error('boom') }, 'camera failed');
    await new Promise((r) => setImmediate(r));
    expect(lines).toHaveLength(2);
    const first = JSON.parse(lines[0]!);
    expect(first).toMatchObject({ level: 30, severity: 'info', msg: 'connecting', deviceId: 'd1', mqtt: { password: '***', username: 'u' } });
    expect(lines[0]).not.toContain('hunter2');
    expect(JSON.parse(lines[1]!)).toMatchObject({ severity: 'warn', err: { message: 'boom', type: 'Error' } });
  });

  it('pretty lines for a terminal', async () => {
    const { lines, stream } = sink();
    const log = createLogger('info', { destination: stream, pretty: true, colorize: false });
    log.info({ fps: 30, source: 'v4l2:/dev/video0' }, 'camera delivering');
    await new Promise((r) => setTimeout(r, 20));
    expect(lines[0]).toMatch(/^\[\d\d:\d\d:\d\d\.\d{3}\] INFO: camera delivering \{"fps":30,"source":"v4l2:\/dev\/video0"\}$/);
    const coloured: string[] = [];
    const tty = createLogger('info', { destination: new Writable({ write: (c, _e, done) => (coloured.push(String(c)), done()) }), pretty: true, colorize: true });
    tty.warn('camera stalled');
    tty.error('camera failed');
    await new Promise((r) => setTimeout(r, 20));
    expect(coloured[0]).toContain('\u001b[33mWARN'); // yellow
    expect(coloured[1]).toContain('\u001b[31mERROR'); // red
  });

  it('a status line wrapped around each log line is erased before it and drawn again after it', async () => {
    const out: string[] = [];
    const order: string[] = [];
    const log = createLogger('info', {
      destination: new Writable({ write: (c, _e, done) => (out.push(String(c)), order.push('log'), done()) }),
      around: (write) => {
        order.push('clear');
        write();
        order.push('draw');
      },
    });
    log.info('one');
    await new Promise((r) => setTimeout(r, 20));
    expect(order).toEqual(['clear', 'log', 'draw']);
    expect(JSON.parse(out[0]!).msg).toBe('one');
  });
});
