import { join } from 'node:path';
import { packageRoot } from '../capture/index.js';

export { packageRoot };

/** The model shipped in the repository, what `dermstream` runs by default. */
export function defaultModelDir(): string {
  return join(packageRoot(), 'models', 'default');
}
