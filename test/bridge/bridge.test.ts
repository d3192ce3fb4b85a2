/**
 * The EHR bridge against real brokers: Mosquitto (MQTT 5 shared subscriptions, QoS 1, persistent sessions), the
 * default run's embedded broker (child Mosquitto, and aedes with the 3.1.1 fallback). One Observation per episode,
 * each line valid against HL7's R4 JSON schema.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startBridge, validateObservation, episodeIdOfObservation, type Bridge, type BridgeOptions } from '../../src/bridge/index.js';
import { startEmbeddedBroker } from '../../src/publish/embedded_broker.js';
import type { LesionMessage } from '../../src/publish/wire_message.js';
import { mosquittoAvailable, mosquittoSkipReason, startMosquitto, type Mosquitto } from '../publish/helpers/mosquitto.js';
import { statusMessage } from '../client/helpers/messages.js';
import { endedMessage, episodeIdOfSpec, episodeMessages, legacyStable, snapshotOf, type EpisodeSpec } from './helpers/episodes.js';
import { publisher, waitUntil } from './helpers/publish.js';

if (!mosquittoAvailable) console.warn(mosquittoSkipReason);

interface Line {
  id: string;
  episodeId: string;
  status: string;
  obs: any;
  file: string;
}

/** Every line of the files, each checked against the HL7 R4 schema (throws naming the file and errors). */
async function linesOf(...files: string[]): Promise<Line[]> {
  const out: Line[] = [];
  for (const file of files) {
    let text = '';
    try {
      text = await readFile(file, 'utf8');
    } catch {
      continue;
    }
    for (const l of text.split('\n').filter(Boolean)) {
      const obs = JSON.parse(l);
      const check = validateObservation(obs);
      if (!check.ok) throw new Error(`invalid Observation in ${file}: ${check.errors.join('; ')}`);
      out.push({ id: obs.id, episodeId: episodeIdOfObservation(obs)!, status: obs.status, obs, file });
    }
  }
  return out;
}

/** What an NDJSON reader keeps: the last version per resource id. */
function observations(lines: Line[]): Map<string, Line> {
  const m = new Map<string, Line>();
  for (const l of lines) m.set(l.id, l);
  return m;
}

const topicOf = (m: LesionMessage) => `dermstream/${m.deviceId}/lesion`;
const devices = ['derm-01', 'derm-02'];
const specs = (from: number, to: number): EpisodeSpec[] => Array.from({ length: to - from }, (_, i) => ({ deviceId: devices[(from + i) % 2], n: from + i, seq: (from + i) * 10, verdict: (from + i) % 3 ? 'benign' : 'malignant' }));

describe.skipIf(!mosquittoAvailable)('EHR bridge on Mosquitto', () => {
  let broker: Mosquitto;
  let dir: string;
  const bridges: Bridge[] = [];
  const children: ChildProcess[] = [];
  const servers: Server[] = [];
  const start = async (o: BridgeOptions) => {
    const b = await startBridge(o);
    bridges.push(b);
    return b;
  };

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

  it('two workers and a restart in the middle: one final Observation per episode, duplicates and 1.0.0 messages write nothing', async () => {
    dir = await mkdtemp(join(tmpdir(), 'bridge-'));
    const group = `g${Date.now()}`;
    const outA = join(dir, 'a.ndjson');
    const outB = join(dir, 'b.ndjson');
    let a = await start({ brokerUrl: broker.url, out: outA, group });
    const b = await start({ brokerUrl: broker.url, out: outB, group });
    expect(a.topic).toBe(`$share/${group}/dermstream/+/lesion`);
    expect(a.stats()).toMatchObject({ protocolVersion: 5, shared: true });
    expect(a.clientId).not.toBe(b.clientId);

    const pub = await publisher(broker.url);
    const first = specs(0, 12);
    const second = specs(12, 24);
    let published = 0;
    const sendEpisodes = async (list: EpisodeSpec[]) => {
      for (const [i, e] of list.entries()) {
        const msgs = episodeMessages(e);
        for (const m of msgs) await pub.send(topicOf(m), m);
        published += msgs.length;
        if (i % 4 === 1) {
          await pub.send(topicOf(msgs.at(-1)!), msgs.at(-1)!); // the device re-sends its ended message (lost PUBACK)
          published++;
        }
      }
    };
    await sendEpisodes(first);
    await pub.send('dermstream/derm-01/lesion', legacyStable(900));
    await pub.send('dermstream/derm-01/lesion', 'not json {');
    published += 2;
    await waitUntil(() => a.stats().received + b.stats().received === published, 30_000, `the first ${published} messages handled`);

    // Restart worker a: same output file, so the same client id and persistent session.
    const aBefore = a.stats().received;
    await a.close();
    bridges.splice(bridges.indexOf(a), 1);
    a = await start({ brokerUrl: broker.url, out: outA, group });
    expect(a.stats().startup.recoveredIds).toBeGreaterThan(0);
    await sendEpisodes(second);
    await waitUntil(() => aBefore + a.stats().received + b.stats().received === published, 30_000, `all ${published} messages handled`);

    const all = [...first, ...second];
    // `received` moves when a message is taken, the line a moment later (lock, append, fdatasync): wait for the lines.
    await waitUntil(async () => (await linesOf(outA, outB)).length >= all.length, 10_000, 'a line per episode');
    await new Promise((r) => setTimeout(r, 300)); // anything extra would show up now
    const lines = await linesOf(outA, outB);
    const obs = observations(lines);
    const missing = all.map(episodeIdOfSpec).filter((id) => !lines.some((l) => l.episodeId === id));
    if (missing.length) console.log('[bridge] missing', missing, JSON.stringify({ a: a.stats(), b: b.stats(), aBefore }));
    expect(lines.length).toBe(all.length); // not one line more: no duplicate version of any episode
    expect(new Set(lines.map((l) => l.episodeId))).toEqual(new Set(all.map(episodeIdOfSpec)));
    expect([...obs.values()].every((l) => l.status === 'final')).toBe(true);
    for (const e of all) {
      const l = [...obs.values()].find((x) => x.episodeId === episodeIdOfSpec(e))!;
      expect(l.obs.valueCodeableConcept.coding[0].code).toBe(e.verdict === 'malignant' ? '363346000' : '20376005');
    }
    expect((await linesOf(outA)).length).toBeGreaterThan(0);
    expect((await linesOf(outB)).length).toBeGreaterThan(0);
    const sa = a.stats();
    const sb = b.stats();
    expect(sa.skipped.noEpisode + sb.skipped.noEpisode).toBeLessThanOrEqual(1); // the 1.0.0 message (maybe on the old a)
    expect(sa.subscription.handlerErrors + sb.subscription.handlerErrors).toBe(0);
    console.log(`[bridge] 2 workers + restart: ${all.length} episodes → ${lines.length} lines (a ${(await linesOf(outA)).length}, b ${(await linesOf(outB)).length}), ${obs.size} Observations`);
    await pub.close();
  });

  it('device dies mid-episode: preliminary Observation after the silence, updated to final (same id) when ended arrives — one Observation', async () => {
    dir = await mkdtemp(join(tmpdir(), 'bridge-'));
    const group = `p${Date.now()}`;
    const outA = join(dir, 'a.ndjson');
    const outB = join(dir, 'b.ndjson');
    const opts = { brokerUrl: broker.url, group, provisionalAfterMs: 600, scanIntervalMs: 100 };
    const a = await start({ ...opts, out: outA });
    const b = await start({ ...opts, out: outB });
    const pub = await publisher(broker.url);
    const spec: EpisodeSpec = { deviceId: 'derm-07', sessionId: 'died', n: 0, seq: 0, verdict: 'malignant', stableCount: 4 };
    const msgs = episodeMessages(spec);
    for (const m of msgs.slice(0, -1)) await pub.send(topicOf(m), m); // everything but the ended message
    await waitUntil(async () => (await linesOf(outA, outB)).length === 1, 10_000, 'the preliminary observation');
    let lines = await linesOf(outA, outB);
    expect(lines[0]).toMatchObject({ status: 'preliminary', episodeId: episodeIdOfSpec(spec) });
    // From the LAST stable verdict, whichever worker had received it.
    expect(lines[0]!.obs.component.find((c: any) => c.code.coding[0].code === 'verdict-frame-seq').valueInteger).toBe(msgs.at(-2)!.frame.seq);
    await new Promise((r) => setTimeout(r, 800)); // more scans: nothing more is written
    expect((await linesOf(outA, outB)).length).toBe(1);

    await pub.send(topicOf(msgs.at(-1)!), msgs.at(-1)!); // the device comes back and its outbox delivers the end
    await waitUntil(async () => (await linesOf(outA, outB)).length === 2, 10_000, 'the final version');
    lines = await linesOf(outA, outB);
    expect(lines.map((l) => l.status)).toEqual(['preliminary', 'final']);
    expect(lines[0]!.id).toBe(lines[1]!.id);
    expect(observations(lines).size).toBe(1);
    await waitUntil(() => a.stats().writtenBy.finalAfterPreliminary + b.stats().writtenBy.finalAfterPreliminary === 1, 5000, 'the counter');
    // A late stable message of the ended episode changes nothing.
    await pub.send(topicOf(msgs[2]!), msgs[2]!);
    await new Promise((r) => setTimeout(r, 800));
    expect((await linesOf(outA, outB)).length).toBe(2);
    await pub.close();
  });

  it('the best frame: a snapshot published during the episode ends up in the final Observation as a contained Media', async () => {
    dir = await mkdtemp(join(tmpdir(), 'bridge-'));
    const out = join(dir, 's.ndjson');
    const bridge = await start({ brokerUrl: broker.url, out, group: `s${Date.now()}` });
    const pub = await publisher(broker.url);
    const msgs = episodeMessages({ deviceId: 'derm-12', sessionId: 'snap', n: 0, seq: 0 });
    const ended = msgs.at(-1)!;
    const snap = await snapshotOf(ended, ended.episode!.bestFrameSeq!, Date.parse(ended.episode!.startedAt) + 500);
    await new Promise((r) => setTimeout(r, 200)); // the watcher's subscription is in place a moment after start
    await pub.send('dermstream/derm-12/snapshot', snap);
    for (const m of msgs) await pub.send(topicOf(m), m);
    await waitUntil(async () => (await linesOf(out)).length === 1, 10_000, 'the observation');
    const [line] = await linesOf(out);
    expect(line!.obs.derivedFrom).toEqual([expect.objectContaining({ reference: '#best-frame' })]);
    expect(line!.obs.contained[1]).toMatchObject({ resourceType: 'Media', content: { contentType: 'image/jpeg', data: snap.image.data } });
    // The counter moves after the line's fdatasync, a moment after the line is readable.
    await waitUntil(() => bridge.stats().writtenBy.final === 1, 5000, 'the final counter');
    expect(bridge.stats().writtenBy.final).toBe(1);
    await pub.close();
  });

  it('device status goes offline (its last will): the preliminary comes after the grace, without waiting for the silence timeout', async () => {
    dir = await mkdtemp(join(tmpdir(), 'bridge-'));
    const out = join(dir, 'o.ndjson');
    const bridge = await start({ brokerUrl: broker.url, out, group: `o${Date.now()}`, provisionalAfterMs: 600_000, offlineGraceMs: 300, scanIntervalMs: 100 });
    const pub = await publisher(broker.url);
    const spec: EpisodeSpec = { deviceId: 'derm-08', sessionId: 'lwt', n: 0, seq: 0 };
    const msgs = episodeMessages(spec);
    for (const m of msgs.slice(0, -1)) await pub.send(topicOf(m), m);
    await waitUntil(() => bridge.stats().received === msgs.length - 1, 10_000, 'the episode so far');
    await new Promise((r) => setTimeout(r, 500));
    expect(await linesOf(out)).toHaveLength(0); // online: the 10-minute silence timeout has not passed
    await pub.send('dermstream/derm-08/status', statusMessage('offline', { deviceId: 'derm-08', sessionId: 'lwt', lastWill: true }), { retain: true });
    await waitUntil(async () => (await linesOf(out)).length === 1, 10_000, 'the preliminary after offline');
    expect((await linesOf(out))[0]!.status).toBe('preliminary');
    await pub.send('dermstream/derm-08/status', '', { retain: true }); // clear the retained will for later tests
    await pub.close();
  });

  it('a preliminary written before a restart is updated to final after it (ledger and file survive the restart)', async () => {
    dir = await mkdtemp(join(tmpdir(), 'bridge-'));
    const out = join(dir, 'r.ndjson');
    const group = `r${Date.now()}`;
    const opts = { brokerUrl: broker.url, out, group, provisionalAfterMs: 400, scanIntervalMs: 100 };
    const first = await startBridge(opts);
    const pub = await publisher(broker.url);
    const spec: EpisodeSpec = { deviceId: 'derm-09', sessionId: 'restart', n: 5, seq: 0 };
    const msgs = episodeMessages(spec);
    for (const m of msgs.slice(0, -1)) await pub.send(topicOf(m), m);
    await waitUntil(async () => (await linesOf(out)).length === 1, 10_000, 'preliminary');
    await first.close();
    const second = await start(opts);
    await pub.send(topicOf(msgs.at(-1)!), msgs.at(-1)!);
    await pub.send(topicOf(msgs.at(-1)!), msgs.at(-1)!); // and again: a duplicate
    await waitUntil(() => second.stats().received === 2, 10_000, 'both ended copies');
    await waitUntil(async () => (await linesOf(out)).length >= 2, 10_000, 'the final line');
    await waitUntil(() => second.stats().duplicates.local === 1, 5000, 'the duplicate handled');
    const lines = await linesOf(out);
    expect(lines.map((l) => l.status)).toEqual(['preliminary', 'final']);
    expect(observations(lines).size).toBe(1);
    expect(second.stats().duplicates.local).toBe(1);
    await pub.close();
  });

  it('kill -9 of a worker mid-stream: every episode written once (ack only after the fsync, persistent session)', async () => {
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
    const total = 120;
    const ended = Array.from({ length: total }, (_, i) => endedMessage({ deviceId: 'derm-10', sessionId: 'kill9', n: i, seq: 0 }, i));
    const sending = (async () => {
      for (const [i, m] of ended.entries()) {
        await pub.send(topicOf(m), m);
        if (i % 10 === 9) await new Promise((r) => setTimeout(r, 5));
      }
    })();
    await waitUntil(() => written >= 20, 30_000, 'the child to write some');
    child1.kill('SIGKILL');
    await new Promise((r) => child1.once('exit', r));
    const atKill = (await linesOf(out)).length;
    await sending; // the broker queues the rest for the (offline) persistent session
    await startChild();
    await waitUntil(async () => (await linesOf(out)).length >= total, 60_000, 'all episodes after the restart');
    await new Promise((r) => setTimeout(r, 300));
    const lines = await linesOf(out);
    expect(lines.length).toBe(total);
    expect(observations(lines).size).toBe(total);
    console.log(`[bridge] kill -9 after ${atKill} of ${total} written; after restart ${lines.length} lines, ${observations(lines).size} Observations`);
    await pub.close();
  });

  it('sends the final to the FHIR server as a conditional update on the identifier (503, 503, 201), not again after a restart', async () => {
    dir = await mkdtemp(join(tmpdir(), 'bridge-'));
    const hits: { method: string; url: string; body: any }[] = [];
    const server = createServer((req, res) => {
      let body = '';
      req.on('data', (d) => (body += d));
      req.on('end', () => {
        hits.push({ method: req.method!, url: req.url!, body: JSON.parse(body) });
        const status = hits.length <= 2 ? 503 : 201;
        res.writeHead(status, { 'content-type': 'application/fhir+json' }).end(status === 201 ? body : '{"resourceType":"OperationOutcome","issue":[{"severity":"error","code":"transient"}]}');
      });
    });
    servers.push(server);
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    const fhirUrl = `http://127.0.0.1:${(server.address() as { port: number }).port}/fhir`;
    const out = join(dir, 'f.ndjson');
    const opts = { brokerUrl: broker.url, out, group: `f${Date.now()}`, fhirUrl, fhir: { baseDelayMs: 50 } };
    const bridge = await startBridge(opts);
    const pub = await publisher(broker.url);
    const spec: EpisodeSpec = { deviceId: 'derm-11', sessionId: 'fhir', n: 0, seq: 0 };
    const m = episodeMessages(spec).at(-1)!;
    await pub.send(topicOf(m), m);
    await waitUntil(() => (bridge.stats().fhir?.created ?? 0) === 1, 10_000, 'delivered');
    expect(hits).toHaveLength(3);
    expect(hits[2]!.method).toBe('PUT');
    expect(hits[2]!.url).toBe(`/fhir/Observation?identifier=${encodeURIComponent(`urn:dermstream:episode|${episodeIdOfSpec(spec)}`)}`);
    expect(hits[2]!.body).toMatchObject({ resourceType: 'Observation', status: 'final' });
    expect(validateObservation(hits[2]!.body).errors).toEqual([]);
    await bridge.close();
    const again = await start(opts);
    await again.fhirIdle();
    expect(again.stats().startup.fhirRequeued).toBe(0);
    expect(hits).toHaveLength(3);
    await pub.close();
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
    // A second bridge started on the same file (a second unit, a manual start) is refused with EX_CONFIG and the fix,
    // and touches neither the file nor the first one's MQTT session (same host and file: same client id).
    const twin = spawn(process.execPath, ['--import', 'tsx', script, ...args.filter((a, i) => a !== '--http-port' && args[i - 1] !== '--http-port')], { stdio: ['ignore', 'pipe', 'pipe'] });
    children.push(twin);
    let twinLogs = '';
    twin.stdout!.on('data', (d) => (twinLogs += d));
    twin.stderr!.on('data', (d) => (twinLogs += d));
    expect(await new Promise<number | null>((r) => twin.once('exit', (code) => r(code)))).toBe(78);
    expect(twinLogs).toMatch(/cli\.ndjson is already being written by another process .*fix: stop the other bridge, or give this one its own --out/);
    expect(twinLogs).not.toMatch(/bridge: subscribed/);
    const pub = await publisher(broker.url);
    const mine = episodeMessages({ deviceId: 'derm-05', sessionId: 'cli', n: 0, seq: 0 });
    const other = episodeMessages({ deviceId: 'derm-06', sessionId: 'cli', n: 0, seq: 0 }); // not subscribed
    for (const m of [...mine, ...other]) await pub.send(topicOf(m), m);
    await waitUntil(async () => (await linesOf(out)).length === 1, 10_000, 'the CLI bridge to write');
    const statsOf = async () => (await fetch(`http://127.0.0.1:${httpPort}/stats`)).json();
    await waitUntil(async () => (await statsOf()).written === 1, 10_000, 'the written counter');
    expect(await statsOf()).toMatchObject({ received: mine.length, written: 1, writtenBy: { final: 1 }, protocolVersion: 5, shared: true });
    expect((await fetch(`http://127.0.0.1:${httpPort}/healthz`)).status).toBe(200);
    const exit = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
    child.kill('SIGTERM');
    expect(await exit).toBe(0);
    expect(logs).toMatch(/bridge: final counters/);
    expect((await linesOf(out)).map((l) => l.episodeId)).toEqual(['derm-05:cli:ep0']);
    await pub.close();
  });
});

describe('EHR bridge on the default run\'s embedded broker', () => {
  let dir: string;
  const cleanup: (() => Promise<unknown>)[] = [];
  afterEach(async () => {
    for (const f of cleanup.splice(0).reverse()) await f().catch(() => undefined);
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  async function runEpisodes(engine: 'auto' | 'aedes', protocol: 4 | 5) {
    dir = await mkdtemp(join(tmpdir(), 'bridge-emb-'));
    const broker = await startEmbeddedBroker({ engine, tcpPort: 0, wsPort: 0, dataDir: join(dir, 'broker') });
    cleanup.push(() => broker.close());
    const warnings: string[] = [];
    const logger = { info() {}, warn: (_o: object, msg?: string) => warnings.push(msg ?? ''), error() {} };
    const bridge = await startBridge({ brokerUrl: broker.url, out: join(dir, 'e.ndjson'), logger });
    cleanup.push(() => bridge.close());
    const pub = await publisher(broker.url, protocol);
    cleanup.push(() => pub.close());
    const list = specs(0, 6);
    let n = 0;
    for (const e of list) for (const m of episodeMessages(e)) (await pub.send(topicOf(m), m), n++);
    await waitUntil(() => bridge.stats().received === n, 20_000, 'all messages');
    await waitUntil(async () => (await linesOf(bridge.out)).length === list.length, 10_000, 'one observation per episode');
    const lines = await linesOf(bridge.out);
    expect(observations(lines).size).toBe(list.length);
    return { broker, bridge, warnings };
  }

  it.skipIf(!mosquittoAvailable)('the child Mosquitto (default where installed): MQTT 5 and the shared subscription', async () => {
    const { broker, bridge } = await runEpisodes('auto', 5);
    expect(broker.engine).toBe('mosquitto');
    expect(bridge.stats()).toMatchObject({ protocolVersion: 5, shared: true });
  });

  it('aedes (where Mosquitto is absent): the bridge falls back to MQTT 3.1.1, a plain subscription, and says so', async () => {
    const { broker, bridge, warnings } = await runEpisodes('aedes', 4);
    expect(broker.engine).toBe('aedes');
    expect(bridge.stats()).toMatchObject({ protocolVersion: 4, shared: false });
    expect(bridge.topic).toBe('dermstream/+/lesion');
    expect(warnings.join('\n')).toMatch(/does not speak MQTT 5.*run ONE bridge worker/);
  });
});
