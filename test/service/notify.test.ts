import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { Notifier, Watchdog, watchdogIntervalMs } from '../../src/service/notify.js';

/**
 * systemd's side of the protocol: a unix datagram socket that prints every datagram it receives as one JSON
 * line, with the sender's PID from SCM_CREDENTIALS (as systemd reads it to attribute the message).
 */
const RECEIVER = String.raw`
import json, os, socket, struct, sys
path = sys.argv[1]
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(path)
s.setsockopt(socket.SOL_SOCKET, socket.SO_PASSCRED, 1)
print(json.dumps({"ready": True}), flush=True)
while True:
    msg, anc, flags, addr = s.recvmsg(4096, socket.CMSG_SPACE(12))
    pid = None
    for level, kind, data in anc:
        if level == socket.SOL_SOCKET and kind == socket.SCM_CREDENTIALS:
            pid = struct.unpack('iII', data[:12])[0]
    print(json.dumps({"msg": msg.decode(), "pid": pid}), flush=True)
`;

const hasPython = spawnSync('python3', ['-c', 'import socket; socket.AF_UNIX'], { stdio: 'ignore' }).status === 0;
const hasSystemdNotify = spawnSync('systemd-notify', ['--help'], { stdio: 'ignore' }).status === 0;

interface Received {
  msg: string;
  pid: number | null;
  at: number;
}

describe.skipIf(!hasPython)('sd_notify on a real unix datagram socket', () => {
  let dir: string;
  let receiver: ChildProcess;
  let socketPath: string;
  const received: Received[] = [];
  const notifiers: Notifier[] = [];
  const watchdogs: Watchdog[] = [];

  beforeAll(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'dermstream-notify-'));
    socketPath = path.join(dir, 'notify.sock');
    receiver = spawn('python3', ['-u', '-c', RECEIVER, socketPath], { stdio: ['ignore', 'pipe', 'inherit'] });
    await new Promise<void>((resolve, reject) => {
      const rl = createInterface({ input: receiver.stdout! });
      rl.on('line', (line) => {
        const o = JSON.parse(line) as { ready?: boolean; msg?: string; pid?: number | null };
        if (o.ready) resolve();
        else received.push({ msg: o.msg!, pid: o.pid ?? null, at: Date.now() });
      });
      receiver.once('exit', (code) => reject(new Error(`receiver exited ${code}`)));
    });
  });
  afterEach(async () => {
    for (const w of watchdogs.splice(0)) w.stop();
    for (const n of notifiers.splice(0)) await n.close();
  });
  afterAll(() => {
    receiver.kill();
    rmSync(dir, { recursive: true, force: true });
  });

  const notifier = (extra: NodeJS.ProcessEnv = {}, transport?: 'python3' | 'systemd-notify') => {
    const n = new Notifier({ env: { NOTIFY_SOCKET: socketPath, ...extra }, transport });
    notifiers.push(n);
    return n;
  };
  const waitFor = async (pred: () => boolean, ms = 5000) => {
    const end = Date.now() + ms;
    while (!pred()) {
      if (Date.now() > end) throw new Error(`timed out; received: ${JSON.stringify(received.map((r) => r.msg))}`);
      await new Promise((r) => setTimeout(r, 10));
    }
  };
  const since = (t: number) => received.filter((r) => r.at >= t);

  it('READY=1 (with STATUS), STATUS, STOPPING=1 arrive as single datagrams through the python3 relay', async () => {
    const t0 = Date.now();
    const n = notifier();
    expect(n.enabled).toBe(true);
    expect(await n.ready('model loaded, camera streaming')).toBe(true);
    expect(await n.status('ready: 30 fps\nsecond line')).toBe(true);
    expect(await n.stopping()).toBe(true);
    await waitFor(() => since(t0).length >= 3);
    const msgs = since(t0).map((r) => r.msg);
    expect(msgs).toEqual(['READY=1\nSTATUS=model loaded, camera streaming', 'STATUS=ready: 30 fps second line', 'STOPPING=1']);
    // Sent by the relay, a child of this process: hence NotifyAccess=all in the unit.
    expect(since(t0)[0]!.pid).not.toBe(process.pid);
    expect(n.sent).toBe(3);
  });

  it('the watchdog pets (WATCHDOG=1) while frames flow, and stops when they stop', async () => {
    // WatchdogSec=0.4 s → interval 200 ms → a ping at most every 100 ms.
    const n = notifier({ WATCHDOG_USEC: '400000' });
    expect(n.watchdogIntervalMs()).toBe(200);
    const w = new Watchdog({ notifier: n }).start();
    watchdogs.push(w);
    await n.ready();
    const t0 = Date.now();
    // Frames at ~50 fps for 600 ms.
    const frames = setInterval(() => w.frameProcessed(), 20);
    await new Promise((r) => setTimeout(r, 600));
    clearInterval(frames);
    const tStop = Date.now();
    await waitFor(() => since(t0).filter((r) => r.msg === 'WATCHDOG=1').length >= 3);
    const pingsWhileFlowing = since(t0).filter((r) => r.msg === 'WATCHDOG=1' && r.at <= tStop + 150);
    expect(pingsWhileFlowing.length).toBeGreaterThanOrEqual(3);
    expect(pingsWhileFlowing.length).toBeLessThanOrEqual(8); // at most one per 100 ms
    // Frames stopped (a hung pipeline): no more pings, so systemd would restart the service.
    await new Promise((r) => setTimeout(r, 250));
    const tQuiet = Date.now();
    await new Promise((r) => setTimeout(r, 700));
    expect(since(tQuiet).filter((r) => r.msg === 'WATCHDOG=1')).toEqual([]);
    // Frames again: pings again.
    const tAgain = Date.now();
    w.frameProcessed();
    await waitFor(() => since(tAgain).some((r) => r.msg === 'WATCHDOG=1'), 1000);
  });

  it('expectFrames(false) pets on liveness alone (camera being re-opened), without frames', async () => {
    const n = notifier({ WATCHDOG_USEC: '400000' });
    const w = new Watchdog({ notifier: n }).start();
    watchdogs.push(w);
    w.expectFrames(false);
    const t0 = Date.now();
    await waitFor(() => since(t0).filter((r) => r.msg === 'WATCHDOG=1').length >= 2, 2000);
    w.expectFrames(true);
    await new Promise((r) => setTimeout(r, 250));
    const tQuiet = Date.now();
    await new Promise((r) => setTimeout(r, 500));
    expect(since(tQuiet).filter((r) => r.msg === 'WATCHDOG=1')).toEqual([]);
  });

  it.skipIf(!hasSystemdNotify)('the systemd-notify fallback delivers READY=1 too', async () => {
    const t0 = Date.now();
    const n = notifier({}, 'systemd-notify');
    // Without systemd as PID 1, systemd-notify's barrier (BARRIER=1 with a pipe) is not answered; the
    // datagram is delivered before that wait, which is what this checks.
    void n.ready();
    await waitFor(() => since(t0).some((r) => r.msg.startsWith('READY=1')));
  });

  it('a relay that died is restarted on the next message', async () => {
    const t0 = Date.now();
    const n = notifier();
    await n.status('one');
    const relay = (n as unknown as { relay?: ChildProcess }).relay!;
    relay.kill('SIGKILL');
    await new Promise((r) => relay.once('exit', r));
    expect(await n.status('two')).toBe(true);
    await waitFor(() => since(t0).some((r) => r.msg === 'STATUS=two'));
  });
});

describe('without systemd', () => {
  it('everything is a no-op when NOTIFY_SOCKET is unset', async () => {
    const n = new Notifier({ env: {} });
    expect(n.enabled).toBe(false);
    expect(await n.ready()).toBe(false);
    const w = new Watchdog({ notifier: n, intervalMs: 10 });
    expect(w.enabled).toBe(false);
    w.start();
    w.frameProcessed();
    w.stop();
    expect(w.pings).toBe(0);
  });

  it('watchdogIntervalMs is half of WATCHDOG_USEC, for our PID only', () => {
    expect(watchdogIntervalMs({ WATCHDOG_USEC: '10000000' })).toBe(5000);
    expect(watchdogIntervalMs({ WATCHDOG_USEC: '10000000', WATCHDOG_PID: String(process.pid) })).toBe(5000);
    expect(watchdogIntervalMs({ WATCHDOG_USEC: '10000000', WATCHDOG_PID: '1' })).toBeUndefined();
    expect(watchdogIntervalMs({})).toBeUndefined();
    expect(watchdogIntervalMs({ WATCHDOG_USEC: 'x' })).toBeUndefined();
  });
});
