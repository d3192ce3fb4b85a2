/**
 * Rules that involve more than one key, the file system, or another room's parser: run after the schema
 * accepted every single value. Each returns problems naming the key, never throws.
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { isIP } from 'node:net';
import path from 'node:path';
import { parseSource } from '../../capture/source_spec.js';
import { resolveDebounceParams } from '../../pipeline/debounce.js';
import { BROKER_SCHEMES, type ParsedConfig } from './schema.js';
import { showValue, type ConfigProblem, type ConfigSource } from './errors.js';
import { unreadable } from './secrets.js';
import { pemProblem } from '../../publish/pem.js';
import { parseTrustedKey } from '../../model/manifest_signature.js';

/** Why `host` cannot be an interface to listen on, judged without DNS; null when it may be. */
export function bindHostProblem(host: string): string | null {
  if (isIP(host) !== 0) return null;
  if (/^[\d.]+$/.test(host)) return 'is not a valid IPv4 address (four numbers 0–255)';
  if (host.includes(':')) return 'is not a valid IPv6 address';
  if (!/^(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/.test(host)) return 'is not an IP address or a host name';
  return null;
}

export type SourceOf = (key: string) => ConfigSource | undefined;

export function checkRules(c: ParsedConfig, sourceOf: SourceOf, cwd: string): ConfigProblem[] {
  const problems: ConfigProblem[] = [];
  const problem = (key: string, value: unknown, message: string, allowed?: string, masked = false) =>
    problems.push({ path: key, value: masked ? '***' : value === undefined ? undefined : showValue(value), source: sourceOf(key), message, allowed });

  // Source string: the capture room's own parser decides what is valid.
  if (c.source !== undefined) {
    try {
      parseSource(c.source, cwd);
    } catch (err) {
      const e = err as Error & { hint?: string };
      problem('source', c.source, e.message, e.hint);
    }
  }

  const cap = c.capture;
  if ((cap.width === undefined) !== (cap.height === undefined)) {
    const key = cap.width === undefined ? 'capture.height' : 'capture.width';
    problem(key, cap.width ?? cap.height, 'capture.width and capture.height go together', 'give both (e.g. 640 and 480) or neither to keep the source size');
  }
  if (cap.backoff.maxMs < cap.backoff.initialMs) {
    problem('capture.backoff.maxMs', cap.backoff.maxMs, `is below capture.backoff.initialMs (${cap.backoff.initialMs})`, 'maxMs ≥ initialMs');
  }

  try {
    resolveDebounceParams(c.pipeline.debounce);
  } catch (err) {
    const msg = (err as Error).message.replace(/^debounce params: /, '');
    const key = /^(\w+)/.exec(msg)?.[1];
    const k = key ? `pipeline.debounce.${key}` : 'pipeline.debounce';
    problem(k, key ? (c.pipeline.debounce as Record<string, unknown>)[key] : undefined, msg);
  }

  // Broker.
  const m = c.mqtt;
  let scheme: string | undefined;
  if (m.brokerUrl !== '') {
    let url: URL | undefined;
    try {
      url = new URL(m.brokerUrl);
    } catch {
      problem('mqtt.brokerUrl', m.brokerUrl, 'is not a URL', 'mqtt://host:1883, mqtts://host:8883, ws://host:9001/, wss://host/mqtt; empty for the embedded broker');
    }
    if (url) {
      scheme = url.protocol;
      if (!(BROKER_SCHEMES as readonly string[]).includes(url.protocol)) {
        problem('mqtt.brokerUrl', m.brokerUrl, `unsupported scheme "${url.protocol.replace(/:$/, '')}"`, 'mqtt://, mqtts:// (TLS), ws:// or wss:// (TLS); empty for the embedded broker');
      } else if (url.hostname === '') {
        problem('mqtt.brokerUrl', m.brokerUrl, 'has no host', 'e.g. mqtts://broker.hospital.local:8883');
      }
      if (url.password !== '' || url.username !== '') {
        problem('mqtt.brokerUrl', '***', 'must not contain credentials (they would be logged and shown)', 'use mqtt.username and mqtt.passwordFile');
      }
    }
  }
  if (m.password !== undefined && m.passwordFile !== undefined) {
    problem('mqtt.passwordFile', m.passwordFile, 'both mqtt.password and mqtt.passwordFile are set', 'one of them (passwordFile preferred)');
  }
  if (m.tls.keyPassphrase !== undefined && m.tls.keyPassphraseFile !== undefined) {
    problem('mqtt.tls.keyPassphraseFile', m.tls.keyPassphraseFile, 'both mqtt.tls.keyPassphrase and keyPassphraseFile are set', 'one of them (keyPassphraseFile preferred)');
  }
  if (!m.tls.rejectUnauthorized && !m.tls.allowInsecureTls) {
    problem(
      'mqtt.tls.rejectUnauthorized',
      false,
      'false turns off the check of the broker certificate: any server, a man in the middle too, would receive the verdicts',
      'give the CA in mqtt.tls.ca (and mqtt.tls.servername if the host name differs); to mean it (testing only), also set mqtt.tls.allowInsecureTls: true',
    );
  }
  if ((m.tls.cert === undefined) !== (m.tls.key === undefined)) {
    const key = m.tls.cert === undefined ? 'mqtt.tls.key' : 'mqtt.tls.cert';
    problem(key, m.tls.cert ?? m.tls.key, 'a client certificate needs its key and vice versa', 'set both mqtt.tls.cert and mqtt.tls.key, or neither');
  }
  for (const k of ['ca', 'cert', 'key'] as const) {
    const f = m.tls[k];
    if (f === undefined) continue;
    const why = unreadable(path.resolve(cwd, f));
    if (why) problem(`mqtt.tls.${k}`, f, `TLS file ${why}`, 'a PEM file readable by the service user');
    else {
      const notPem = pemProblem(readFileSync(path.resolve(cwd, f), 'latin1'), k === 'key' ? 'private key' : 'certificate');
      if (notPem) problem(`mqtt.tls.${k}`, f, `${f} is ${notPem}`, k === 'key' ? 'the PEM private key of the client certificate' : 'a PEM certificate file (-----BEGIN CERTIFICATE-----)');
    }
    if (scheme === 'mqtt:' || scheme === 'ws:') {
      problem(`mqtt.tls.${k}`, f, `TLS is configured but mqtt.brokerUrl uses ${scheme}// (no TLS)`, `use ${scheme === 'mqtt:' ? 'mqtts' : 'wss'}:// or remove mqtt.tls`);
    }
  }
  if (m.snapshot.enabled && m.snapshot.maxHz > m.liveMaxHz) {
    problem(
      'mqtt.snapshot.maxHz',
      m.snapshot.maxHz,
      `exceeds mqtt.liveMaxHz (${m.liveMaxHz}): a display would get more JPEG snapshots than live updates`,
      `at most mqtt.liveMaxHz (${m.liveMaxHz}); raise liveMaxHz or lower snapshot.maxHz`,
    );
  }

  // Interfaces to bind: an address that only looks like IPv4 (999.1.1.1) would fail at run with ENOTFOUND, no key named.
  const hosts: Array<[string, string, boolean]> = [
    ['http.host', c.http.host, c.http.enabled],
    ['mqtt.embedded.host', m.embedded.host, m.brokerUrl === ''],
  ];
  for (const [key, host, used] of hosts) {
    const why = bindHostProblem(host);
    if (used && why) problem(key, host, why, 'an IP address of this machine (127.0.0.1, 0.0.0.0, ::1, ::) or its host name');
  }
  // Listeners on this machine must not collide.
  const listeners: Array<[string, number]> = [];
  if (c.http.enabled) listeners.push(['http.port', c.http.port]);
  if (c.display.enabled) listeners.push(['display.port', c.display.port]);
  if (m.brokerUrl === '') {
    listeners.push(['mqtt.embedded.port', m.embedded.port]);
    if (m.embedded.wsPort !== false) listeners.push(['mqtt.embedded.wsPort', m.embedded.wsPort]);
  }
  for (let i = 0; i < listeners.length; i++) {
    for (let j = 0; j < i; j++) {
      if (listeners[i]![1] === listeners[j]![1]) {
        problem(listeners[i]![0], listeners[i]![1], `same port as ${listeners[j]![0]}`, 'a port no other listener of dermstream uses');
      }
    }
  }

  // Explicit paths must exist (the defaults are checked by `dermstream doctor` instead).
  if (c.model.path !== undefined) {
    const dir = path.resolve(cwd, c.model.path);
    if (!existsSync(dir) || !statSync(dir).isDirectory()) {
      problem('model.path', c.model.path, 'model folder does not exist', 'a folder with model.json and manifest.json (e.g. /opt/dermstream/models/default)');
    }
  }
  // Model provenance: every trusted key must be an Ed25519 public key, and requiring a signature needs one.
  c.model.trustedKeys.forEach((k, i) => {
    try {
      parseTrustedKey(k.includes('-----BEGIN') ? k : path.resolve(cwd, k));
    } catch (err) {
      problem(`model.trustedKeys.${i}`, k.includes('-----BEGIN') ? '(PEM text)' : k, (err as Error).message, 'the path of an Ed25519 public key in PEM (openssl pkey -in signing.key -pubout), or the PEM text');
    }
  });
  if (c.model.requireSignature && c.model.trustedKeys.length === 0) {
    problem('model.requireSignature', true, 'is on, but model.trustedKeys is empty: no model could load', 'list the public half of your model-signing key in model.trustedKeys');
  }
  const stateDir = c.outbox.stateDir !== undefined ? path.resolve(cwd, c.outbox.stateDir) : undefined;
  if (stateDir !== undefined && existsSync(stateDir) && !statSync(stateDir).isDirectory()) {
    problem('outbox.stateDir', c.outbox.stateDir, 'exists and is not a folder', 'a folder the service can write (systemd StateDirectory= makes /var/lib/dermstream)');
  }
  return problems;
}
