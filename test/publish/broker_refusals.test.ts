/**
 * Issue 10 items 1 and 13, against a real Mosquitto with a password_file and an acl_file:
 * - a refused password is retried with back-off until the broker accepts it (the user is added later), the state
 *   names the key to fix meanwhile, and every verdict queued meanwhile arrives;
 * - a publish the broker's ACL denies (MQTT 5 PUBACK 135) is counted, raises a problem naming the topic, shows in the
 *   retained status, keeps the verdicts in the outbox, and clears once the ACL allows the topic.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { createPublisher, type ConnectionInfo, type Publisher } from '../../src/publish/index.js';
import { MODEL, makeEvent } from './helpers/fixtures.js';
import { collect, until } from './helpers/mqtt_collector.js';
import { mosquittoAvailable, mosquittoSkipReason, startMosquitto, type Mosquitto } from './helpers/mosquitto.js';

if (!mosquittoAvailable) console.warn(mosquittoSkipReason);

const logs: Array<{ level: string; obj: object; msg?: string }> = [];
const logger = {
  info: (obj: object, msg?: string) => logs.push({ level: 'info', obj, msg }),
  warn: (obj: object, msg?: string) => logs.push({ level: 'warn', obj, msg }),
  error: (obj: object, msg?: string) => logs.push({ level: 'error', obj, msg }),
};

describe.skipIf(!mosquittoAvailable)('publisher when the broker says no', () => {
  let broker: Mosquitto | undefined;
  let pub: Publisher | undefined;
  let stateDir: string | undefined;
  afterEach(async () => {
    await pub?.close({ timeoutMs: 500 });
    await broker?.dispose();
    if (stateDir) await rm(stateDir, { recursive: true, force: true });
    pub = broker = stateDir = undefined;
    logs.length = 0;
  });

  it('item 1: retries a refused password with back-off and delivers everything once the user exists', async () => {
    broker = await startMosquitto({ users: { display: 'd1splay' } });
    stateDir = await mkdtemp(join(tmpdir(), 'refused-'));
    const states: ConnectionInfo[] = [];
    pub = await createPublisher({ brokerUrl: broker.url, deviceId: 'refused-1', stateDir, model: MODEL, username: 'derm', password: 'late-s3cret', reconnectPeriodMs: 200, logger });
    pub.connection$.subscribe((c) => states.push(c));
    await until(() => states.some((s) => s.problem?.kind === 'not-authorized'), 5000, 'the refusal');
    const problem = states.find((s) => s.problem)!.problem!;
    expect(problem.key).toBe('mqtt.passwordFile');
    expect(problem.message).toMatch(/user "derm"/);
    expect(problem.message).toMatch(/mqtt\.username/);
    expect(logs.some((l) => l.level === 'error' && /refused the credentials/.test(l.msg ?? ''))).toBe(true);
    // Verdicts produced while refused wait in the outbox.
    for (let i = 0; i < 5; i++) pub.publishEvent(makeEvent({ seq: i, label: i % 2 ? 'malignant' : 'benign' }));
    await new Promise((r) => setTimeout(r, 1500));
    const refusedSoFar = pub.stats().refused ?? 0;
    expect(refusedSoFar).toBeGreaterThanOrEqual(2); // it kept trying
    expect(pub.isConnected()).toBe(false);
    expect(pub.stats().outbox.depth).toBe(5);

    const sub = await collect(broker.url, 'dermstream/refused-1/lesion', { username: 'display', password: 'd1splay' });
    await broker.addUser('derm', 'late-s3cret');
    await broker.reload();
    // Back-off from 200 ms doubling (±20 %), capped at 10 s: after ~1.5 s of refusals the next try is within ~4 s.
    await until(() => pub!.isConnected(), 15_000, 'the reconnect after the user was added');
    await until(() => sub.messages.length >= 5, 5000, 'the queued verdicts');
    await until(() => pub!.stats().outbox.depth === 0, 5000, 'the PUBACKs of the queued verdicts');
    expect(states.at(-1)!.problem).toBeUndefined();
    // The spacing grew: fewer attempts than a fixed 200 ms period would have made.
    const attempts = pub.stats().refused ?? 0;
    expect(attempts).toBeLessThan(15);
    await sub.close();
  }, 30_000);

  it('item 13: PUBACK 135 (ACL denies the lesion topic) is counted, named, shown in status, and the verdicts wait', async () => {
    const deny = ['user derm', 'topic write dermstream/acl-1/status', 'topic write dermstream/acl-1/live', 'user display', 'topic read dermstream/#'];
    broker = await startMosquitto({ users: { derm: 's3cret', display: 'd1splay' }, acl: deny });
    stateDir = await mkdtemp(join(tmpdir(), 'acl-'));
    const status = await collect(broker.url, 'dermstream/acl-1/status', { username: 'display', password: 'd1splay' });
    const lesions = await collect(broker.url, 'dermstream/acl-1/lesion', { username: 'display', password: 'd1splay' });
    const states: ConnectionInfo[] = [];
    pub = await createPublisher({ brokerUrl: broker.url, deviceId: 'acl-1', stateDir, model: MODEL, username: 'derm', password: 's3cret', protocolVersion: 5, reconnectPeriodMs: 200, logger });
    pub.connection$.subscribe((c) => states.push(c));
    await until(() => pub!.isConnected(), 5000, 'connect');
    pub.publishEvent(makeEvent({ seq: 0 }));
    pub.publishEvent(makeEvent({ seq: 1, label: 'malignant' }));
    await until(() => (pub!.stats().denied ?? 0) > 0, 5000, 'the PUBACK 135');
    const problem = states.find((s) => s.problem?.kind === 'publish-denied')!.problem!;
    expect(problem.topic).toBe('dermstream/acl-1/lesion');
    expect(problem.message).toMatch(/ACL denies user "derm" publishing to dermstream\/acl-1\/lesion/);
    expect(problem.message).toMatch(/PUBACK 135/);
    // The status the display sees says so (degraded, with the topic).
    await until(() => status.messages.some((m) => (m.json as { state?: string }).state === 'degraded'), 5000, 'the degraded status');
    const st = status.messages.filter((m) => (m.json as { state?: string }).state === 'degraded').at(-1)!.json as { reason: string; warnings: string[] };
    expect(st.reason).toMatch(/dermstream\/acl-1\/lesion/);
    expect(st.warnings.join(' ')).toMatch(/ACL/);
    expect(pub.stats().outbox.depth).toBe(2);
    expect(lesions.messages.length).toBe(0);

    // The ACL is fixed: the verdicts go out (retried from the outbox) and the problem clears.
    await broker.setAcl([...deny, 'user derm', 'topic write dermstream/acl-1/lesion']);
    await broker.reload();
    await until(() => lesions.messages.length >= 2, 40_000, 'the verdicts after the ACL fix');
    await until(() => pub!.stats().outbox.depth === 0, 5000, 'the outbox to drain');
    expect(states.at(-1)!.problem).toBeUndefined();
    await until(() => (status.messages.at(-1)!.json as { state?: string }).state === 'online', 5000, 'status online again');
    await status.close();
    await lesions.close();
  }, 60_000);
});
