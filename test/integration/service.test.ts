/**
 * dermstream as the bedside service, as a process: health turns not-ready when the broker or the
 * camera goes away and ready again after; kill -9 loses no lesion message (the outbox replays it on
 * the next start); SIGTERM stops it cleanly within 5 s.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Outbox } from '../../src/publish/outbox.js';
import { validateLesionMessage } from '../../src/publish/index.js';
import { collect } from '../publish/helpers/mqtt_collector.js';
import { freePort, mosquittoAvailable, mosquittoSkipReason, startMosquitto, type Mosquitto } from '../publish/helpers/mosquitto.js';

const ROOT = resolve(__dirname, '../..');
const BUILT = existsSync(join(ROOT, 'dist/src/service/cli.js'));
const DEMO = join(ROOT, 'assets/demo/dermatoscope-demo.avi');

function dermstream(args: string[]): { proc: ChildProcess; output: () => string } {
  const entry = BUILT ? [join(ROOT, 'bin/dermstream.js')] : ['--import', 'tsx', join(ROOT, 'src/service/cli.ts')];
  const proc = spawn(process.execPath, [...entry, ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, NOTIFY_SOCKET: '' } });
  let out = '';
  proc.stdout?.on('data', (d) => (out += d));
  proc.stderr?.on('data', (d) => (out += d));
  return { proc, output: () => out };
}

async function health(port: number): Promise<{ status: number; body: { ready: boolean; checks: Record<string, { ok: boolean }> } } | null> {
  try {
    const r = await fetch(`http://127.0.0.1:${port}/healthz`);
    return { status: r.status, body: await r.json() };
  } catch {
    return null;
  }
}

async function until<T>(what: string, fn: () => Promise<T | undefined | null | false>, timeoutMs = 30_000, everyMs = 100): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

function exited(proc: ChildProcess): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  if (proc.exitCode !== null || proc.signalCode !== null) return Promise.resolve({ code: proc.exitCode, signal: proc.signalCode });
  return new Promise((r) => proc.once('exit', (code, signal) => r({ code, signal })));
}

if (!mosquittoAvailable) console.warn(mosquittoSkipReason);

describe.skipIf(!mosquittoAvailable)('the bedside service, as a process', () => {
  let broker: Mosquitto;
  const tmp = mkdtempSync(join(tmpdir(), 'dermstream-svc-'));
  beforeAll(async () => {
    broker = await startMosquitto();
  });
  afterAll(async () => {
    await broker?.dispose();
    rmSync(tmp, { recursive: true, force: true });
  });

  const base = (state: string, httpPort: number, extra: string[] = []) => [
    'run', '--broker', broker.url, '--device-id', 'bed-7', '--topic-prefix', 'svc', '--state-dir', state,
    '--http-port', String(httpPort), '--log-json', '--set', 'mqtt.liveMaxHz=2', ...extra,
  ];

  it('/healthz goes not-ready when the broker goes away and ready again when it returns', async () => {
    const port = await freePort();
    const run = dermstream(base(join(tmp, 'h1'), port, ['--source', 'test', '--set', 'pipeline.qualityGate=false']));
    try {
      await until('ready', async () => (await health(port))?.status === 200, 60_000);
      await broker.stop();
      const down = await until('not ready after broker stop', async () => {
        const h = await health(port);
        return h && h.status === 503 ? h : null;
      });
      expect(down.body.checks.broker.ok).toBe(false);
      expect(down.body.checks.camera.ok).toBe(true);
      await broker.start();
      await until('ready again', async () => (await health(port))?.status === 200, 30_000);
    } finally {
      run.proc.kill('SIGTERM');
      await exited(run.proc);
    }
  });

  it('/healthz goes not-ready while the camera is gone and ready once it is back', async () => {
    const port = await freePort();
    // A "camera" that fails after 40 frames (GStreamer's identity error-after): torn down, re-opened with back-off.
    const cam = 'gst:videotestsrc pattern=ball ! video/x-raw,width=320,height=240,framerate=20/1 ! identity error-after=40';
    const run = dermstream(base(join(tmp, 'h2'), port, ['--source', cam, '--set', 'pipeline.qualityGate=false', '--set', 'capture.backoff.initialMs=1500', '--set', 'capture.backoff.maxMs=1500']));
    try {
      await until('ready', async () => (await health(port))?.status === 200, 60_000);
      const gone = await until('camera not ready', async () => {
        const h = await health(port);
        return h && h.status === 503 && !h.body.checks.camera.ok ? h : null;
      }, 30_000, 50);
      expect(gone.body.checks.broker.ok).toBe(true);
      await until('camera back', async () => (await health(port))?.status === 200, 30_000, 50);
    } finally {
      run.proc.kill('SIGTERM');
      await exited(run.proc);
    }
  });

  it('kill -9 loses no lesion message: the next start replays the outbox; SIGTERM ends within 5 s', async () => {
    const state = join(tmp, 'k');
    const sub = await collect(broker.url, 'svc/bed-7/lesion');
    const port1 = await freePort();
    const first = dermstream(base(state, port1, ['--source', `file:${DEMO}`]));
    await until('ready', async () => (await health(port1))?.status === 200, 60_000);
    await sub.waitFor((m) => m.length >= 2, 30_000, 'lesion messages');
    // Broker away: the verdicts pile up in the outbox; then the power "fails".
    await broker.stop();
    await new Promise((r) => setTimeout(r, 4000));
    first.proc.kill('SIGKILL');
    await exited(first.proc);
    const box = await Outbox.open({ dir: join(state, 'outbox') });
    const waiting = [...box.pending()].map((r) => r.messageId);
    await box.close();
    expect(waiting.length).toBeGreaterThan(0);

    await broker.start();
    const port2 = await freePort();
    const second = dermstream(base(state, port2, ['--source', 'test', '--set', 'pipeline.qualityGate=false']));
    await sub.waitFor((m) => waiting.every((id) => m.some((x) => x.json?.messageId === id)), 60_000, `the ${waiting.length} messages of the killed process`);
    for (const m of sub.messages) expect(validateLesionMessage(m.json).errors).toEqual([]);
    // Duplicates (sent, not yet acknowledged at the kill) share their id: a consumer can drop them.
    const ids = sub.messages.map((m) => m.json.messageId);
    expect(new Set(ids).size).toBeLessThanOrEqual(ids.length);

    await until('second ready', async () => (await health(port2))?.status === 200, 60_000);
    const t = Date.now();
    second.proc.kill('SIGTERM');
    const end = await exited(second.proc);
    expect(Date.now() - t).toBeLessThan(5000);
    expect(end.code).toBe(0);
    expect(second.output()).toMatch(/SIGTERM/);
    await sub.close();
  });
});
