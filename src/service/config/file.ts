/**
 * Reads the YAML file and remembers the line of every key (the `yaml` package's source ranges), so that an
 * error can say `config.yaml:12`. Syntax errors (including duplicate keys) are configuration errors too.
 */
import { readFileSync, statSync } from 'node:fs';
import { LineCounter, isMap, isScalar, isSeq, parseDocument, type Node } from 'yaml';
import { ConfigError, displayPath, type ConfigSource } from './errors.js';

export interface FileLayer {
  file: string;
  value: Record<string, unknown>;
  /** Dotted key → where it is written. */
  locations: Map<string, ConfigSource>;
}

/** Reads `file`; returns undefined when it does not exist and `required` is false. */
export function readConfigFile(file: string, required: boolean): FileLayer | undefined {
  const shown = displayPath(file);
  let text: string;
  try {
    if (statSync(file).isDirectory()) throw Object.assign(new Error('is a directory'), { code: 'EISDIR' });
    text = readFileSync(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' && !required) return undefined;
    throw new ConfigError([
      {
        path: '',
        source: { kind: 'file', file: shown },
        message: code === 'ENOENT' ? 'configuration file not found' : `configuration file cannot be read (${code ?? (err as Error).message})`,
        allowed:
          code === 'ENOENT'
            ? 'give an existing file with --config, or leave --config out to use /etc/dermstream/config.yaml (or the built-in defaults when it is absent)'
            : 'make it a readable file (the service runs as user dermstream: chmod 640, group dermstream)',
      },
    ]);
  }
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, uniqueKeys: true, prettyErrors: true, strict: true });
  if (doc.errors.length > 0) {
    throw new ConfigError(
      doc.errors.map((e) => {
        const pos = e.linePos?.[0];
        return {
          path: '',
          source: { kind: 'file', file: shown, line: pos?.line, col: pos?.col },
          message: `YAML syntax error: ${e.message.split('\n')[0]}`,
          allowed: 'YAML: `key: value`, nested keys indented by spaces (no tabs); quote strings containing ": " or "#"',
        };
      }),
    );
  }
  const value: unknown = doc.toJS() ?? {};
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new ConfigError([
      { path: '', source: { kind: 'file', file: shown, line: 1 }, message: 'the file must be a mapping of keys to values', allowed: 'e.g. `source: v4l2:/dev/video0`' },
    ]);
  }
  const locations = new Map<string, ConfigSource>();
  const walk = (node: Node | null | undefined, prefix: string[]): void => {
    if (isMap(node)) {
      for (const pair of node.items) {
        if (!isScalar(pair.key)) continue;
        const path = [...prefix, String(pair.key.value)];
        const at = pair.key.range?.[0];
        const pos = at !== undefined ? lineCounter.linePos(at) : undefined;
        locations.set(path.join('.'), { kind: 'file', file: shown, line: pos?.line, col: pos?.col });
        walk(pair.value as Node | null, path);
      }
    } else if (isSeq(node)) {
      // lists are leaves here (capture.formats): the key's line is enough
    }
  };
  walk(doc.contents as Node | null, []);
  return { file, value: value as Record<string, unknown>, locations };
}
