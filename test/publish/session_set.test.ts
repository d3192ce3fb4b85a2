/** The device takes its examination context from the retained session/set topic of a real Mosquitto. */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connectAsync } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPublisher, toSessionSetMessage, validateLesionMessage } from '../../src/publish/index.js';
import { bodySiteByCode } from '../../src/types/index.js';
import { MODEL, makeEvent } from './helpers/fixtures.js';
import { collect, until } from './helpers/mqtt_collector.js';
import { mosquittoAvailable, mosquittoSkipReason, startMosquitto, type Mosquitto } from './helpers/mosquitto.js';

if (!mosquittoAvailable) console.warn(mosquittoSkipReason);

describe.skipIf(!mosquittoAvailable)('session/set on Mosquitto', () => {
  let broker: Mosquitto;
  beforeAll(async () => {
    broker = await startMosquitto();
  });
  afterAll(async () => {
    await broker?.dispose();
  });

  it('a retained command set before the device starts is applied; an invalid one is logged and ignored', async () => {
    const deviceId = `sess-${process.pid}`;
    const topic = `dermstream/${deviceId}/session/set`;
    const site = bodySiteByCode('85562004')!;
    const cmd = await connectAsync(broker.url, { protocolVersion: 5 });
    await cmd.publishAsync(topic, JSON.stringify(toSessionSetMessage({ patientRef: 'Patient/42', bodySite: site })), { qos: 1, retain: true });

    const warnings: string[] = [];
    const dir = await mkdtemp(join(tmpdir(), 'sess-'));
    const pub = await createPublisher({
      brokerUrl: broker.url,
      deviceId,
      stateDir: dir,
      model: MODEL,
      rates: { liveMaxHz: Number.POSITIVE_INFINITY },
      logger: { info: () => undefined, warn: (_o, m) => warnings.push(m ?? ''), error: () => undefined },
    });
    const sub = await collect(broker.url, `dermstream/${deviceId}/lesion`);
    try {
      await until(() => pub.session().patientRef === 'Patient/42', 5000, 'the retained context');
      pub.publishEvent(makeEvent({ seq: 1, state: 'tracking', changed: true }));
      await sub.waitFor((m) => m.length >= 1, 5000, 'a lesion message');
      const first = sub.messages[0]!.json;
      expect(validateLesionMessage(first).errors).toEqual([]);
      expect(first.session).toEqual({ patientRef: 'Patient/42', bodySite: { system: 'http://snomed.info/sct', code: '85562004', display: 'Hand structure' } });

      // A bad command (unknown schema field) is refused with its reason; the context in force stays.
      await cmd.publishAsync(topic, JSON.stringify({ ...toSessionSetMessage({ patientRef: 'Patient/7', bodySite: null }), ward: 3 }), { qos: 1, retain: true });
      await until(() => warnings.some((w) => /session\/set ignored/.test(w)), 5000, 'the warning');
      expect(warnings.find((w) => /session\/set ignored/.test(w))).toMatch(/additional properties \(ward\)/);
      expect(pub.session().patientRef).toBe('Patient/42');

      // Clearing the retained command clears the context.
      await cmd.publishAsync(topic, '', { qos: 1, retain: true });
      await until(() => pub.session().patientRef === null, 5000, 'the cleared context');
      pub.publishEvent(makeEvent({ seq: 2, state: 'stable', changed: true }));
      await sub.waitFor((m) => m.length >= 2, 5000, 'a second lesion message');
      expect(sub.messages[1]!.json.session).toEqual({ patientRef: null, bodySite: null });
    } finally {
      await cmd.endAsync();
      await sub.close();
      await pub.close({ timeoutMs: 1000 });
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('whenSessionSettled: resolves with the retained context applied, or with none; false when no broker answers', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'sess-'));
    const quiet = { info: () => undefined, warn: () => undefined, error: () => undefined };
    const deviceId = `settle-${process.pid}`;
    const cmd = await connectAsync(broker.url, { protocolVersion: 5 });
    await cmd.publishAsync(`dermstream/${deviceId}/session/set`, JSON.stringify(toSessionSetMessage({ patientRef: 'Patient/9', bodySite: null })), { qos: 1, retain: true });
    await cmd.endAsync();
    const withCtx = await createPublisher({ brokerUrl: broker.url, deviceId, stateDir: join(dir, 'a'), model: MODEL, logger: quiet });
    const none = await createPublisher({ brokerUrl: broker.url, deviceId: `${deviceId}-none`, stateDir: join(dir, 'b'), model: MODEL, logger: quiet });
    const down = await createPublisher({ brokerUrl: 'mqtt://127.0.0.1:1', deviceId: `${deviceId}-down`, stateDir: join(dir, 'c'), model: MODEL, logger: quiet });
    try {
      // Checked at once, no polling: the context is in force when the promise resolves.
      expect(await withCtx.whenSessionSettled(5000)).toBe(true);
      expect(withCtx.session().patientRef).toBe('Patient/9');
      expect(await none.whenSessionSettled(5000)).toBe(true);
      expect(none.session().patientRef).toBeNull();
      expect(await down.whenSessionSettled(300)).toBe(false);
    } finally {
      for (const p of [withCtx, none, down]) await p.close({ timeoutMs: 500 });
      await rm(dir, { recursive: true, force: true });
    }
  });
});
