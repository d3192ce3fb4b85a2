/** The operating point `run` votes with: the model's for unset keys, the configuration's when set, never a guess. */
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { operatingPointForRun, operatingPointInForce } from '../../src/service/config/operating_point.js';
import { startRun, type Logger } from '../../src/service/run.js';
import { shippedOperatingPoint } from '../model/helpers.js';

const SHIPPED = path.resolve(import.meta.dirname, '../../models/default');
const dir = mkdtempSync(path.join(tmpdir(), 'dermstream-op-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const quiet: Logger = { info: () => undefined, warn: () => undefined, error: () => undefined };

/** The shipped model without its operating point (manifest.json is not hashed: it still loads). */
function modelWithout(): string {
  const d = path.join(dir, 'no-op');
  cpSync(SHIPPED, d, { recursive: true });
  const m = JSON.parse(readFileSync(path.join(d, 'manifest.json'), 'utf8'));
  delete m.operatingPoint;
  writeFileSync(path.join(d, 'manifest.json'), JSON.stringify(m));
  return d;
}

describe('operating point for a run', () => {
  it('the model’s for unset keys ("model"), the configuration’s when either is set ("config")', () => {
    const { threshold, margin } = shippedOperatingPoint();
    expect(operatingPointForRun(undefined, SHIPPED)).toEqual({ threshold, margin, source: 'model' });
    expect(operatingPointForRun({ malignantThreshold: 0.42 }, SHIPPED)).toEqual({ threshold: 0.42, margin, source: 'config' });
    expect(operatingPointForRun({ malignantThreshold: 0.2, uncertainMargin: 0 }, modelWithout())).toEqual({ threshold: 0.2, margin: 0, source: 'config' });
    expect(() => operatingPointForRun({}, modelWithout())).toThrow(/the model declares no operating point.*fix: set pipeline\.debounce\.malignantThreshold/);
    expect(operatingPointInForce({ malignantThreshold: 0.15, uncertainMargin: 0.03 }, { 'pipeline.debounce.malignantThreshold': { kind: 'model', file: 'm' }, 'pipeline.debounce.uncertainMargin': { kind: 'model', file: 'm' } })).toEqual({ threshold: 0.15, margin: 0.03, source: 'model' });
    expect(operatingPointInForce({ malignantThreshold: 0.15, uncertainMargin: 0.03 }, { 'pipeline.debounce.malignantThreshold': { kind: 'flag', flag: '--set' }, 'pipeline.debounce.uncertainMargin': { kind: 'model', file: 'm' } })?.source).toBe('config');
  });

  it('startRun refuses a model without one rather than vote at a guessed threshold', async () => {
    const opts = {
      source: 'test',
      capture: { width: 160, height: 120, fps: 5 },
      modelDir: modelWithout(),
      backend: 'wasm' as const,
      pipeline: { qualityGate: false },
      brokerUrl: 'mqtt://127.0.0.1:1',
      embedded: { host: '127.0.0.1', tcpPort: 0, wsPort: false as const },
      publisher: { prefix: 'op', rates: { liveMaxHz: 0, snapshotMaxHz: 0 } },
      deviceId: 'op-1',
      stateDir: path.join(dir, 'state'),
      summary: false,
      maxFrames: 1,
    };
    await expect(startRun(opts, quiet)).rejects.toThrow(/pipeline\.debounce\.malignantThreshold: not set, and the model declares no operating point/);
  });
});
