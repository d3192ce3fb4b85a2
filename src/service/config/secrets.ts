/**
 * Secrets (broker password, TLS key passphrase) may be given inline, but belong in files readable only by
 * the service (`passwordFile`, `keyPassphraseFile`, or the `_FILE` environment variables, or systemd's
 * LoadCredential= under $CREDENTIALS_DIRECTORY). They are read once at start-up; the values never appear in
 * an error, a log line or `config --print`.
 */
import { accessSync, constants, readFileSync, statSync } from 'node:fs';
import type { ConfigProblem, ConfigSource } from './errors.js';

/** Why `file` cannot be read as a regular file, or undefined when it can. */
export function unreadable(file: string): string | undefined {
  try {
    const st = statSync(file);
    if (!st.isFile()) return 'is not a regular file';
    accessSync(file, constants.R_OK);
    return undefined;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    return code === 'ENOENT' ? 'does not exist' : code === 'EACCES' ? 'is not readable by this user' : `cannot be read (${code ?? (err as Error).message})`;
  }
}

/** The secret in `file`: its contents without the trailing newline. Problems are pushed, not thrown. */
export function readSecret(file: string, key: string, source: ConfigSource | undefined, problems: ConfigProblem[]): string | undefined {
  const why = unreadable(file);
  if (why) {
    problems.push({ path: key, value: JSON.stringify(file), source, message: `secret file ${why}`, allowed: 'a file readable by the service user (e.g. root:dermstream, mode 0640)' });
    return undefined;
  }
  const text = readFileSync(file, 'utf8').replace(/\r?\n$/, '');
  if (text === '') {
    problems.push({ path: key, value: JSON.stringify(file), source, message: 'secret file is empty', allowed: 'a file holding the secret on its first line' });
    return undefined;
  }
  return text;
}

export const MASK = '***';
