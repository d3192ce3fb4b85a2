/**
 * The one place that turns connection settings into mqtt.js connect options, for the publisher (`run`), the EHR
 * bridge and `doctor`, so that the three cannot disagree again (the TLS key passphrase was dropped by `run` while
 * `doctor` used it; the bridge had no credentials or TLS at all).
 *
 * - Secrets: the password comes from `password` or `passwordFile` (first line), the key passphrase from
 *   `keyPassphrase` or `keyPassphraseFile`; credentials found in the URL are moved into the options and the URL
 *   returned without them (`url`), so the URL is safe to log.
 * - TLS: CA / client certificate / key (PEM, checked), passphrase (`passphrase` goes through to tls.connect).
 *   `rejectUnauthorized: false` is refused unless `allowInsecureTls: true` says it is meant; then it is reported
 *   in `warnings` for the caller to log and publish.
 * - Protocol version, client id, keep-alive, will, reconnect period: as given, with the defaults of the service.
 */
import { readFileSync } from 'node:fs';
import type { IClientOptions } from 'mqtt';
import { pemProblem, type PemKind } from './pem.js';

export interface MqttTlsSettings {
  caFile?: string;
  certFile?: string;
  keyFile?: string;
  keyPassphrase?: string;
  keyPassphraseFile?: string;
  /** Default true. false needs `allowInsecureTls`. */
  rejectUnauthorized?: boolean;
  /** Acknowledges that `rejectUnauthorized: false` accepts any broker certificate (a man in the middle too). */
  allowInsecureTls?: boolean;
  servername?: string;
}

export interface MqttConnectSettings {
  brokerUrl: string;
  username?: string;
  password?: string;
  passwordFile?: string;
  tls?: MqttTlsSettings;
  protocolVersion?: 4 | 5;
  clientId?: string;
  keepaliveS?: number;
  connectTimeoutMs?: number;
  reconnectPeriodMs?: number;
  will?: IClientOptions['will'];
  /** Names of the settings as the operator writes them (config keys or CLI flags), for error messages. */
  keys?: Partial<Record<'username' | 'password' | 'passwordFile' | 'caFile' | 'certFile' | 'keyFile' | 'keyPassphrase' | 'rejectUnauthorized' | 'allowInsecureTls', string>>;
}

export interface MqttConnect {
  /** The broker URL without credentials: safe to log. */
  url: string;
  options: IClientOptions;
  /** Things the caller must log at start and show in the status topic (e.g. certificate checks off). */
  warnings: string[];
  /** True when the broker certificate is not verified. */
  insecureTls: boolean;
  /** Only the credentials and TLS of `options`, for a client that sets its own protocol, session and timers. */
  auth: Pick<IClientOptions, 'username' | 'password' | 'ca' | 'cert' | 'key' | 'rejectUnauthorized' | 'servername'>;
}

export const DEFAULT_KEYS: Required<NonNullable<MqttConnectSettings['keys']>> = {
  username: 'mqtt.username',
  password: 'mqtt.password',
  passwordFile: 'mqtt.passwordFile',
  caFile: 'mqtt.tls.ca',
  certFile: 'mqtt.tls.cert',
  keyFile: 'mqtt.tls.key',
  keyPassphrase: 'mqtt.tls.keyPassphraseFile',
  rejectUnauthorized: 'mqtt.tls.rejectUnauthorized',
  allowInsecureTls: 'mqtt.tls.allowInsecureTls',
};

/** A connect setting that cannot work, with the key to fix. */
export class MqttSettingsError extends Error {
  constructor(
    readonly key: string,
    message: string,
  ) {
    super(`${key}: ${message}`);
  }
}

/** `mqtts://user:pw@host:8883/` → `mqtts://user@host:8883/`: for logs. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (!u.password) return url;
    u.password = '';
    return u.toString();
  } catch {
    return url.replace(/\/\/([^:@/]*):[^@/]*@/, '//$1@');
  }
}

function readSecretFile(file: string, key: string): string {
  try {
    // First line: editors and `echo` add a newline that is not part of the secret.
    return readFileSync(file, 'utf8').split(/\r?\n/)[0]!;
  } catch (err) {
    throw new MqttSettingsError(key, `cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
}

function readPem(file: string, kind: PemKind, key: string): Buffer {
  let buf: Buffer;
  try {
    buf = readFileSync(file);
  } catch (err) {
    throw new MqttSettingsError(key, `cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  const why = pemProblem(buf.toString('latin1'), kind);
  if (why) throw new MqttSettingsError(key, `${file} is ${why}`);
  return buf;
}

export function buildMqttConnect(s: MqttConnectSettings): MqttConnect {
  const keys = { ...DEFAULT_KEYS, ...s.keys };
  const warnings: string[] = [];
  let url = s.brokerUrl;
  let username = s.username;
  let password = s.password;
  try {
    const u = new URL(s.brokerUrl);
    if (u.username || u.password) {
      username ??= decodeURIComponent(u.username) || undefined;
      password ??= u.password ? decodeURIComponent(u.password) : undefined;
      u.username = '';
      u.password = '';
      url = u.toString();
      warnings.push(`credentials in the broker URL: moved out of it (never logged); prefer ${keys.username} and ${keys.passwordFile}`);
    }
  } catch {
    // Not a URL: mqtt.js reports it on connect; the config layer has named the key already.
  }
  if (s.passwordFile !== undefined && password === undefined) password = readSecretFile(s.passwordFile, keys.passwordFile);
  const options: IClientOptions = {
    protocolVersion: s.protocolVersion ?? 5,
    keepalive: s.keepaliveS ?? 30,
    connectTimeout: s.connectTimeoutMs ?? 10_000,
    reconnectPeriod: s.reconnectPeriodMs ?? 1000,
    ...(s.clientId !== undefined && { clientId: s.clientId }),
    ...(username !== undefined && { username }),
    ...(password !== undefined && { password }),
    ...(s.will && { will: s.will }),
  };
  const t = s.tls ?? {};
  if (t.caFile) options.ca = readPem(t.caFile, 'certificate', keys.caFile);
  if (t.certFile) options.cert = readPem(t.certFile, 'certificate', keys.certFile);
  if (t.keyFile) options.key = readPem(t.keyFile, 'private key', keys.keyFile);
  const passphrase = t.keyPassphrase ?? (t.keyPassphraseFile !== undefined ? readSecretFile(t.keyPassphraseFile, keys.keyPassphrase) : undefined);
  // Not in mqtt.js's types, but passed through to tls.connect, which needs it for an encrypted key.
  if (passphrase !== undefined) (options as IClientOptions & { passphrase?: string }).passphrase = passphrase;
  if (t.servername) options.servername = t.servername;
  const insecure = t.rejectUnauthorized === false;
  if (insecure && t.allowInsecureTls !== true) {
    throw new MqttSettingsError(keys.rejectUnauthorized, `false turns off the check of the broker certificate (any server, a man in the middle too, is accepted); set ${keys.allowInsecureTls}: true to mean it, or give the CA in ${keys.caFile}`);
  }
  options.rejectUnauthorized = !insecure;
  if (insecure) warnings.push(`TLS certificate of the broker is NOT verified (${keys.rejectUnauthorized}: false with ${keys.allowInsecureTls}): anyone on the network path can impersonate it`);
  const { username: u, password: pw, ca, cert, key, rejectUnauthorized, servername } = options;
  const auth = Object.fromEntries(Object.entries({ username: u, password: pw, ca, cert, key, rejectUnauthorized, servername, passphrase }).filter(([, v]) => v !== undefined)) as MqttConnect['auth'];
  return { url, options, warnings, insecureTls: insecure, auth };
}
