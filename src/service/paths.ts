import { fileURLToPath } from 'node:url';
import { dirname, join, resolve } from 'node:path';
import { existsSync } from 'node:fs';

/** The package root, from this file's place in src/service or dist/src/service. */
export function packageRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 5; i++) {
    if (existsSync(join(dir, 'package.json'))) return dir;
    dir = resolve(dir, '..');
  }
  throw new Error('cannot find the dermstream package root (package.json) above ' + fileURLToPath(import.meta.url));
}

/** The model shipped in the repository, what `dermstream` runs by default. */
export function defaultModelDir(): string {
  return join(packageRoot(), 'models', 'default');
}
