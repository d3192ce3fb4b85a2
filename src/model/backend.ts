import * as tf from '@tensorflow/tfjs-core';
// The union package registers every op's gradient and the chained tensor methods (tfjs-core alone does not).
import '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-backend-wasm';

export type BackendName = 'tensorflow' | 'wasm' | 'cpu';
export type BackendPreference = BackendName | 'auto';

export interface BackendInfo {
  name: BackendName;
  /** Which package provided it (tfjs-node-gpu, tfjs-node, tfjs-backend-wasm, tfjs-backend-cpu). */
  provider: string;
  /** Why a preferred backend was skipped, for the log. */
  skipped: string[];
}

let chosen: BackendInfo | undefined;

/**
 * Native libtensorflow first (CUDA on a Jetson, CPU on x86), then wasm, then the pure-JS cpu backend.
 * tfjs-node(-gpu) are optional: their install downloads libtensorflow, which fails on closed networks,
 * so a missing or broken install is an expected fallback, not an error.
 */
async function tryNative(skipped: string[]): Promise<string | undefined> {
  for (const pkg of ['@tensorflow/tfjs-node-gpu', '@tensorflow/tfjs-node']) {
    try {
      await import(pkg);
      if (tf.findBackend('tensorflow')) return pkg;
    } catch (err) {
      skipped.push(`${pkg}: ${(err as Error).message.split('\n')[0]}`);
    }
  }
  return undefined;
}

export async function selectBackend(preference: BackendPreference = 'auto'): Promise<BackendInfo> {
  if (chosen && (preference === 'auto' || preference === chosen.name)) return chosen;
  const skipped: string[] = [];
  const order: BackendName[] = preference === 'auto' ? ['tensorflow', 'wasm', 'cpu'] : [preference];
  for (const name of order) {
    let provider = name === 'wasm' ? '@tensorflow/tfjs-backend-wasm' : '@tensorflow/tfjs-backend-cpu';
    if (name === 'tensorflow') {
      const pkg = await tryNative(skipped);
      if (!pkg) continue;
      provider = pkg;
    }
    try {
      if (await tf.setBackend(name)) {
        await tf.ready();
        chosen = { name, provider, skipped };
        return chosen;
      }
      skipped.push(`${name}: setBackend returned false`);
    } catch (err) {
      skipped.push(`${name}: ${(err as Error).message}`);
    }
  }
  throw new Error(
    `no TensorFlow.js backend could start (${skipped.join('; ')}). ` +
      (preference === 'auto' ? 'Reinstall with `npm ci`.' : `Backend '${preference}' was forced; try --backend auto.`),
  );
}

export function currentBackend(): BackendInfo | undefined {
  return chosen;
}
