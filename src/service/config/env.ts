/**
 * Environment variables → configuration keys. One rule:
 *
 *   DERMSTREAM_ + the key path, each level in UPPER_SNAKE_CASE, levels joined by a double underscore.
 *
 *   deviceId                  ↔ DERMSTREAM_DEVICE_ID
 *   mqtt.brokerUrl            ↔ DERMSTREAM_MQTT__BROKER_URL
 *   mqtt.passwordFile         ↔ DERMSTREAM_MQTT__PASSWORD_FILE      (the `_FILE` form of every secret)
 *   mqtt.tls.keyPassphrase    ↔ DERMSTREAM_MQTT__TLS__KEY_PASSPHRASE
 *   capture.backoff.maxMs     ↔ DERMSTREAM_CAPTURE__BACKOFF__MAX_MS
 *
 * Two short aliases for what is set most often: DERMSTREAM_BROKER_URL (= mqtt.brokerUrl) and
 * DERMSTREAM_LOG_LEVEL (= log.level); the full form wins when both are set. DERMSTREAM_CONFIG names the
 * config file. DERMSTREAM_TEST_* is left to test harnesses. Any other DERMSTREAM_* variable is an error
 * (with the closest valid name), so that a typo in a unit file's Environment= is not silently ignored.
 */
import { closest } from './suggest.js';
import { leafKind, leafPaths } from './keys.js';
import { coerce } from './coerce.js';
import type { ConfigProblem } from './errors.js';

export const ENV_PREFIX = 'DERMSTREAM_';
export const CONFIG_PATH_ENV = 'DERMSTREAM_CONFIG';
export const ENV_ALIASES: Readonly<Record<string, string>> = {
  DERMSTREAM_BROKER_URL: 'mqtt.brokerUrl',
  DERMSTREAM_LOG_LEVEL: 'log.level',
};
const RESERVED = new Set([CONFIG_PATH_ENV]);
const RESERVED_PREFIXES = ['DERMSTREAM_TEST_'];

const snake = (camel: string): string => camel.replace(/([a-z0-9])([A-Z])/g, '$1_$2').toUpperCase();
const camel = (snakeCase: string): string => snakeCase.toLowerCase().replace(/_([a-z0-9])/g, (_, c: string) => c.toUpperCase());

/** `mqtt.brokerUrl` → `DERMSTREAM_MQTT__BROKER_URL`. */
export function envNameFor(path: readonly string[]): string {
  return ENV_PREFIX + path.map(snake).join('__');
}

/** `DERMSTREAM_MQTT__BROKER_URL` → ['mqtt', 'brokerUrl'] (whether or not that key exists). */
export function pathForEnv(name: string): string[] {
  const alias = ENV_ALIASES[name];
  if (alias) return alias.split('.');
  return name.slice(ENV_PREFIX.length).split('__').map(camel);
}

export interface EnvSetting {
  name: string;
  path: string[];
  value: unknown;
}

/** The DERMSTREAM_* settings in `env` (aliases first, so the full names win), and problems with unknown names. */
export function readEnv(env: NodeJS.ProcessEnv): { settings: EnvSetting[]; problems: ConfigProblem[] } {
  const known = new Map(leafPaths().map((p) => [p.join('.'), p]));
  const names = Object.keys(env)
    .filter((n) => n.startsWith(ENV_PREFIX) && env[n] !== undefined && !RESERVED.has(n) && !RESERVED_PREFIXES.some((p) => n.startsWith(p)))
    .sort((a, b) => Number(b in ENV_ALIASES) - Number(a in ENV_ALIASES) || a.localeCompare(b));
  const settings: EnvSetting[] = [];
  const problems: ConfigProblem[] = [];
  for (const name of names) {
    const path = pathForEnv(name);
    if (!known.has(path.join('.'))) {
      const valid = [...[...known.values()].map(envNameFor), ...Object.keys(ENV_ALIASES), CONFIG_PATH_ENV];
      const guess = closest(name, valid);
      problems.push({
        path: path.join('.'),
        source: { kind: 'env', name },
        message: `unknown environment variable ${name}${guess ? `; did you mean ${guess}?` : ''}`,
        allowed: `DERMSTREAM_ + key path in UPPER_SNAKE_CASE, levels joined by "__" (e.g. DERMSTREAM_MQTT__BROKER_URL for mqtt.brokerUrl); see \`dermstream config --print\` for the keys`,
      });
      continue;
    }
    settings.push({ name, path, value: coerce(leafKind(path), env[name]) });
  }
  return { settings, problems };
}
