import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import mqtt from 'mqtt';
import { afterAll, describe, expect, it } from 'vitest';
import { startEmbeddedBroker } from '../../src/publish/index.js';
import { loadConfig } from '../../src/service/config/index.js';
import { generateKeyPairSync } from 'node:crypto';
import { signManifestBytes, writeManifestSignature } from '../../src/model/manifest_signature.js';
import { checkBroker, checkDisk, checkEngine, checkModel, formatDoctor, parseV4l2Formats, runDoctor, type ExecResult } from '../../src/service/doctor.js';

const dir = mkdtempSync(path.join(tmpdir(), 'dermstream-doctor-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const sha = (b: Buffer | string) => createHash('sha256').update(b).digest('hex');

const config = (flags: Record<string, unknown> = {}) =>
  loadConfig({ env: {}, defaultConfigPath: path.join(dir, 'absent.yaml'), defaultStateDir: path.join(dir, 'state'), hostname: 'doc-host', flags }).config;

function fakeModel(name: string): string {
  const d = path.join(dir, name);
  mkdirSync(d, { recursive: true });
  const files = { 'model.json': '{"format":"dermstream-lesionnet"}', 'group1-shard1of1.bin': Buffer.alloc(4096, 7) };
  const entries = Object.entries(files).map(([p, data]) => {
    writeFileSync(path.join(d, p), data);
    return { path: p, bytes: Buffer.byteLength(data), sha256: sha(data) };
  });
  writeFileSync(path.join(d, 'manifest.json'), JSON.stringify({ name: 'lesionnet-edge', version: '1.2.0', quantization: 'uint8', weightsSha256: sha(files['group1-shard1of1.bin']), files: entries }));
  return d;
}

describe('model check', () => {
  it('re-hashes every file against manifest.json, and says "verified" only when a trusted key signed it (issue 10 item 9)', async () => {
    const d = fakeModel('good');
    const unsigned = await checkModel(d);
    expect(unsigned.status).toBe('WARN');
    expect(unsigned.summary).toMatch(/lesionnet-edge 1\.2\.0 \(uint8.*2 files/);
    expect(unsigned.summary).toMatch(/not signed: NOT verified/);
    expect(unsigned.summary).not.toMatch(/signature verified/);
    expect((await checkModel(d, { requireSignature: true })).status).toBe('FAIL');

    const { privateKey, publicKey } = generateKeyPairSync('ed25519');
    const pub = publicKey.export({ type: 'spki', format: 'pem' }) as string;
    writeManifestSignature(d, signManifestBytes(readFileSync(path.join(d, 'manifest.json')), privateKey));
    const signed = await checkModel(d, { trustedKeys: [pub], requireSignature: true });
    expect(signed).toMatchObject({ status: 'OK' });
    expect(signed.summary).toMatch(/signature verified/);
    // Signed by a key the device does not trust: not verified.
    const other = generateKeyPairSync('ed25519').publicKey.export({ type: 'spki', format: 'pem' }) as string;
    expect((await checkModel(d, { trustedKeys: [other] })).summary).toMatch(/not in model\.trustedKeys: NOT verified/);
    // The manifest rehashed after signing (the attack of the issue): refused.
    const m = JSON.parse(readFileSync(path.join(d, 'manifest.json'), 'utf8'));
    writeFileSync(path.join(d, 'manifest.json'), JSON.stringify({ ...m, version: '9.9.9' }));
    const tampered = await checkModel(d, { trustedKeys: [pub] });
    expect(tampered.status).toBe('FAIL');
    expect(tampered.summary).toMatch(/does not match its signature/);
  });
  it('names a tampered or missing file', async () => {
    const d = fakeModel('bad');
    writeFileSync(path.join(d, 'group1-shard1of1.bin'), Buffer.alloc(4096, 8));
    const r = await checkModel(d);
    expect(r.status).toBe('FAIL');
    expect(r.details!.join('\n')).toMatch(/group1-shard1of1\.bin: SHA-256/);
    rmSync(path.join(d, 'model.json'));
    expect((await checkModel(d)).details!.join('\n')).toMatch(/model\.json: missing/);
    expect((await checkModel(path.join(dir, 'nothing'))).summary).toMatch(/no manifest\.json/);
  });
});

describe('camera formats', () => {
  const sample = `ioctl: VIDIOC_ENUM_FMT
\tType: Video Capture

\t[0]: 'MJPG' (Motion-JPEG, compressed)
\t\tSize: Discrete 1280x720
\t\t\tInterval: Discrete 0.033s (30.000 fps)
\t\tSize: Discrete 640x480
\t\t\tInterval: Discrete 0.033s (30.000 fps)
\t\t\tInterval: Discrete 0.067s (15.000 fps)
\t[1]: 'YUYV' (YUYV 4:2:2)
\t\tSize: Discrete 640x480
\t\t\tInterval: Discrete 0.100s (10.000 fps)
`;
  it('parses v4l2-ctl --list-formats-ext', () => {
    expect(parseV4l2Formats(sample)).toEqual([
      { fourcc: 'MJPG', description: 'Motion-JPEG, compressed', sizes: [{ width: 1280, height: 720, fps: [30] }, { width: 640, height: 480, fps: [30, 15] }] },
      { fourcc: 'YUYV', description: 'YUYV 4:2:2', sizes: [{ width: 640, height: 480, fps: [10] }] },
    ]);
  });
  it('a v4l2 source whose device is missing fails with the fix', async () => {
    const exec = async (): Promise<ExecResult> => ({ code: 0, stdout: sample, stderr: '' });
    const results = await runDoctor(config({ source: 'v4l2:/dev/video-does-not-exist' }), { skip: ['backend', 'engine', 'broker', 'model', 'gstreamer', 'notify'], exec });
    const cam = results.find((r) => r.check === 'camera')!;
    expect(cam.status).toBe('FAIL');
    expect(cam.summary).toMatch(/does not exist/);
    expect(formatDoctor(results)).toMatch(/FAIL {2}camera/);
  });
});

describe('disk check', () => {
  it('compares free space with the outbox bound', () => {
    expect(checkDisk(path.join(dir, 'state/not/yet'), 1024 * 1024).status).toBe('OK');
    expect(checkDisk(dir, 1e15)).toMatchObject({ status: 'FAIL', fix: expect.stringMatching(/outbox\.maxBytes/) });
  });
});

describe('broker check', () => {
  it('publishes a non-retained probe on <prefix>/<deviceId>/doctor, never the status topic', async () => {
    const broker = await startEmbeddedBroker({ tcpPort: 0, wsPort: false });
    try {
      const sub = await mqtt.connectAsync(broker.url, { clientId: 'watcher' });
      const got: Array<{ topic: string; retain: boolean; payload: string }> = [];
      sub.on('message', (topic, payload, packet) => got.push({ topic, retain: packet.retain, payload: payload.toString() }));
      await sub.subscribeAsync('dermstream/#', { qos: 1 });
      const r = await checkBroker(config({ broker: broker.url }), 3000);
      expect(r.status, r.summary).toBe('OK');
      expect(r.summary).toMatch(/probe on dermstream\/doc-host\/doctor \(QoS 1, not retained\) acknowledged/);
      await new Promise((res) => setTimeout(res, 100));
      expect(got.map((g) => g.topic)).toEqual(['dermstream/doc-host/doctor']);
      expect(got[0]!.retain).toBe(false);
      expect(JSON.parse(got[0]!.payload)).toMatchObject({ type: 'doctor-probe', deviceId: 'doc-host' });
      await sub.endAsync();
    } finally {
      await broker.close();
    }
  });

  it('fails with a fix when the broker is unreachable', async () => {
    // Port 1 on loopback: nothing listens there.
    const r = await checkBroker(config({ broker: 'mqtt://127.0.0.1:1' }), 2000);
    expect(r.status).toBe('FAIL');
    expect(r.fix).toMatch(/broker runs/);
  });

  it('with no broker configured, reports the embedded broker port', async () => {
    const r = await checkBroker(config({ set: ['mqtt.embedded.port=18839'] }), 1000);
    expect(r).toMatchObject({ status: 'OK', summary: expect.stringMatching(/embedded broker will listen on 127\.0\.0\.1:18839/) });
  });
});

describe('engine check', () => {
  const shipped = path.resolve(__dirname, '../../models/default');
  it('names the engine run will use: onnx for the shipped model, with its threads; tfjs when asked', async () => {
    const r = await checkEngine({ path: shipped, engine: 'auto', onnx: { threads: 0, providers: ['cpu'] } });
    expect(r.status, r.summary).toBe('OK');
    expect(r.summary).toMatch(/^onnx \(ONNX Runtime 1\.\d+.*, \d threads?, providers cpu; graphs lesionnet\.onnx/);
    expect((await checkEngine({ path: shipped, engine: 'tfjs', onnx: { threads: 2, providers: ['cpu'] } })).summary).toMatch(/^tfjs/);
  });
  it('a model without ONNX graphs: a warning on auto (tfjs fallback), a failure when onnx is required; both say how to export', async () => {
    const m = path.join(dir, 'no-onnx');
    mkdirSync(m, { recursive: true });
    writeFileSync(path.join(m, 'manifest.json'), JSON.stringify({ name: 'x', weightsSha256: 'a'.repeat(64), files: [] }));
    const auto = await checkEngine({ path: m, engine: 'auto', onnx: { threads: 0, providers: ['cpu'] } });
    expect(auto).toMatchObject({ status: 'WARN', fix: expect.stringMatching(/dermstream export --format onnx/) });
    expect(auto.summary).toMatch(/^tfjs \(auto: the model has no ONNX graphs/);
    const forced = await checkEngine({ path: m, engine: 'onnx', onnx: { threads: 0, providers: ['cpu'] } });
    expect(forced.status).toBe('FAIL');
  });
});
