import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseTopic, sharedTopicOf, subscribeLesions, topicOf, type InvalidLesion, type LesionMessage, type LesionSubscription } from '../../src/client/index.js';
import { mosquittoAvailable, mosquittoSkipReason, startMosquitto, type Mosquitto } from '../publish/helpers/mosquitto.js';
import { publisher, waitUntil } from '../bridge/helpers/publish.js';
import { lesionMessage } from './helpers/messages.js';

if (!mosquittoAvailable) console.warn(mosquittoSkipReason);

describe('topics', () => {
  it('builds and parses the contract topics', () => {
    expect(topicOf('dermstream', '+', 'lesion')).toBe('dermstream/+/lesion');
    expect(sharedTopicOf('ehr', 'dermstream/+/lesion')).toBe('$share/ehr/dermstream/+/lesion');
    expect(parseTopic('site/a', 'site/a/derm-01/lesion')).toEqual({ deviceId: 'derm-01', kind: 'lesion' });
    expect(parseTopic('dermstream', 'dermstream/derm-01/x')).toBeNull();
    expect(() => topicOf('dermstream', 'a/b', 'lesion')).toThrow(/deviceId/);
    expect(() => sharedTopicOf('a/b', 'x')).toThrow(/share group/);
  });
});

describe.skipIf(!mosquittoAvailable)('subscribeLesions on Mosquitto', () => {
  let broker: Mosquitto;
  beforeAll(async () => {
    broker = await startMosquitto();
  });
  afterAll(async () => {
    await broker?.dispose();
  });

  it('delivers valid messages typed, and invalid ones to onInvalid with the reason', async () => {
    const got: LesionMessage[] = [];
    const bad: InvalidLesion[] = [];
    const sub = await subscribeLesions({ brokerUrl: broker.url, deviceId: 'derm-01', onMessage: (m) => void got.push(m), onInvalid: (b) => void bad.push(b) });
    const pub = await publisher(broker.url);
    const m = lesionMessage({ seq: 1 });
    await pub.send('dermstream/derm-01/lesion', m);
    await pub.send('dermstream/derm-01/lesion', '{oops');
    await pub.send('dermstream/derm-01/lesion', { ...m, state: 'maybe' });
    await pub.send('dermstream/derm-01/lesion', lesionMessage({ seq: 2, deviceId: 'derm-07' }));
    await pub.send('dermstream/derm-02/lesion', lesionMessage({ seq: 3, deviceId: 'derm-02' })); // another device: not subscribed
    await waitUntil(() => got.length + bad.length === 4, 10_000, 'four messages');
    expect(got).toEqual([m]);
    expect(got[0]!.probabilities!.malignant).toBe(0.78);
    expect(bad.map((b) => b.reason)).toEqual(['json', 'schema', 'topic']);
    expect(bad[1]!.errors.join()).toMatch(/state/);
    expect(sub.stats()).toMatchObject({ received: 4, delivered: 1, invalid: { json: 1, schema: 1, topic: 1 }, handlerErrors: 0 });
    await sub.close();
    await pub.close();
  });

  it('acknowledges only after the handler resolves: a message whose handler never finished comes again to the next session', async () => {
    const clientId = `ack-test-${Date.now()}`;
    let first!: LesionSubscription;
    let started = false;
    first = await subscribeLesions({
      brokerUrl: broker.url,
      clientId,
      sessionExpirySec: 60,
      onMessage: () => {
        started = true;
        return new Promise<void>(() => undefined); // the process "dies" while writing
      },
    });
    const pub = await publisher(broker.url);
    const m = lesionMessage({ seq: 5, sessionId: 'ack' });
    await pub.send('dermstream/derm-01/lesion', m);
    await waitUntil(() => started, 10_000, 'handler started');
    first.client.end(true); // abrupt: no PUBACK was sent

    const got: { msg: LesionMessage; dup: boolean }[] = [];
    const second = await subscribeLesions({ brokerUrl: broker.url, clientId, sessionExpirySec: 60, onMessage: (msg, meta) => void got.push({ msg, dup: meta.dup }) });
    await waitUntil(() => got.length === 1, 10_000, 're-delivery');
    expect(got[0]!.msg.messageId).toBe(m.messageId);
    expect(got[0]!.dup).toBe(true);
    await second.close();
    await pub.close();
  });

  it('a handler that throws leaves the message unacknowledged; it is re-delivered after a reconnect and handled', async () => {
    let calls = 0;
    const errors: string[] = [];
    const handled: string[] = [];
    const sub = await subscribeLesions({
      brokerUrl: broker.url,
      clientId: `throw-${Date.now()}`,
      sessionExpirySec: 60,
      reconnectMinMs: 50,
      onError: (e) => errors.push(e.message),
      onMessage: async (msg) => {
        if (++calls === 1) throw new Error('disk full');
        handled.push(msg.messageId);
      },
    });
    const pub = await publisher(broker.url);
    const m = lesionMessage({ seq: 6, sessionId: 'throw' });
    await pub.send('dermstream/derm-01/lesion', m);
    await waitUntil(() => handled.length === 1, 10_000, 'handled after the re-delivery');
    expect(handled).toEqual([m.messageId]);
    expect(errors.some((e) => /disk full/.test(e) && /not acknowledged/.test(e))).toBe(true);
    expect(sub.stats()).toMatchObject({ handlerErrors: 1, delivered: 1, redelivered: 1 });
    await sub.close();
    await pub.close();
  });

  it('rejects when the broker cannot be reached within connectTimeoutMs', async () => {
    await expect(subscribeLesions({ brokerUrl: 'mqtt://127.0.0.1:1', connectTimeoutMs: 500, onMessage: () => undefined })).rejects.toThrow(/no subscription/);
  });
});
