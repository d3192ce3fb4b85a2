import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { selectBackend } from '../../src/model/backend.js';
import { loadEngine } from '../../src/model/engine.js';
import { LesionNet } from '../../src/model/network.js';
import { exportOnnx } from '../../src/model/onnx/export.js';
import { saveModel } from '../../src/model/weights_io.js';
import { TINY_CONFIG } from './helpers.js';

describe('engine choice', () => {
  const root = mkdtempSync(join(tmpdir(), 'dermstream-engine-'));
  const plain = join(root, 'plain');
  const exported = join(root, 'exported');

  beforeAll(async () => {
    await selectBackend('wasm');
    const net = new LesionNet(TINY_CONFIG).declare();
    await saveModel(net, plain);
    await saveModel(net, exported);
    net.dispose();
    exportOnnx(exported);
  });
  afterAll(() => rmSync(root, { recursive: true, force: true }));

  it('auto runs ONNX Runtime when the model has graphs, tfjs (with the reason) when it has none', async () => {
    const a = await loadEngine(exported, { backend: 'wasm', onnx: { threads: 1 } });
    expect(a.engine).toBe('onnx');
    expect(a.identity.backend).toBe('onnxruntime-cpu');
    await a.dispose();
    const b = await loadEngine(plain, { backend: 'wasm' });
    expect(b.engine).toBe('tfjs');
    expect(b.identity.backend).toBe('wasm');
    expect(b.skipped.join('\n')).toMatch(/no ONNX graphs.*dermstream export --format onnx/);
    await b.dispose();
  });

  it('a forced engine that cannot run is an error naming the fix', async () => {
    await expect(loadEngine(plain, { engine: 'onnx', backend: 'wasm' })).rejects.toThrow(/no ONNX graphs.*--engine tfjs/);
    await expect(loadEngine(plain, { engine: 'gpu' as never })).rejects.toThrow(/not one of auto, tfjs, onnx/);
  });

  it('graphs exported from other weights are not run', async () => {
    const path = join(exported, 'manifest.json');
    const text = readFileSync(path, 'utf8');
    const m = JSON.parse(text);
    m.onnx.weightsSha256 = '0'.repeat(64);
    writeFileSync(path, JSON.stringify(m));
    try {
      const e = await loadEngine(exported, { backend: 'wasm' });
      expect(e.engine).toBe('tfjs');
      expect(e.skipped.join('\n')).toMatch(/exported from other weights/);
      await e.dispose();
    } finally {
      writeFileSync(path, text);
    }
  });
});
