import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';

/**
 * The Keras MobileNetV2 (α 1.0) weights that the npm package `nsfwjs` (MIT; weights from
 * GantMan/nsfw_model, MIT) bundles as a layers-model export: blocks 0–10 are the Keras ImageNet weights,
 * the rest fine-tuned on natural photos; stored uint8. The package ships them as `.min.js` modules whose
 * export is the model JSON and one base64 string per shard.
 */
export interface NsfwjsModelFiles {
  modelTopology: unknown;
  weightsManifest: Array<{ paths: string[]; weights: tf.io.WeightsManifestEntry[] }>;
  /** The shard's bytes. */
  weights: Buffer;
}

export function nsfwjsMobileNetV2Files(): NsfwjsModelFiles {
  const require = createRequire(import.meta.url);
  try {
    // The package's "exports" hide dist/models/*: resolve its entry and walk to the package root.
    const root = join(dirname(require.resolve('nsfwjs')), '..', '..');
    const modelJson = require(join(root, 'dist/models/mobilenet_v2/model.min.js'));
    const shard = require(join(root, 'dist/models/mobilenet_v2/group1-shard1of1.min.js')) as string;
    return { ...modelJson, weights: Buffer.from(shard, 'base64') };
  } catch (err) {
    throw new Error(`the MobileNetV2 backbone's pretrained weights come from the npm package nsfwjs, which did not load (${(err as Error).message}): run \`npm install nsfwjs@4.4.0\``);
  }
}

export function loadNsfwjsMobileNetV2(): Map<string, tf.Tensor> {
  const files = nsfwjsMobileNetV2Files();
  const bytes = files.weights;
  const group = files.weightsManifest[0];
  const named = tf.io.decodeWeights(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer, group.weights);
  return new Map(Object.entries(named));
}
