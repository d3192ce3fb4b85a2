/**
 * The EHR bridge against a real Mosquitto (MQTT 5 shared subscriptions, QoS 1, persistent sessions).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startBridge, validateObservation, messageIdOfObservation, toObservation, type Bridge } from '../../src/bridge/index.js';
import type { LesionMessage } from '../../src/publish/wire_message.js';
import { mosquittoAvailable, mosquittoSkipReason, startMosquitto, type Mosquitto } from '../publish/helpers/mosquitto.js';
import { lesionMessage } from '../client/helpers/messages.js';
import { publisher, waitUntil } from './helpers/publish.js';

if (!mosquittoAvailable) console.warn(mosquittoSkipReason);

async function idsOf(file: string): Promise<string[]> {
  let text = '';
  try {
    text = await readFile(file, 'utf8');
  } catch {
    return [];
  }
  return text
    .split('\n')
    .filter(Boolean)
    .map((l) => {
      const obs = JSON.parse(l);
      const check = validateObservation(obs);
      if (!check.ok) throw new Error(`invalid Observation in ${file}: ${check.errors.join('; ')}`);
      return messageIdOfObservation(obs)!;
    });
}

const topicOf = (m: LesionMessage) => `dermstream/${m.deviceId}/lesion`;

describe.skipIf(!mosquittoAvailable)('EHR bridge on Mosquitto', () => {
  let broker: Mosquitto;
  let dir: string;
  const bridges: Bridge[] = [];
  const children: ChildProcess[] = [];
  const servers: Server[] = [];

  beforeAll(async () => {
    broker = await startMosquitto();
  });
  afterAll(async () => {
    await broker?.dispose();
  });
  afterEach(async () => {
    for (const b of bridges.splice(0)) await b.close();
    for (const c of children.splice(0)) if (c.exitCode === null) c.kill('SIGKILL');
    for (const s of servers.splice(0)) await new Promise((r) => s.close(r));
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('two workers share the stable verdicts: each distinct id exactly once, both get some; duplicates, non-stable and bad messages dropped and counted', async () => {
    dir = await mkdtemp(join(tmpdir(), 'bridge-'));
    const group = `g${Date.now()}`;
    const a = await startBridge({ brokerUrl: broker.url, out: join(dir, 'a.ndjson'), group });
    const b = await startBridge({ brokerUrl: broker.url, out: join(dir, 'b.ndjson'), group });
    bridges.push(a, b);
    expect(a.topic).toBe(`$share/${group}/dermstream/+/lesion`);
    expect(a.clientId).not.toBe(b.clientId);

    const pub = await publisher(broker.url);
    const N = 60;
    const stable = Array.from({ length: N }, (_, i) => lesionMessage({ seq: i, deviceId: i % 2 ? 'derm-02' : 'derm-01', label: i % 3 ? 'benign' : 'malignant' }));
    const states = ['tracking', 'indeterminate', 'lost', 'searching'] as const;
    const nonStable = Array.from({ length: 20 }, (_, i) => lesionMessage({ seq: N + i, deviceId: 'derm-01', state: states[i % 4] }));
    let published = 0;
    let dups = 0;
    for (let i = 0; i < N; i++) {
      await pub.send(topicOf(stable[i]!), stable[i]!);
      published++;
      if (i % 4 === 1) {
        // The same message again (a device re-send): with round-robin it usually lands on the other worker.
        await pub.send(topicOf(stable[i - 1]!), stable[i - 1]!);
        published++;
        dups++;
      }
      if (i % 3 === 0) {
        await pub.send(topicOf(nonStable[i / 3]!), nonStable[i / 3]!);
        published++;
      }
      if (i === 20) {
        await pub.send('dermstream/derm-01/lesion', 'not json {');
        const bad = JSON.parse(JSON.stringify(stable[0])) as any;
        bad.messageId = 'derm-01:s1:lesion:999';
        bad.seq = 999;
        bad.probabilities.malignant = 2;
        await pub.send('dermstream/derm-01/lesion', bad);
        await pub.send('dermstream/derm-02/lesion', lesionMessage({ seq: 998, deviceId: 'derm-01' })); // topic and payload disagree
        published += 3;
      }
    }
    await waitUntil(() => a.stats().received + b.stats().received === published, 30_000, `all ${published} messages handled`);

    const ida = await idsOf(a.out);
    const idb = await idsOf(b.out);
    const union = [...ida, ...idb];
    expect(union.length).toBe(N);
    expect(new Set(union).size).toBe(N);
    expect(new Set(union)).toEqual(new Set(stable.map((m) => m.messageId)));
    expect(ida.length).toBeGreaterThan(0);
    expect(idb.length).toBeGreaterThan(0);

    // `written` moves after fdatasync returns, a moment after the line is in the file.
    await waitUntil(() => a.stats().written + b.stats().written === N, 10_000, 'the written counters');
    const sa = a.stats();
    const sb = b.stats();
    expect(sa.written + sb.written).toBe(N);
    expect(sa.duplicates.local + sa.duplicates.group + sb.duplicates.local + sb.duplicates.group).toBe(dups);
    expect(sa.skipped.notStable + sb.skipped.notStable).toBe(nonStable.length);
    expect(sa.invalid.json + sb.invalid.json).toBe(1);
    expect(sa.invalid.schema + sb.invalid.schema).toBe(1);
    expect(sa.invalid.topic + sb.invalid.topic).toBe(1);
    expect(sa.subscription.handlerErrors + sb.subscription.handlerErrors).toBe(0);
    // Invalid messages are kept for a human, with the reason.
    const dead = [a.out, b.out].map((o) => `${o}.rejected.ndjson`);
    const deadLines = (await Promise.all(dead.map((p) => readFile(p, 'utf8').catch(() => '')))).join('').split('\n').filter(Boolean).map((l) => JSON.parse(l));
    expect(deadLines.map((d) => d.reason).sort()).toEqual(['json', 'schema', 'topic']);
    console.log(`[bridge] worker a wrote ${ida.length}, worker b ${idb.length}; duplicates dropped: a ${JSON.stringify(sa.duplicates)}, b ${JSON.stringify(sb.duplicates)}`);

    // Still running after the malformed ones: a new verdict goes through.
    const late = lesionMessage({ seq: 500, deviceId: 'derm-01' });
    await pub.send(topicOf(late), late);
    await waitUntil(async () => [...(await idsOf(a.out)), ...(await idsOf(b.out))].includes(late.messageId), 10_000, 'the verdict after the malformed messages');
    await pub.close();
  });

  it('a restarted worker does not re-emit what it wrote before (de-dup record re-read from its NDJSON)', async () => {
    dir = await mkdtemp(join(tmpdir(), 'bridge-'));
    const out = join(dir, 'solo.ndjson');
    const group = `r${Date.now()}`;
    // No shared claims: this checks the worker's own persistent record alone.
    const first = await startBridge({ brokerUrl: broker.url, out, group, claimsDir: null });
    const pub = await publisher(broker.url);
    const msgs = Array.from({ length: 10 }, (_, i) => lesionMessage({ seq: i, sessionId: 'restart' }));
    for (const m of msgs) await pub.send(topicOf(m), m);
    await waitUntil(() => first.stats().written === 10, 10_000, 'first run written');
    await first.close();

    const second = await startBridge({ brokerUrl: broker.url, out, group, claimsDir: null });
    bridges.push(second);
    expect(second.stats().startup.recoveredIds).toBe(10);
    for (const m of msgs) await pub.send(topicOf(m), m); // a device replaying its outbox after a restart
    const extra = lesionMessage({ seq: 10, sessionId: 'restart' });
    await pub.send(topicOf(extra), extra);
    await waitUntil(() => second.stats().subscription.settled === 11, 10_000, 'replay handled');
    expect(second.stats().duplicates.local).toBe(10);
    expect(second.stats().written).toBe(1);
    const ids = await idsOf(out);
    expect(ids).toEqual([...msgs, extra].map((m) => m.messageId));
    await pub.close();
  });

  it('a worker that stops (gracefully) leaves the group first: the others get every new verdict at once', async () => {
    dir = await mkdtemp(join(tmpdir(), 'bridge-'));
    const group = `l${Date.now()}`;
    const a = await startBridge({ brokerUrl: broker.url, out: join(dir, 'a.ndjson'), group });
    const b = await startBridge({ brokerUrl: broker.url, out: join(dir, 'b.ndjson'), group });
    bridges.push(b);
    await a.close();
    const pub = await publisher(broker.url);
    const msgs = Array.from({ length: 10 }, (_, i) => lesionMessage({ seq: i, sessionId: 'leave' }));
    for (const m of msgs) await pub.send(topicOf(m), m);
    await waitUntil(() => b.stats().written === 10, 10_000, 'the remaining worker to write all 10');
    await pub.close();
  });

  it('kill -9 of a worker mid-stream loses nothing and duplicates nothing (ack only after the fsync, persistent session)', async () => {
    dir = await mkdtemp(join(tmpdir(), 'bridge-'));
    const out = join(dir, 'k.ndjson');
    const group = `k${Date.now()}`;
    const script = new URL('./helpers/bridge_child.ts', import.meta.url).pathname;
    let written = 0;
    const startChild = async () => {
      const child = spawn(process.execPath, ['--import', 'tsx', script, broker.url, out, group], { stdio: ['ignore', 'pipe', 'inherit'] });
      children.push(child);
      await new Promise<void>((resolve, reject) => {
        let buf = '';
        child.stdout!.on('data', (d) => {
          buf += d;
          let nl: number;
          while ((nl = buf.indexOf('\n')) >= 0) {
            const line = buf.slice(0, nl);
            buf = buf.slice(nl + 1);
            if (line === 'ready') resolve();
            if (line.startsWith('stats ')) written = JSON.parse(line.slice(6)).written;
          }
        });
        child.once('exit', (code) => reject(new Error(`bridge child exited ${code}`)));
      });
      return child;
    };
    const child1 = await startChild();
    const pub = await publisher(broker.url);
    const total = 300;
    const msgs = Array.from({ length: total }, (_, i) => lesionMessage({ seq: i, sessionId: 'kill9' }));
    let sent = 0;
    const sending = (async () => {
      for (const m of msgs) {
        await pub.send(topicOf(m), m);
        sent++;
        if (sent % 10 === 0) await new Promise((r) => setTimeout(r, 5));
      }
    })();
    await waitUntil(() => written >= 60, 30_000, 'the child to write some');
    child1.kill('SIGKILL');
    await new Promise((r) => child1.once('exit', r));
    const atKill = (await idsOf(out)).length;
    await sending; // the broker queues the rest for the (offline) persistent session
    written = 0;
    await startChild();
    await waitUntil(async () => (await idsOf(out)).length >= total, 60_000, 'all verdicts after the restart');
    await new Promise((r) => setTimeout(r, 300)); // anything extra would show up now
    const ids = await idsOf(out);
    expect(ids.length).toBe(total);
    expect(new Set(ids)).toEqual(new Set(msgs.map((m) => m.messageId)));
    console.log(`[bridge] kill -9 after ${atKill} of ${total} written; after restart ${ids.length} lines, ${new Set(ids).size} distinct`);
    await pub.close();
  });

  it('POSTs each Observation to the FHIR server (503, 503, 201) and does not re-send it after a restart', async () => {
    dir = await mkdtemp(join(tmpdir(), 'bridge-'));
    const hits: { headers: Record<string, unknown>; body: any }[] = [];
    const server = createServer((req, res) => {
      let body = '';
      req.on('data', (d) => (body += d));
      req.on('end', () => {
        hits.push({ headers: req.headers, body: JSON.parse(body) });
        const status = hits.length <= 2 ? 503 : 201;
        res.writeHead(status, { 'content-type': 'application/fhir+json' }).end(status === 201 ? body : '{"resourceType":"OperationOutcome","issue":[{"severity":"error","code":"transient"}]}');
      });
    });
    servers.push(server);
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    const fhirUrl = `http://127.0.0.1:${(server.address() as { port: number }).port}/fhir`;
    await writeFile(join(dir, 'token'), 'abc123');
    const out = join(dir, 'f.ndjson');
    const group = `f${Date.now()}`;
    const opts = { brokerUrl: broker.url, out, group, fhirUrl, fhirTokenFile: join(dir, 'token'), fhir: { baseDelayMs: 50 } };
    const bridge = await startBridge(opts);
    const pub = await publisher(broker.url);
    const m = lesionMessage({ seq: 1, sessionId: 'fhir' });
    await pub.send(topicOf(m), m);
    await waitUntil(() => bridge.stats().written === 1, 10_000, 'written');
    await bridge.fhirIdle();
    await waitUntil(() => (bridge.stats().fhir?.created ?? 0) === 1, 10_000, 'delivered');
    expect(hits).toHaveLength(3);
    expect(hits[2]!.body).toEqual(toObservation(m));
    expect(hits[2]!.headers['if-none-exist']).toBe(`identifier=${encodeURIComponent(`urn:dermstream:message|${m.messageId}`)}`);
    expect(hits[2]!.headers.authorization).toBe('Bearer abc123');
    expect(bridge.stats().fhir).toMatchObject({ created: 1, retries: 2, rejected: 0, failed: 0 });
    await bridge.close();

    const again = await startBridge(opts);
    bridges.push(again);
    await again.fhirIdle();
    expect(again.stats().startup.fhirRequeued).toBe(0);
    expect(hits).toHaveLength(3);
    await pub.close();
  });

  it('re-sends, on start, an Observation that was written but never reached the FHIR server', async () => {
    dir = await mkdtemp(join(tmpdir(), 'bridge-'));
    const out = join(dir, 'p.ndjson');
    const m = lesionMessage({ seq: 3, sessionId: 'pending' });
    await writeFile(out, `${JSON.stringify(toObservation(m))}\n`);
    const hits: string[] = [];
    const server = createServer((req, res) => {
      let body = '';
      req.on('data', (d) => (body += d));
      req.on('end', () => {
        hits.push(messageIdOfObservation(JSON.parse(body))!);
        res.writeHead(201).end();
      });
    });
    servers.push(server);
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    const bridge = await startBridge({ brokerUrl: broker.url, out, group: `p${Date.now()}`, fhirUrl: `http://127.0.0.1:${(server.address() as { port: number }).port}` });
    bridges.push(bridge);
    await bridge.fhirIdle();
    expect(bridge.stats().startup.fhirRequeued).toBe(1);
    expect(hits).toEqual([m.messageId]);
  });

  it('runs as `dermstream bridge …`: options parsed, counters on GET /stats, clean exit on SIGTERM', async () => {
    dir = await mkdtemp(join(tmpdir(), 'bridge-'));
    const out = join(dir, 'cli.ndjson');
    const { createServer: netServer } = await import('node:net');
    const httpPort = await new Promise<number>((resolve) => {
      const s = netServer().listen(0, '127.0.0.1', () => {
        const p = (s.address() as { port: number }).port;
        s.close(() => resolve(p));
      });
    });
    const script = new URL('./helpers/cli_child.ts', import.meta.url).pathname;
    const args = ['bridge', '--broker', broker.url, '--out', out, '--group', `cli${Date.now()}`, '--device', 'derm-05', '--http-port', String(httpPort), '--stats-interval', '0', '--log-level', 'info'];
    const child = spawn(process.execPath, ['--import', 'tsx', script, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    children.push(child);
    let logs = '';
    child.stdout!.on('data', (d) => (logs += d));
    child.stderr!.on('data', (d) => (logs += d));
    await waitUntil(() => logs.includes('bridge: subscribed'), 30_000, 'the CLI bridge to subscribe');
    const pub = await publisher(broker.url);
    const m = lesionMessage({ seq: 1, deviceId: 'derm-05', sessionId: 'cli' });
    await pub.send(topicOf(m), m);
    await pub.send(topicOf(lesionMessage({ seq: 2, deviceId: 'derm-06', sessionId: 'cli' })), lesionMessage({ seq: 2, deviceId: 'derm-06', sessionId: 'cli' })); // other device: not subscribed
    await waitUntil(async () => (await idsOf(out)).length === 1, 10_000, 'the CLI bridge to write');
    // The line reaches the file before fdatasync returns and the counter moves: wait for the counter too.
    const statsOf = async () => (await fetch(`http://127.0.0.1:${httpPort}/stats`)).json();
    await waitUntil(async () => (await statsOf()).written === 1, 10_000, 'the written counter');
    const stats = await statsOf();
    expect(stats).toMatchObject({ received: 1, written: 1, invalid: { json: 0, schema: 0, topic: 0 } });
    expect((await fetch(`http://127.0.0.1:${httpPort}/healthz`)).status).toBe(200);
    const exit = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
    child.kill('SIGTERM');
    expect(await exit).toBe(0);
    expect(logs).toMatch(/bridge: final counters/);
    expect(await idsOf(out)).toEqual([m.messageId]);
    await pub.close();
  });

  it('measures throughput: two workers, 500 stable verdicts', async () => {
    dir = await mkdtemp(join(tmpdir(), 'bridge-'));
    const group = `t${Date.now()}`;
    const a = await startBridge({ brokerUrl: broker.url, out: join(dir, 'a.ndjson'), group });
    const b = await startBridge({ brokerUrl: broker.url, out: join(dir, 'b.ndjson'), group });
    bridges.push(a, b);
    const pub = await publisher(broker.url);
    const n = 500;
    const msgs = Array.from({ length: n }, (_, i) => lesionMessage({ seq: i, sessionId: 'tput' }));
    const t0 = performance.now();
    await Promise.all(msgs.map((m) => pub.send(topicOf(m), m)));
    await waitUntil(() => a.stats().written + b.stats().written === n, 60_000, 'all written');
    const ms = performance.now() - t0;
    const [wa, wb] = [a.stats().written, b.stats().written];
    await a.close();
    await b.close();
    bridges.length = 0;
    expect(new Set([...(await idsOf(a.out)), ...(await idsOf(b.out))]).size).toBe(n);
    const one = await startBridge({ brokerUrl: broker.url, out: join(dir, 'one.ndjson'), group: `t1${Date.now()}` });
    bridges.push(one);
    const msgs1 = Array.from({ length: n }, (_, i) => lesionMessage({ seq: i, sessionId: 'tput1' }));
    const t1 = performance.now();
    await Promise.all(msgs1.map((m) => pub.send(topicOf(m), m)));
    await waitUntil(() => one.stats().written === n, 60_000, 'all written (one worker)');
    const ms1 = performance.now() - t1;
    console.log(
      `[bridge] throughput: 2 workers ${Math.round((n / ms) * 1000)} verdicts/s (a ${wa}, b ${wb}); 1 worker ${Math.round((n / ms1) * 1000)} verdicts/s — each verdict validated, mapped, FHIR-checked, appended + fdatasync'ed before its PUBACK`,
    );
    await pub.close();
  });
});
