import { readFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import {
  LESION_SCHEMA_ID,
  LESION_SCHEMA_VERSION,
  toLesionMessage,
  toStatusMessage,
  validateLesionMessage,
  validateMetricsMessage,
  validateStatusMessage,
  validateSnapshotMessage,
  makeThumbnail,
  toSnapshotMessage,
  type LesionMessage,
} from '../../src/publish/index.js';
import { MODEL, makeEvent, makeFrame } from './helpers/fixtures.js';

const ctx = { kind: 'lesion' as const, deviceId: 'derm-01', sessionId: 's1', seq: 7, model: MODEL, publishedAtMs: 1_760_000_001_000 };

describe('lesion message schema', () => {
  it('is committed as draft 2020-12 with the id and version the code uses', async () => {
    const schema = JSON.parse(await readFile(new URL('../../schema/lesion-message.schema.json', import.meta.url), 'utf8'));
    expect(schema.$schema).toBe('https://json-schema.org/draft/2020-12/schema');
    expect(schema.$id).toBe(LESION_SCHEMA_ID);
    expect(LESION_SCHEMA_VERSION).toMatch(/^1\.\d+\.\d+$/);
  });

  it('toLesionMessage builds a valid message for every state', () => {
    for (const state of ['searching', 'tracking', 'stable', 'indeterminate', 'lost'] as const) {
      const msg = toLesionMessage(makeEvent({ state, seq: 3 }), ctx);
      const r = validateLesionMessage(msg);
      expect(r.errors).toEqual([]);
      expect(r.ok).toBe(true);
    }
    const msg = toLesionMessage(makeEvent({ seq: 3 }), ctx);
    expect(msg.messageId).toBe('derm-01:s1:lesion:7');
    expect(msg.frame).toEqual({ seq: 3, width: 640, height: 480, capturedAt: new Date(1_760_000_000_099).toISOString(), capturedAtMs: 1_760_000_000_099 });
    expect(msg.publishedAt).toBe(new Date(1_760_000_001_000).toISOString());
    expect(msg.latencyMs).toBe(48.7);
    expect(msg.timings.preprocessMs).toBe(2.1);
    expect(msg.model).toEqual(MODEL);
  });

  it('is pure: the same input gives the same bytes', () => {
    const e = makeEvent({ seq: 3 });
    expect(JSON.stringify(toLesionMessage(e, ctx))).toBe(JSON.stringify(toLesionMessage(e, ctx)));
  });

  const valid = () => JSON.parse(JSON.stringify(toLesionMessage(makeEvent({ seq: 1 }), ctx))) as LesionMessage;
  const broken: [string, (m: any) => void, RegExp][] = [
    ['missing messageId', (m) => delete m.messageId, /messageId/],
    ['probability out of [0,1]', (m) => (m.probabilities.malignant = 1.5), /probabilities\/malignant/],
    ['unknown state', (m) => (m.state = 'maybe'), /\/state/],
    ['extra field', (m) => (m.verdict = 'ok'), /additional properties \(verdict\)/],
    ['NaN latency (JSON null)', (m) => (m.latencyMs = null), /latencyMs/],
    ['bad sha256', (m) => (m.model.sha256 = 'xyz'), /model\/sha256/],
    ['bad timestamp', (m) => (m.publishedAt = 'yesterday'), /publishedAt/],
    ['box with 3 numbers', (m) => (m.box.pixels = [1, 2, 3]), /box/],
    ['stable without label', (m) => (m.label = null), /label/],
    ['tracking without a box', (m) => ((m.state = 'tracking'), (m.box = null)), /box/],
    ['deviceId with a slash', (m) => (m.deviceId = 'a/b'), /deviceId/],
    ['wrong schema id', (m) => (m.schema.id = 'x'), /schema\/id/],
  ];
  for (const [name, mutate, re] of broken) {
    it(`rejects: ${name}`, () => {
      const m = valid();
      mutate(m);
      const r = validateLesionMessage(m);
      expect(r.ok).toBe(false);
      expect(r.errors.join('\n')).toMatch(re);
    });
  }

  it('validates status messages, including the last will', () => {
    const online = toStatusMessage({ state: 'online', model: MODEL, camera: 'ok' }, { deviceId: 'derm-01', sessionId: 's1', atMs: 0, protocolVersion: 5 });
    expect(validateStatusMessage(online)).toEqual({ ok: true, errors: [] });
    const will = toStatusMessage({ state: 'offline', lastWill: true, reason: 'connection lost' }, { deviceId: 'derm-01', sessionId: 's1', atMs: 0 });
    expect(validateStatusMessage(will).ok).toBe(true);
    expect(validateStatusMessage({ ...online, state: 'sleeping' }).ok).toBe(false);
  });

  it('validates metrics messages and rejects a negative counter', () => {
    const m = {
      schema: { id: 'https://dermstream.dev/schema/metrics-message.schema.json', version: '1.0.0' },
      deviceId: 'derm-01',
      sessionId: 's1',
      at: new Date().toISOString(),
      publisher: {
        connected: true,
        protocolVersion: 5,
        connects: 1,
        disconnects: 0,
        published: { lesion: 1, live: 2, snapshot: 0, status: 1, metrics: 0 },
        dropped: { lesion: 0, live: 0, snapshot: 0, status: 0, metrics: 0 },
        invalid: 0,
        outbox: { depth: 0, bytes: 0, inFlight: 0, appended: 1, acked: 1, recovered: 0, replayed: 0, retried: 0, dropped: { size: 0, age: 0 }, torn: 0, segments: 1, appendLatencyMs: { last: 1, max: 1, mean: 1 } },
      },
      service: { fps: 14.5, stages: { inferMs: 40 } },
    };
    expect(validateMetricsMessage(m).errors).toEqual([]);
    m.publisher.connects = -1;
    expect(validateMetricsMessage(m).ok).toBe(false);
  });

  it('makes a ≤ 320 px JPEG snapshot in a valid envelope', async () => {
    const frame = makeFrame(5);
    const thumb = await makeThumbnail(frame, 320);
    expect(thumb.width).toBe(320);
    expect(thumb.height).toBe(240);
    expect(thumb.jpeg.subarray(0, 2)).toEqual(Buffer.from([0xff, 0xd8]));
    const msg = toSnapshotMessage(frame, thumb, { deviceId: 'derm-01', sessionId: 's1', seq: 0, publishedAtMs: 0 });
    expect(validateSnapshotMessage(msg).errors).toEqual([]);
    expect(msg.frame).toMatchObject({ seq: 5, width: 640, height: 480 });
    const small = await makeThumbnail(makeFrame(1, 200, 100), 320);
    expect([small.width, small.height]).toEqual([200, 100]); // never enlarged
  });
});
