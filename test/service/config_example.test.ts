import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { EXAMPLE_CONFIG_PATH, exampleConfigYaml } from '../../src/service/config/example.js';
import { leafPaths } from '../../src/service/config/keys.js';
import { configSchema, loadConfig } from '../../src/service/config/index.js';
import { shippedOperatingPoint } from '../model/helpers.js';

const root = path.resolve(import.meta.dirname, '../..');
const text = readFileSync(path.join(root, EXAMPLE_CONFIG_PATH), 'utf8');
const dir = mkdtempSync(path.join(tmpdir(), 'dermstream-example-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe(`${EXAMPLE_CONFIG_PATH} is generated from the schema`, () => {
  it('equals the generator’s output (run `npm run gen:config` after changing the schema)', () => {
    expect(text).toBe(exampleConfigYaml());
  });

  it('names every key, with its environment variable, as a value or commented out', () => {
    for (const p of leafPaths()) {
      const k = p[p.length - 1]!;
      expect(text, p.join('.')).toMatch(new RegExp(`^ *(# )?${k}:`, 'm'));
      expect(text).toContain(`DERMSTREAM_${p.map((s) => s.replace(/([a-z0-9])([A-Z])/g, '$1_$2').toUpperCase()).join('__')}`);
    }
    expect(text).toMatch(/^ {4}# malignantThreshold:$/m);
    expect(text).toMatch(/flag --fps\n {2}# fps:/);
  });

  it('is a valid configuration that changes nothing: loading it gives the built-in defaults', () => {
    expect(configSchema.safeParse(parseYaml(text)).success).toBe(true);
    const opts = { env: {}, defaultConfigPath: path.join(dir, 'absent.yaml'), defaultStateDir: dir, hostname: 'h' };
    const withFile = loadConfig({ ...opts, configPath: path.join(root, EXAMPLE_CONFIG_PATH) });
    const without = loadConfig(opts);
    expect(withFile.config).toEqual(without.config);
    expect(withFile.config.pipeline.debounce.malignantThreshold).toBe(shippedOperatingPoint().threshold); // the model's, not a number in the file
  });
});
