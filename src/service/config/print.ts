/** `dermstream config --print`: the effective configuration as YAML, secrets masked, optionally with origins. */
import { Document, isMap, isScalar, type Node } from 'yaml';
import { SECRET_KEYS, type DermstreamConfig } from './schema.js';
import { describeSource, type ConfigSource } from './errors.js';
import { MASK } from './secrets.js';

/** A deep copy with every secret that is set replaced by `***`. */
export function maskSecrets(config: DermstreamConfig): DermstreamConfig {
  const copy = structuredClone(config) as unknown as Record<string, unknown>;
  for (const key of SECRET_KEYS) {
    const p = key.split('.');
    let cur: Record<string, unknown> | undefined = copy;
    for (const seg of p.slice(0, -1)) cur = cur?.[seg] as Record<string, unknown> | undefined;
    const last = p[p.length - 1]!;
    if (cur && cur[last] !== undefined) cur[last] = MASK;
  }
  return copy as unknown as DermstreamConfig;
}

export interface PrintOptions {
  /** Comment every value with its origin: `# default`, or `# from <file:line | env X | flag --x | model …/manifest.json>`. */
  sources?: Record<string, ConfigSource>;
}

export function printConfig(config: DermstreamConfig, opts: PrintOptions = {}): string {
  const doc = new Document(maskSecrets(config));
  if (opts.sources) {
    const annotate = (node: Node | null | undefined, prefix: string[]): void => {
      if (!isMap(node)) return;
      for (const pair of node.items) {
        if (!isScalar(pair.key)) continue;
        const p = [...prefix, String(pair.key.value)];
        const src = opts.sources![p.join('.')];
        const value = pair.value as Node | null;
        if (src && value && !isMap(value)) value.comment = src.kind === 'default' ? ' default' : ` from ${describeSource(src)}`;
        annotate(value, p);
      }
    };
    annotate(doc.contents as Node, []);
  }
  return doc.toString({ lineWidth: 0 });
}
