/**
 * Issue 10 items 10 and 1 for the bridge, as `dermstream bridge …` runs it, against Mosquitto with TLS and a
 * password file: the bridge authenticates with --mqtt-username / --mqtt-password-file over --mqtt-ca, keeps
 * retrying while the broker refuses the user (naming the flags to fix, /healthz 503), delivers once the user is
 * added, and no line it logs — at debug level — contains the password.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mosquittoAvailable, mosquittoSkipReason, freePort, startMosquitto, type Mosquitto } from '../publish/helpers/mosquitto.js';
import { makePki, opensslAvailable, opensslSkipReason, type TestPki } from '../publish/helpers/pki.js';
import { episodeIdOfSpec, episodeMessages } from './helpers/episodes.js';
import { waitUntil } from './helpers/publish.js';
import { connect } from 'mqtt';

if (!mosquittoAvailable) console.warn(mosquittoSkipReason);
if (!opensslAvailable) console.warn(opensslSkipReason);

const PASSWORD = 'Br1dge-PW-9c41e';

describe.skipIf(!mosquittoAvailable || !opensslAvailable)('bridge credentials and TLS', () => {
  let pki: TestPki;
  let broker: Mosquitto;
  let dir: string;
  const children: ChildProcess[] = [];
  beforeAll(async () => {
    pki = await makePki();
    broker = await startMosquitto({ tls: { caFile: pki.ca, certFile: pki.server.cert, keyFile: pki.server.key }, users: { device: 'dev1ce' } });
    dir = await mkdtemp(join(tmpdir(), 'bridgecred-'));
  });
  afterAll(async () => {
    for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
    await broker?.dispose();
    await pki?.dispose();
    await rm(dir, { recursive: true, force: true });
  });

  it('authenticates from a password file over TLS, retries a refusal, and never logs the password', async () => {
    const out = join(dir, 'obs.ndjson');
    const pwFile = join(dir, 'ehr.pw');
    await writeFile(pwFile, `${PASSWORD}\n`);
    const httpPort = await freePort();
    const script = new URL('./helpers/cli_child.ts', import.meta.url).pathname;
    const args = ['bridge', '--broker', broker.url, '--out', out, '--group', 'cred', '--mqtt-username', 'ehr', '--mqtt-password-file', pwFile, '--mqtt-ca', pki.ca];
    const child = spawn(process.execPath, ['--import', 'tsx', script, ...args, '--http-port', String(httpPort), '--stats-interval', '1', '--log-level', 'debug'], { stdio: ['ignore', 'pipe', 'pipe'] });
    children.push(child);
    let logs = '';
    child.stdout!.on('data', (d) => (logs += d));
    child.stderr!.on('data', (d) => (logs += d));

    // The user does not exist yet: refused, named, retried; not healthy.
    await waitUntil(() => logs.includes('refused the credentials'), 20_000, 'the refusal to be logged');
    expect(logs).toMatch(/--mqtt-password-file/);
    await waitUntil(async () => (await fetch(`http://127.0.0.1:${httpPort}/healthz`).catch(() => null))?.status === 503, 5000, '/healthz 503');

    await broker.addUser('ehr', PASSWORD);
    await broker.reload();
    await waitUntil(() => logs.includes('bridge: subscribed'), 40_000, 'the bridge to subscribe after the user was added');
    expect((await fetch(`http://127.0.0.1:${httpPort}/healthz`)).status).toBe(200);

    const pub = connect(broker.url, { ca: readFileSync(pki.ca), username: 'device', password: 'dev1ce', protocolVersion: 5 });
    await new Promise<void>((r) => pub.once('connect', () => r()));
    // One examination (tracking, stable verdicts, ended): the bridge writes its one Observation on `ended`.
    const spec = { deviceId: 'cred-01', sessionId: 'cred', n: 0, seq: 1 };
    for (const m of episodeMessages(spec)) {
      await new Promise<void>((r, j) => pub.publish(`dermstream/${m.deviceId}/lesion`, JSON.stringify(m), { qos: 1 }, (e) => (e ? j(e) : r())));
    }
    await waitUntil(async () => (await readFile(out, 'utf8').catch(() => '')).includes(episodeIdOfSpec(spec)), 10_000, 'the Observation');
    await new Promise<void>((r) => pub.end(false, {}, () => r()));

    const exit = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
    child.kill('SIGTERM');
    expect(await exit).toBe(0);
    expect(logs.length).toBeGreaterThan(500);
    expect(logs).not.toContain(PASSWORD);
  }, 90_000);

  it('takes credentials out of a URL and does not log them either', async () => {
    await broker.addUser('urluser', PASSWORD);
    await broker.reload();
    const out = join(dir, 'obs-url.ndjson');
    const script = new URL('./helpers/cli_child.ts', import.meta.url).pathname;
    const url = broker.url.replace('mqtts://', `mqtts://urluser:${PASSWORD}@`);
    const child = spawn(process.execPath, ['--import', 'tsx', script, 'bridge', '--broker', url, '--out', out, '--mqtt-ca', pki.ca, '--stats-interval', '0', '--log-level', 'debug'], { stdio: ['ignore', 'pipe', 'pipe'] });
    children.push(child);
    let logs = '';
    child.stdout!.on('data', (d) => (logs += d));
    child.stderr!.on('data', (d) => (logs += d));
    await waitUntil(() => logs.includes('bridge: subscribed'), 30_000, 'the bridge to subscribe');
    expect(logs).toMatch(/credentials in the broker URL/);
    const exit = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
    child.kill('SIGTERM');
    expect(await exit).toBe(0);
    expect(logs).not.toContain(PASSWORD);
  }, 60_000);

  it('refuses a text file as --mqtt-ca with the flag named (EX_CONFIG)', async () => {
    const notes = join(dir, 'notes.txt');
    await writeFile(notes, 'ask IT for the CA\n');
    const script = new URL('./helpers/cli_child.ts', import.meta.url).pathname;
    const child = spawn(process.execPath, ['--import', 'tsx', script, 'bridge', '--broker', broker.url, '--out', join(dir, 'x.ndjson'), '--mqtt-ca', notes], { stdio: ['ignore', 'pipe', 'pipe'] });
    children.push(child);
    let logs = '';
    child.stdout!.on('data', (d) => (logs += d));
    const code = await new Promise<number | null>((r) => child.once('exit', (c) => r(c)));
    expect(logs).toMatch(/--mqtt-ca: .*not a PEM certificate/);
    expect(code).not.toBe(0);
  }, 30_000);
});
