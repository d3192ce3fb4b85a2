/**
 * Issue 10 items 1 and 14 on the service as a process, against Mosquitto with a password file:
 * - a refused password leaves /healthz not ready with the key to fix in its reason; once the user is added the
 *   service reconnects by itself (back-off) and turns ready, without a restart;
 * - SIGHUP does not kill it (it used to exit 129 without a log line): it logs that the configuration is valid and
 *   keeps running; SIGTERM still stops it cleanly.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort, mosquittoAvailable, mosquittoSkipReason, startMosquitto, type Mosquitto } from '../publish/helpers/mosquitto.js';

const ROOT = resolve(__dirname, '../..');
const BUILT = existsSync(join(ROOT, 'dist/src/service/cli.js'));
const PASSWORD = 'Svc-PW-31d7';

if (!mosquittoAvailable) console.warn(mosquittoSkipReason);

async function health(port: number): Promise<{ status: number; body: { checks: Record<string, { ok: boolean; reason?: string }> } } | null> {
  try {
    const r = await fetch(`http://127.0.0.1:${port}/healthz`);
    return { status: r.status, body: await r.json() };
  } catch {
    return null;
  }
}

async function until<T>(what: string, fn: () => Promise<T | undefined | null | false> | T | undefined | null | false, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe.skipIf(!mosquittoAvailable)('the service when the broker refuses it, and on SIGHUP', () => {
  let broker: Mosquitto;
  const tmp = mkdtempSync(join(tmpdir(), 'dermstream-hard-'));
  let proc: ChildProcess | undefined;
  beforeAll(async () => {
    broker = await startMosquitto({ users: { display: 'd1splay' } });
  });
  afterAll(async () => {
    if (proc && proc.exitCode === null) proc.kill('SIGKILL');
    await broker?.dispose();
    rmSync(tmp, { recursive: true, force: true });
  });

  it('not ready while refused, ready after the user is added; SIGHUP logged and survived', async () => {
    const port = await freePort();
    const pw = join(tmp, 'pw');
    writeFileSync(pw, `${PASSWORD}\n`);
    const entry = BUILT ? [join(ROOT, 'bin/dermstream.js')] : ['--import', 'tsx', join(ROOT, 'src/service/cli.ts')];
    const args = ['run', '--broker', broker.url, '--mqtt-username', 'derm', '--mqtt-password-file', pw, '--device-id', 'hard-1', '--state-dir', join(tmp, 'state'), '--http-port', String(port), '--log-json', '--source', 'test', '--set', 'pipeline.qualityGate=false', '--set', 'mqtt.liveMaxHz=2'];
    proc = spawn(process.execPath, [...entry, ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, NOTIFY_SOCKET: '' } });
    let out = '';
    proc.stdout!.on('data', (d) => (out += d));
    proc.stderr!.on('data', (d) => (out += d));

    const refused = await until('not ready with the refusal', async () => {
      const h = await health(port);
      return h && h.status === 503 && /refused the credentials/.test(h.body.checks.broker?.reason ?? '') ? h : null;
    }, 90_000);
    expect(refused.body.checks.broker.reason).toMatch(/mqtt\.passwordFile/);
    expect(out).toMatch(/refused the credentials/);

    await broker.addUser('derm', PASSWORD);
    await broker.reload();
    await until('ready after the user was added', async () => (await health(port))?.status === 200, 60_000);

    const before = out.length;
    proc.kill('SIGHUP');
    await until('the SIGHUP log line', () => /SIGHUP: configuration valid/.test(out.slice(before)), 10_000);
    await new Promise((r) => setTimeout(r, 500));
    expect(proc.exitCode).toBeNull();
    expect((await health(port))?.status).toBe(200);

    const exit = new Promise<number | null>((r) => proc!.once('exit', (code) => r(code)));
    proc.kill('SIGTERM');
    expect(await exit).toBe(0);
    expect(out).not.toContain(PASSWORD);
  }, 180_000);

  it('item 13: a lesion topic denied by the ACL (PUBACK 135) makes /healthz not ready, naming the topic', async () => {
    const aclBroker = await startMosquitto({ users: { derm: PASSWORD }, acl: ['user derm', 'topic write acl/hard-2/status', 'topic write acl/hard-2/live', 'topic write acl/hard-2/metrics', 'topic write acl/hard-2/snapshot'] });
    const port = await freePort();
    const pw = join(tmp, 'pw2');
    writeFileSync(pw, `${PASSWORD}\n`);
    const entry = BUILT ? [join(ROOT, 'bin/dermstream.js')] : ['--import', 'tsx', join(ROOT, 'src/service/cli.ts')];
    const args = ['run', '--broker', aclBroker.url, '--mqtt-username', 'derm', '--mqtt-password-file', pw, '--device-id', 'hard-2', '--topic-prefix', 'acl', '--state-dir', join(tmp, 'state2'), '--http-port', String(port), '--log-json', '--source', 'test', '--set', 'pipeline.qualityGate=false', '--set', 'mqtt.liveMaxHz=2'];
    const p = spawn(process.execPath, [...entry, ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, NOTIFY_SOCKET: '' } });
    let out = '';
    p.stdout!.on('data', (d) => (out += d));
    p.stderr!.on('data', (d) => (out += d));
    try {
      const denied = await until('not ready with the ACL denial', async () => {
        const h = await health(port);
        return h && h.status === 503 && /ACL denies/.test(h.body.checks.broker?.reason ?? '') ? h : null;
      }, 90_000);
      expect(denied.body.checks.broker.reason).toMatch(/acl\/hard-2\/lesion/);
      expect(out).toMatch(/PUBACK 135/);
    } finally {
      const exit = new Promise<number | null>((r) => p.once('exit', (code) => r(code)));
      p.kill('SIGTERM');
      await exit;
      await aclBroker.dispose();
    }
  }, 180_000);
});
