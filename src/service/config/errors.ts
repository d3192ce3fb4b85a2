/**
 * Where a configuration value came from, and the error that stops start-up when one is wrong. The exit
 * code is 78 (EX_CONFIG from sysexits.h): systemd and the IT engineer can tell "fix the config" from a crash.
 */
import path from 'node:path';

export const EX_CONFIG = 78;

export type ConfigSource =
  | { kind: 'default' }
  | { kind: 'file'; file: string; line?: number; col?: number }
  | { kind: 'env'; name: string }
  | { kind: 'flag'; flag: string }
  /** Taken from the model folder's manifest (the operating point). */
  | { kind: 'model'; file: string };

/** `config.yaml:7`, `env DERMSTREAM_MQTT__PASSWORD`, `flag --fps`, `model …/manifest.json`, `default`. */
export function describeSource(s: ConfigSource | undefined): string {
  if (!s) return 'default';
  switch (s.kind) {
    case 'default':
      return 'default';
    case 'file':
      return s.line !== undefined ? `${s.file}:${s.line}` : s.file;
    case 'env':
      return `env ${s.name}`;
    case 'flag':
      return `flag ${s.flag}`;
    case 'model':
      return `model ${s.file}`;
  }
}

export interface ConfigProblem {
  /** Dotted key, e.g. `capture.fps` (empty for the file as a whole). */
  path: string;
  /** The offending value as the user wrote it (already masked for secrets); absent for unknown keys etc. */
  value?: string;
  source?: ConfigSource;
  /** What is wrong. */
  message: string;
  /** What would be accepted, or how to fix it. */
  allowed?: string;
}

export function formatProblem(p: ConfigProblem): string {
  const key = p.path === '' ? '(configuration)' : p.path;
  const value = p.value !== undefined ? ` = ${p.value}` : '';
  const from = p.source && p.source.kind !== 'default' ? ` (${describeSource(p.source)})` : '';
  const allowed = p.allowed ? `\n      allowed: ${p.allowed}` : '';
  return `  - ${key}${value}${from}: ${p.message}${allowed}`;
}

/** A configuration that cannot be used. `exitCode` is 78 (EX_CONFIG). */
export class ConfigError extends Error {
  readonly exitCode = EX_CONFIG;
  constructor(readonly problems: ConfigProblem[]) {
    super(
      problems.length === 1
        ? `invalid configuration:\n${formatProblem(problems[0]!)}`
        : `invalid configuration (${problems.length} problems):\n${problems.map(formatProblem).join('\n')}`,
    );
    this.name = 'ConfigError';
  }
}

export function isConfigError(err: unknown): err is ConfigError {
  return err instanceof ConfigError || (err as { name?: string; exitCode?: number })?.exitCode === EX_CONFIG;
}

/** A short display of a value in a message; long strings are cut, secrets never reach here unmasked. */
export function showValue(v: unknown): string {
  if (typeof v === 'string') return JSON.stringify(v.length > 120 ? `${v.slice(0, 117)}...` : v);
  if (v === undefined) return 'undefined';
  const s = JSON.stringify(v);
  return s === undefined ? String(v) : s.length > 120 ? `${s.slice(0, 117)}...` : s;
}

/** Relative to the cwd when shorter: messages stay readable. */
export function displayPath(p: string): string {
  const rel = path.relative(process.cwd(), p);
  return rel && !rel.startsWith('..') && rel.length < p.length ? rel : p;
}
