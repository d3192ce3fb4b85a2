import { mkdtempSync, readFileSync, writeFileSync, rmSync, unlinkSync, cpSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { selectBackend } from '../../src/model/backend.js';
import { detect } from '../../src/model/detect.js';
import { LesionNet } from '../../src/model/network.js';
import { toFloat16 } from '../../src/model/quantize.js';
import { loadModel, saveModel, ModelLoadError } from '../../src/model/weights_io.js';
import { TINY_CONFIG } from './helpers.js';

describe('model folder: save, verify, refuse, quantize', () => {
  const root = mkdtempSync(join(tmpdir(), 'dermstream-model-'));
  const dir = join(root, 'float32');
  let net: LesionNet;
  const x = () => tf.randomUniform([1, 64, 64, 3], -1, 1, 'float32', 3) as tf.Tensor4D;

  beforeAll(async () => {
    await selectBackend('wasm');
    net = new LesionNet(TINY_CONFIG).declare();
    await saveModel(net, dir, { version: '1.2.3', metrics: { note: 'test' } });
  });
  afterAll(() => {
    net.dispose();
    rmSync(root, { recursive: true, force: true });
  });

  it('writes model.json, shards and a manifest with the SHA-256 of each file', () => {
    const m = JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8'));
    expect(m.files.map((f: { path: string }) => f.path)).toContain('model.json');
    expect(m.files.every((f: { sha256: string }) => /^[0-9a-f]{64}$/.test(f.sha256))).toBe(true);
    expect(m.version).toBe('1.2.3');
    expect(m.architecture.inputSize).toBe(64);
    expect(m.quantization).toBe('float32');
  });

  it('loads back to the same outputs', () => {
    const { net: loaded } = loadModel(dir);
    const input = x();
    const a = detect(net, input);
    const b = detect(loaded, input);
    expect(b.length).toBe(a.length);
    a.forEach((d, i) => {
      expect([...b[i].box]).toEqual([...d.box]);
      expect(b[i].malignant).toBeCloseTo(d.malignant, 6);
    });
    loaded.dispose();
    input.dispose();
  });

  it('refuses a tampered shard, naming the file', () => {
    const bad = join(root, 'tampered');
    cpSync(dir, bad, { recursive: true });
    const shard = join(bad, 'group1-shard1of1.bin');
    const buf = readFileSync(shard);
    buf[100] ^= 0xff;
    writeFileSync(shard, buf);
    expect(() => loadModel(bad)).toThrow(ModelLoadError);
    expect(() => loadModel(bad)).toThrow(/group1-shard1of1\.bin fails its SHA-256 check/);
  });

  it('refuses a truncated shard and a missing file', () => {
    const trunc = join(root, 'truncated');
    cpSync(dir, trunc, { recursive: true });
    const shard = join(trunc, 'group1-shard1of1.bin');
    writeFileSync(shard, readFileSync(shard).subarray(0, 1000));
    expect(() => loadModel(trunc)).toThrow(/truncated or replaced/);
    unlinkSync(shard);
    expect(() => loadModel(trunc)).toThrow(/model file missing/);
  });

  it('refuses a corrupt model.json and a folder that is not a model', () => {
    const broken = join(root, 'broken');
    cpSync(dir, broken, { recursive: true });
    writeFileSync(join(broken, 'model.json'), '{"format": "dermstream-lesion');
    expect(() => loadModel(broken)).toThrow(/not valid JSON/);
    expect(() => loadModel(join(root, 'nope'))).toThrow(/model manifest not found/);
  });

  for (const dtype of ['uint8', 'float16'] as const) {
    it(`writes a ${dtype} copy that is smaller and still close to float32`, async () => {
      const qdir = join(root, dtype);
      const m = await saveModel(net, qdir, { quantization: dtype });
      const fsz = JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8')).files.reduce((a: number, f: { bytes: number }) => a + f.bytes, 0);
      const qsz = m.files.reduce((a, f) => a + f.bytes, 0);
      expect(qsz).toBeLessThan(fsz * (dtype === 'uint8' ? 0.35 : 0.6));
      const { net: q } = loadModel(qdir);
      const k = 'fpn/out2/kernel';
      const diff = tf.max(tf.abs(tf.sub(q.params.get(k), net.params.get(k)))).arraySync() as number;
      const range = (tf.max(net.params.get(k)).arraySync() as number) - (tf.min(net.params.get(k)).arraySync() as number);
      expect(diff).toBeLessThan(dtype === 'uint8' ? range / 255 : range * 1e-3);
      q.dispose();
    });
  }

  it('converts float16 exactly for representable values and rounds to nearest even', () => {
    expect(toFloat16(1)).toBe(0x3c00);
    expect(toFloat16(-2)).toBe(0xc000);
    expect(toFloat16(65504)).toBe(0x7bff);
    expect(toFloat16(1e6)).toBe(0x7c00);
    expect(toFloat16(5.960464477539063e-8)).toBe(0x0001);
    expect(toFloat16(1 + 2 ** -11)).toBe(0x3c00); // tie → even
  });
});
