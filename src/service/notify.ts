/**
 * systemd's sd_notify protocol (READY=1, WATCHDOG=1, STATUS=…, STOPPING=1) without a native addon.
 *
 * The protocol is one datagram on the AF_UNIX SOCK_DGRAM socket named by $NOTIFY_SOCKET. Node cannot open
 * such a socket (node:dgram is UDP only, node:net is SOCK_STREAM). Measured on the development machine:
 *   - the native `unix-dgram` addon works (≈10 µs a message) but must be compiled on the device by node-gyp,
 *     which needs Node's headers, often downloaded at install time: fragile on a hospital's closed network;
 *   - `systemd-notify VAR=…` as a child per message works (≈6 ms a spawn) but the message comes from the
 *     child's PID; systemd ≥ 246 then waits for the manager (a barrier) so it is attributed, older systemd
 *     (JetPack 5 ships 245) may drop it when the child exits first;
 *   - a long-lived `python3` child that relays our lines to the socket (stdlib only) works on every
 *     systemd, costs one process (≈9 MB) and no per-message spawn.
 * So: the python3 relay, and `systemd-notify` per message when python3 is missing. Either way the sender is
 * a child of the main process, so the unit needs NotifyAccess=all (which admits any process of the
 * service's own cgroup, nothing outside it). The relay ignores SIGTERM/SIGINT (systemd signals the whole
 * cgroup on stop) and exits when our end of its stdin closes, so STOPPING=1 still gets out and it never
 * outlives us. Everything is a no-op when $NOTIFY_SOCKET is unset (not under systemd).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';

const RELAY = String.raw`
import json, os, signal, socket, sys
signal.signal(signal.SIGTERM, signal.SIG_IGN)
signal.signal(signal.SIGINT, signal.SIG_IGN)
addr = sys.argv[1]
if addr.startswith('@'):
    addr = '\0' + addr[1:]
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
while True:
    line = sys.stdin.readline()
    if not line:
        break
    try:
        s.sendto(json.loads(line).encode('utf-8'), addr)
        sys.stdout.write('ok\n')
    except Exception as e:
        sys.stdout.write('err %s\n' % e)
    sys.stdout.flush()
`;

export type NotifyTransportName = 'python3' | 'systemd-notify' | 'none';

export interface NotifierOptions {
  env?: NodeJS.ProcessEnv;
  /** Force a transport (tests); default: python3, else systemd-notify. */
  transport?: Exclude<NotifyTransportName, 'none'>;
  logger?: { warn(obj: object, msg?: string): void; debug?(obj: object, msg?: string): void };
}

export class Notifier {
  readonly socket: string | undefined;
  private relay: ChildProcess | undefined;
  private transport: NotifyTransportName;
  private readonly env: NodeJS.ProcessEnv;
  private readonly waiters: Array<(ok: boolean) => void> = [];
  /** Messages acknowledged as sent / failed by the relay. */
  sent = 0;
  failed = 0;

  constructor(private readonly opts: NotifierOptions = {}) {
    this.env = opts.env ?? process.env;
    this.socket = this.env.NOTIFY_SOCKET || undefined;
    this.transport = this.socket ? (opts.transport ?? 'python3') : 'none';
  }

  get enabled(): boolean {
    return this.transport !== 'none';
  }

  get transportName(): NotifyTransportName {
    return this.transport;
  }

  /** Sends `KEY=value` lines as one datagram. Resolves true once sent (false on failure, or at once when disabled). */
  notify(message: string): Promise<boolean> {
    if (this.transport === 'none' || !this.socket) return Promise.resolve(false);
    if (this.transport === 'python3') {
      const relay = this.ensureRelay();
      if (relay?.stdin?.writable) {
        return new Promise((resolve) => {
          this.waiters.push(resolve);
          relay.stdin!.write(`${JSON.stringify(message)}\n`);
        });
      }
    }
    return this.viaSystemdNotify(message);
  }

  ready(status?: string): Promise<boolean> {
    return this.notify(status ? `READY=1\nSTATUS=${oneLine(status)}` : 'READY=1');
  }
  watchdog(): Promise<boolean> {
    return this.notify('WATCHDOG=1');
  }
  status(text: string): Promise<boolean> {
    return this.notify(`STATUS=${oneLine(text)}`);
  }
  stopping(status?: string): Promise<boolean> {
    return this.notify(status ? `STOPPING=1\nSTATUS=${oneLine(status)}` : 'STOPPING=1');
  }
  /** Asks systemd for more start-up time (a long model load) beyond TimeoutStartSec. */
  extendTimeout(ms: number): Promise<boolean> {
    return this.notify(`EXTEND_TIMEOUT_USEC=${Math.round(ms * 1000)}`);
  }

  /** Half of $WATCHDOG_USEC in ms (systemd's advice for the ping period), or undefined when there is no watchdog for us. */
  watchdogIntervalMs(): number | undefined {
    return watchdogIntervalMs(this.env);
  }

  /** Ends the relay once it has sent what it was given. */
  close(): Promise<void> {
    const relay = this.relay;
    this.relay = undefined;
    if (!relay || relay.exitCode !== null) return Promise.resolve();
    return new Promise((resolve) => {
      relay.once('exit', () => resolve());
      relay.stdin?.end();
      setTimeout(() => {
        relay.kill('SIGKILL');
        resolve();
      }, 2000).unref();
    });
  }

  private ensureRelay(): ChildProcess | undefined {
    if (this.relay && this.relay.exitCode === null && !this.relay.killed) return this.relay;
    const child = spawn('python3', ['-u', '-c', RELAY, this.socket!], { stdio: ['pipe', 'pipe', 'pipe'] });
    child.on('error', (err) => {
      // python3 missing: use systemd-notify from now on (messages in flight resolve false).
      this.opts.logger?.warn({ err: err.message }, 'sd_notify relay (python3) failed to start; using systemd-notify');
      if (this.relay === child) this.relay = undefined;
      this.transport = 'systemd-notify';
      while (this.waiters.length) this.waiters.shift()!(false);
    });
    child.on('exit', () => {
      if (this.relay === child) this.relay = undefined;
      while (this.waiters.length) this.waiters.shift()!(false);
    });
    child.stdin?.on('error', () => {});
    child.stderr?.on('data', (d: Buffer) => this.opts.logger?.warn({ stderr: d.toString().trim() }, 'sd_notify relay'));
    createInterface({ input: child.stdout! }).on('line', (line) => {
      const ok = line === 'ok';
      if (ok) this.sent++;
      else {
        this.failed++;
        this.opts.logger?.warn({ error: line.slice(4) }, 'sd_notify message not delivered');
      }
      this.waiters.shift()?.(ok);
    });
    // The relay must not keep the event loop alive on its own.
    child.unref();
    (child.stdout as unknown as { unref?: () => void } | null)?.unref?.();
    (child.stderr as unknown as { unref?: () => void } | null)?.unref?.();
    (child.stdin as unknown as { unref?: () => void } | null)?.unref?.();
    this.relay = child;
    return child;
  }

  private viaSystemdNotify(message: string): Promise<boolean> {
    return new Promise((resolve) => {
      const child = spawn('systemd-notify', message.split('\n'), { stdio: 'ignore', env: { ...this.env } });
      child.on('error', (err) => {
        this.failed++;
        this.opts.logger?.warn({ err: err.message }, 'systemd-notify failed; no sd_notify transport works');
        resolve(false);
      });
      child.on('exit', (code) => {
        if (code === 0) this.sent++;
        else this.failed++;
        resolve(code === 0);
      });
    });
  }
}

function oneLine(s: string): string {
  return s.replace(/[\r\n]+/g, ' ').slice(0, 1000);
}

/** Half of $WATCHDOG_USEC in ms, or undefined when unset or meant for another PID ($WATCHDOG_PID). */
export function watchdogIntervalMs(env: NodeJS.ProcessEnv = process.env): number | undefined {
  const usec = Number(env.WATCHDOG_USEC);
  if (!env.WATCHDOG_USEC || !Number.isFinite(usec) || usec <= 0) return undefined;
  if (env.WATCHDOG_PID && Number(env.WATCHDOG_PID) !== process.pid) return undefined;
  return usec / 1000 / 2;
}

let shared: Notifier | undefined;
/** The process-wide notifier (from process.env). */
export function defaultNotifier(): Notifier {
  return (shared ??= new Notifier());
}
export const notifyReady = (status?: string) => defaultNotifier().ready(status);
export const notifyWatchdog = () => defaultNotifier().watchdog();
export const notifyStatus = (text: string) => defaultNotifier().status(text);
export const notifyStopping = (status?: string) => defaultNotifier().stopping(status);

export interface WatchdogOptions {
  /** The ping period basis: default watchdogIntervalMs() (half of WatchdogSec); pings at most every half of it. */
  intervalMs?: number;
  notifier?: Notifier;
}

/**
 * Pets systemd's watchdog only while the pipeline really works: the wiring calls `frameProcessed()` for every
 * processed frame; every intervalMs/2 a WATCHDOG=1 is sent if at least one frame was processed since the
 * last one. A pipeline that hangs (inference stuck, capture wedged, event loop blocked) stops the pings and
 * systemd restarts the service after WatchdogSec. While frames are legitimately absent (camera unplugged
 * and capture re-opening it with back-off, end of a recording), `expectFrames(false)` makes it pet on the
 * event loop's liveness alone, so a missing camera is reported on /healthz and MQTT rather than restarting
 * the service every ten seconds.
 */
export class Watchdog {
  readonly intervalMs: number | undefined;
  private readonly notifier: Notifier;
  private timer: ReturnType<typeof setInterval> | undefined;
  private frames = 0;
  private expecting = true;
  /** Pings sent (for tests and metrics). */
  pings = 0;

  constructor(opts: WatchdogOptions = {}) {
    this.notifier = opts.notifier ?? defaultNotifier();
    this.intervalMs = opts.intervalMs ?? this.notifier.watchdogIntervalMs();
  }

  /** True when systemd expects pings (WatchdogSec= set and NOTIFY_SOCKET present). */
  get enabled(): boolean {
    return this.intervalMs !== undefined && this.notifier.enabled;
  }

  start(): this {
    if (!this.enabled || this.timer) return this;
    this.timer = setInterval(() => this.tick(), Math.max(1, this.intervalMs! / 2));
    this.timer.unref();
    return this;
  }

  frameProcessed(): void {
    this.frames++;
  }

  expectFrames(expect: boolean): void {
    this.expecting = expect;
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  private tick(): void {
    if (this.frames === 0 && this.expecting) return;
    this.frames = 0;
    this.pings++;
    void this.notifier.watchdog();
  }
}
