/**
 * The effective configuration: built-in defaults < YAML file < DERMSTREAM_* environment < command-line
 * flags, validated as a whole; every problem is collected (not just the first) and reported with the key,
 * the value, where it came from and what is allowed, as one ConfigError (exit code 78).
 */
import { accessSync, constants, existsSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { packageRoot, defaultDemoSource } from '../../capture/demo_source.js';
import { configSchema, type DermstreamConfig, DEVICE_ID_RE } from './schema.js';
import { ConfigError, type ConfigProblem, type ConfigSource } from './errors.js';
import { readConfigFile } from './file.js';
import { CONFIG_PATH_ENV, readEnv } from './env.js';
import { readFlags } from './flags.js';
import { issueToProblems } from './issues.js';
import { checkRules } from './rules.js';
import { readSecret } from './secrets.js';
import { leafPaths } from './keys.js';

export const DEFAULT_CONFIG_PATH = '/etc/dermstream/config.yaml';
export const DEFAULT_STATE_DIR = '/var/lib/dermstream';
export const DEFAULT_MODEL_RELATIVE_PATH = 'models/default';

export interface LoadConfigOptions {
  /** Parsed options of a command with `addConfigFlags` (commander's `opts()`); `config` there names the file. */
  flags?: Record<string, unknown>;
  /** Default process.env. */
  env?: NodeJS.ProcessEnv;
  /** The file to read; an explicit file must exist. Default: flags.config, then $DERMSTREAM_CONFIG, then /etc/dermstream/config.yaml (may be absent). */
  configPath?: string;
  /** For tests: the default file (may be absent). */
  defaultConfigPath?: string;
  /** For tests: the default state dir and its writability check. */
  defaultStateDir?: string;
  isWritableDir?: (dir: string) => boolean;
  hostname?: string;
  cwd?: string;
}

export interface LoadedConfig {
  config: DermstreamConfig;
  /** Dotted key → where its value came from, for every leaf key (default included). */
  sources: Record<string, ConfigSource>;
  /** The file read, if any. */
  file?: string;
  /** Things worth a log line at start-up (fallbacks taken), not errors. */
  notices: string[];
}

function setPath(obj: Record<string, unknown>, p: readonly string[], value: unknown): void {
  let cur = obj;
  for (const seg of p.slice(0, -1)) {
    const next = cur[seg];
    if (next === null || typeof next !== 'object' || Array.isArray(next)) cur[seg] = {};
    cur = cur[seg] as Record<string, unknown>;
  }
  cur[p[p.length - 1]!] = value;
}

/** A folder we can write, or create (its nearest existing ancestor is writable). */
export function isWritableDir(dir: string): boolean {
  let d = path.resolve(dir);
  while (!existsSync(d)) {
    const up = path.dirname(d);
    if (up === d) return false;
    d = up;
  }
  try {
    accessSync(d, constants.W_OK | constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** The host name as a device id (a topic level). */
export function deviceIdFromHostname(host: string): string {
  const id = host.split('.')[0]!.replace(/[^A-Za-z0-9._-]/g, '-').slice(0, 64);
  return DEVICE_ID_RE.test(id) ? id : 'dermstream';
}

export function loadConfig(opts: LoadConfigOptions = {}): LoadedConfig {
  const env = opts.env ?? process.env;
  const flags = opts.flags ?? {};
  const cwd = opts.cwd ?? process.cwd();
  const notices: string[] = [];
  const problems: ConfigProblem[] = [];

  // 1. File.
  const explicit = opts.configPath ?? (typeof flags.config === 'string' ? flags.config : undefined) ?? env[CONFIG_PATH_ENV];
  const configFile = explicit !== undefined && explicit !== '' ? path.resolve(cwd, explicit) : (opts.defaultConfigPath ?? DEFAULT_CONFIG_PATH);
  const fileLayer = readConfigFile(configFile, explicit !== undefined && explicit !== '');
  const raw: Record<string, unknown> = fileLayer ? structuredClone(fileLayer.value) : {};
  const sources = new Map<string, ConfigSource>(fileLayer?.locations ?? []);

  // 2. Environment, 3. flags: each replaces one leaf.
  const envLayer = readEnv(env);
  problems.push(...envLayer.problems);
  for (const s of envLayer.settings) {
    setPath(raw, s.path, s.value);
    sources.set(s.path.join('.'), { kind: 'env', name: s.name });
  }
  const flagLayer = readFlags(flags);
  problems.push(...flagLayer.problems);
  for (const s of flagLayer.settings) {
    setPath(raw, s.path, s.value);
    sources.set(s.path.join('.'), { kind: 'flag', flag: s.flag });
  }

  const sourceOf = (key: string): ConfigSource | undefined => {
    for (let k = key; ; k = k.slice(0, Math.max(0, k.lastIndexOf('.')))) {
      const s = sources.get(k);
      if (s) return s;
      if (!k.includes('.')) return undefined;
    }
  };

  // 4. Validate every value, then the rules between them.
  const parsed = configSchema.safeParse(raw);
  if (!parsed.success) {
    for (const issue of parsed.error.issues) problems.push(...issueToProblems(issue, raw, sourceOf));
    throw new ConfigError(problems);
  }
  const c = parsed.data;
  problems.push(...checkRules(c, sourceOf, cwd));

  // 5. Secrets from files.
  if (c.mqtt.passwordFile !== undefined && c.mqtt.password === undefined) {
    c.mqtt.password = readSecret(path.resolve(cwd, c.mqtt.passwordFile), 'mqtt.passwordFile', sourceOf('mqtt.passwordFile'), problems);
  }
  if (c.mqtt.tls.keyPassphraseFile !== undefined && c.mqtt.tls.keyPassphrase === undefined) {
    c.mqtt.tls.keyPassphrase = readSecret(path.resolve(cwd, c.mqtt.tls.keyPassphraseFile), 'mqtt.tls.keyPassphraseFile', sourceOf('mqtt.tls.keyPassphraseFile'), problems);
  }
  if (problems.length > 0) throw new ConfigError(problems);
  if (c.mqtt.username !== undefined && c.mqtt.password === undefined) notices.push('mqtt.username is set without a password (mqtt.passwordFile)');

  // 6. Defaults that depend on the machine.
  const deviceId = c.deviceId ?? deviceIdFromHostname(opts.hostname ?? os.hostname());
  const source = c.source ?? defaultDemoSource();
  const modelPath = c.model.path !== undefined ? path.resolve(cwd, c.model.path) : path.join(packageRoot(), DEFAULT_MODEL_RELATIVE_PATH);
  let stateDir: string;
  if (c.outbox.stateDir !== undefined) {
    stateDir = path.resolve(cwd, c.outbox.stateDir);
  } else if (env.STATE_DIRECTORY) {
    // systemd's StateDirectory= (colon-separated when several).
    stateDir = env.STATE_DIRECTORY.split(':')[0]!;
  } else {
    const preferred = opts.defaultStateDir ?? DEFAULT_STATE_DIR;
    const writable = opts.isWritableDir ?? isWritableDir;
    if (writable(preferred)) {
      stateDir = preferred;
    } else {
      const base = env.XDG_STATE_HOME && path.isAbsolute(env.XDG_STATE_HOME) ? env.XDG_STATE_HOME : path.join(env.HOME ?? os.homedir(), '.local', 'state');
      stateDir = path.join(base, 'dermstream');
      notices.push(`${preferred} is not writable by this user; keeping state (the outbox) in ${stateDir}. Set outbox.stateDir to choose.`);
    }
  }

  // Keys in schema order, so that `config --print` reads like the example files.
  const { deviceId: _d, source: _s, ...rest } = c;
  const config: DermstreamConfig = {
    deviceId,
    source,
    ...rest,
    model: { ...c.model, path: modelPath },
    outbox: { stateDir, maxBytes: c.outbox.maxBytes, maxAgeHours: c.outbox.maxAgeHours },
  };
  const all: Record<string, ConfigSource> = {};
  for (const p of leafPaths()) {
    const k = p.join('.');
    all[k] = sources.get(k) ?? { kind: 'default' };
  }
  return { config, sources: all, file: fileLayer?.file, notices };
}
