/**
 * Starts a real Mosquitto (/usr/sbin/mosquitto) for a test: a free port on 127.0.0.1, anonymous, a temp config, and
 * optionally a WebSocket listener and on-disk persistence (so a restart keeps subscribers' sessions).
 * `mosquittoAvailable` lets a suite skip with a clear message when the binary is absent.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createConnection, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const MOSQUITTO_BIN = process.env.MOSQUITTO_BIN ?? '/usr/sbin/mosquitto';
export const mosquittoAvailable = existsSync(MOSQUITTO_BIN);
export const mosquittoSkipReason = `Mosquitto not found at ${MOSQUITTO_BIN} (apt-get install mosquitto, or set MOSQUITTO_BIN): broker tests skipped`;

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const port = (srv.address() as { port: number }).port;
      srv.close(() => resolve(port));
    });
  });
}

/** A TCP connect only: enough to know the listener is up, TLS or not. */
function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createConnection({ port, host: '127.0.0.1' });
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

export interface Mosquitto {
  port: number;
  wsPort: number | null;
  url: string;
  wsUrl: string | null;
  /** Starts it again on the same ports (after `stop`). */
  start(): Promise<void>;
  /** SIGTERM and wait for exit (persistence, if on, is saved). */
  stop(): Promise<void>;
  /** stop + remove the temp dir. */
  dispose(): Promise<void>;
  log(): string;
  /** Adds (or changes) a user in the password file; takes effect on `reload()`. */
  addUser(user: string, password: string): Promise<void>;
  /** Replaces the ACL lines; takes effect on `reload()`. */
  setAcl(lines: string[]): Promise<void>;
  /** SIGHUP: Mosquitto re-reads its password and ACL files (connected clients stay). */
  reload(): Promise<void>;
}

function mosquittoPasswd(args: string[]): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const p = spawn('mosquitto_passwd', args, { stdio: 'ignore' });
    p.once('error', reject);
    p.once('exit', (code) => (code === 0 ? resolve() : reject(new Error(`mosquitto_passwd exited ${code}`))));
  });
}

export interface MosquittoOptions {
  websockets?: boolean;
  persistence?: boolean;
  /** Serve TLS on the main listener with these PEM files (the certificate must name 127.0.0.1). */
  tls?: { caFile: string; certFile: string; keyFile: string };
  /** Require these users (anonymous refused); needs mosquitto_passwd. `{}`: a password file nobody is in yet. */
  users?: Record<string, string>;
  /** Lines of an acl_file (`user derm`, `topic write dermstream/#`, …); re-read on `reload()`. */
  acl?: string[];
  /** TLS listener asks for a client certificate signed by `tls.caFile`. */
  requireCertificate?: boolean;
}

export async function startMosquitto(opts: MosquittoOptions = {}): Promise<Mosquitto> {
  const dir = await mkdtemp(join(tmpdir(), 'mosq-'));
  // Started as root, mosquitto drops to the `mosquitto` user: it must be able to write its persistence file here.
  await chmod(dir, 0o777);
  const port = await freePort();
  const wsPort = opts.websockets ? await freePort() : null;
  let passwordFile: string | null = null;
  if (opts.users) {
    passwordFile = join(dir, 'passwd');
    await writeFile(passwordFile, '');
    for (const [user, pass] of Object.entries(opts.users)) await mosquittoPasswd(['-b', passwordFile, user, pass]);
    await chmod(passwordFile, 0o644);
  }
  const aclFile = opts.acl ? join(dir, 'acl') : null;
  if (aclFile) {
    await writeFile(aclFile, `${opts.acl!.join('\n')}\n`);
    await chmod(aclFile, 0o644);
  }
  const conf = [
    'per_listener_settings false',
    `allow_anonymous ${opts.users ? 'false' : 'true'}`,
    ...(passwordFile ? [`password_file ${passwordFile}`] : []),
    ...(aclFile ? [`acl_file ${aclFile}`] : []),
    `listener ${port} 127.0.0.1`,
    ...(opts.tls ? [`cafile ${opts.tls.caFile}`, `certfile ${opts.tls.certFile}`, `keyfile ${opts.tls.keyFile}`] : []),
    ...(opts.tls && opts.requireCertificate ? ['require_certificate true'] : []),
    ...(wsPort ? [`listener ${wsPort} 127.0.0.1`, 'protocol websockets'] : []),
    opts.persistence ? 'persistence true' : 'persistence false',
    ...(opts.persistence ? [`persistence_location ${dir}/`, 'autosave_interval 0'] : []),
    'log_dest stderr',
    'log_type error',
    'log_type warning',
    'log_type notice',
    ...(opts.users || opts.acl ? ['log_type information'] : []),
    '',
  ].join('\n');
  const confPath = join(dir, 'mosquitto.conf');
  await writeFile(confPath, conf);
  let proc: ChildProcess | null = null;
  let output = '';

  const start = async () => {
    const p = spawn(MOSQUITTO_BIN, ['-c', confPath], { stdio: ['ignore', 'pipe', 'pipe'] });
    proc = p;
    p.stdout!.on('data', (d) => (output += d));
    p.stderr!.on('data', (d) => (output += d));
    let exited = false;
    p.once('exit', () => (exited = true));
    const deadline = Date.now() + 10_000;
    for (;;) {
      if (exited) throw new Error(`mosquitto exited at start:\n${output}`);
      if ((await canConnect(port)) && (!wsPort || (await canConnect(wsPort)))) return;
      if (Date.now() > deadline) throw new Error(`mosquitto did not listen on ${port} within 10 s:\n${output}`);
      await new Promise((r) => setTimeout(r, 20));
    }
  };
  const stop = async () => {
    const p = proc;
    proc = null;
    if (!p || p.exitCode !== null) return;
    await new Promise<void>((resolve) => {
      p.once('exit', () => resolve());
      p.kill('SIGTERM');
    });
  };
  await start();
  return {
    port,
    wsPort,
    url: `${opts.tls ? 'mqtts' : 'mqtt'}://127.0.0.1:${port}`,
    wsUrl: wsPort ? `ws://127.0.0.1:${wsPort}/` : null,
    start,
    stop,
    async dispose() {
      await stop();
      await rm(dir, { recursive: true, force: true });
    },
    log: () => output,
    async addUser(user, password) {
      if (!passwordFile) throw new Error('addUser needs a broker started with `users`');
      await mosquittoPasswd(['-b', passwordFile, user, password]);
      await chmod(passwordFile, 0o644);
    },
    async setAcl(lines) {
      if (!aclFile) throw new Error('setAcl needs a broker started with `acl`');
      await writeFile(aclFile, `${lines.join('\n')}\n`);
    },
    async reload() {
      const p = proc as ChildProcess | null;
      if (!p) throw new Error('mosquitto is not running');
      const before = output.length;
      p.kill('SIGHUP');
      // Mosquitto logs "Reloading config." when it has re-read the files.
      const deadline = Date.now() + 5000;
      while (!output.slice(before).includes('Reloading') && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      await new Promise((r) => setTimeout(r, 100));
    },
  };
}
