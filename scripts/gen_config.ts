/**
 * Writes configs/dermstream.example.yaml from the configuration schema (src/service/config/example.ts).
 * Usage: npm run gen:config   (or: npx tsx scripts/gen_config.ts --check, which exits 1 when the file is stale)
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { packageRoot } from '../src/capture/demo_source.js';
import { EXAMPLE_CONFIG_PATH, exampleConfigYaml } from '../src/service/config/example.js';

const file = join(packageRoot(), EXAMPLE_CONFIG_PATH);
const text = exampleConfigYaml();
if (process.argv.includes('--check')) {
  const current = readFileSync(file, 'utf8');
  if (current !== text) {
    console.error(`${EXAMPLE_CONFIG_PATH} is not what the schema generates: run npm run gen:config`);
    process.exit(1);
  }
  console.log(`${EXAMPLE_CONFIG_PATH} is up to date`);
} else {
  writeFileSync(file, text);
  console.log(`wrote ${EXAMPLE_CONFIG_PATH} (${text.split('\n').length - 1} lines)`);
}
