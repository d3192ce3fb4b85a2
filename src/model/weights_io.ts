import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, renameSync, writeFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { parseModelConfig, type ModelConfig } from './config.js';
import { LesionNet } from './network.js';
import { ParamStore } from './params.js';
import type { OnnxExport } from './onnx/export.js';
import { quantizeFloat16, quantizeUint8, type QuantDtype, type QuantInfo } from './quantize.js';

export const MODEL_FORMAT = 'dermstream-lesionnet';
export const SHARD_BYTES = 4 * 1024 * 1024;

export interface WeightEntry {
  name: string;
  shape: number[];
  dtype: 'float32';
  quantization?: QuantInfo;
}

/** model.json: the tfjs weights manifest plus the architecture. */
export interface ModelJson {
  format: typeof MODEL_FORMAT;
  formatVersion: 1;
  config: ModelConfig;
  weightsManifest: Array<{ paths: string[]; weights: WeightEntry[] }>;
}

/** manifest.json: what a device, an auditor and the EHR record need to know about a model. */
export interface Manifest {
  name: string;
  version: string;
  createdAt: string;
  architecture: ModelConfig;
  inputSize: number;
  channelMeans: [number, number, number];
  classes: string[];
  quantization: QuantDtype;
  parameters: number;
  /** SHA-256 of each file, and of the weight shards in order (the model's identity on the wire). */
  files: Array<{ path: string; bytes: number; sha256: string }>;
  weightsSha256: string;
  training?: Record<string, unknown>;
  metrics?: Record<string, unknown>;
  notes?: string[];
  /** ONNX graphs of this network, written by `dermstream export --format onnx` (src/model/onnx/export.ts). */
  onnx?: OnnxExport;
}

export class ModelLoadError extends Error {
  constructor(
    message: string,
    readonly hint: string,
  ) {
    super(`${message}\n  fix: ${hint}`);
  }
}

function sha256(buf: Uint8Array): string {
  return createHash('sha256').update(buf).digest('hex');
}

/** Writes through a temp file and a rename so a crash never leaves a half-written model. */
function atomicWrite(path: string, data: Uint8Array | string): void {
  const tmp = `${path}.tmp-${process.pid}`;
  writeFileSync(tmp, data);
  renameSync(tmp, path);
}

export interface SaveOptions {
  quantization?: QuantDtype;
  name?: string;
  version?: string;
  training?: Record<string, unknown>;
  metrics?: Record<string, unknown>;
  notes?: string[];
}

export async function saveModel(net: LesionNet, dir: string, opts: SaveOptions = {}): Promise<Manifest> {
  mkdirSync(dir, { recursive: true });
  const q = opts.quantization ?? 'float32';
  const entries: WeightEntry[] = [];
  const chunks: Uint8Array[] = [];
  for (const [name, v] of net.params.all()) {
    const values = (await v.data()) as Float32Array;
    const entry: WeightEntry = { name, shape: v.shape, dtype: 'float32' };
    // Batch-norm statistics and biases are tiny and sensitive: only kernels are quantized.
    const quantize = q !== 'float32' && name.endsWith('/kernel');
    if (quantize && q === 'uint8') {
      const r = quantizeUint8(values);
      entry.quantization = { dtype: 'uint8', min: r.min, scale: r.scale };
      chunks.push(r.data);
    } else if (quantize && q === 'float16') {
      entry.quantization = { dtype: 'float16' };
      chunks.push(new Uint8Array(quantizeFloat16(values).buffer));
    } else {
      chunks.push(new Uint8Array(values.buffer.slice(values.byteOffset, values.byteOffset + values.byteLength)));
    }
    entries.push(entry);
  }
  const total = chunks.reduce((a, c) => a + c.length, 0);
  const all = new Uint8Array(total);
  let o = 0;
  for (const c of chunks) {
    all.set(c, o);
    o += c.length;
  }
  const paths: string[] = [];
  const files: Manifest['files'] = [];
  for (let i = 0, s = 0; s < total || i === 0; i++, s += SHARD_BYTES) {
    const shard = all.subarray(s, Math.min(total, s + SHARD_BYTES));
    const path = `group1-shard${i + 1}of${Math.max(1, Math.ceil(total / SHARD_BYTES))}.bin`;
    atomicWrite(join(dir, path), shard);
    paths.push(path);
    files.push({ path, bytes: shard.length, sha256: sha256(shard) });
  }
  const modelJson: ModelJson = { format: MODEL_FORMAT, formatVersion: 1, config: net.config, weightsManifest: [{ paths, weights: entries }] };
  const modelJsonText = JSON.stringify(modelJson, null, 1);
  atomicWrite(join(dir, 'model.json'), modelJsonText);
  files.unshift({ path: 'model.json', bytes: Buffer.byteLength(modelJsonText), sha256: sha256(Buffer.from(modelJsonText)) });
  const manifest: Manifest = {
    name: opts.name ?? net.config.name,
    version: opts.version ?? '0.0.0',
    createdAt: new Date().toISOString(),
    architecture: net.config,
    inputSize: net.config.inputSize,
    channelMeans: net.config.channelMeans,
    classes: [...net.config.classes],
    quantization: q,
    parameters: net.params.count(),
    files,
    weightsSha256: sha256(all),
    training: opts.training,
    metrics: opts.metrics,
    notes: opts.notes,
  };
  atomicWrite(join(dir, 'manifest.json'), JSON.stringify(manifest, null, 2));
  return manifest;
}

function readJson<T>(path: string, what: string): T {
  if (!existsSync(path)) throw new ModelLoadError(`model ${what} not found: ${path}`, 'point --model at a folder with model.json, manifest.json and the weight shards (e.g. the shipped models/default)');
  try {
    return JSON.parse(readFileSync(path, 'utf8')) as T;
  } catch (err) {
    throw new ModelLoadError(`model ${what} is not valid JSON (${path}): ${(err as Error).message}`, 'the file is corrupt or truncated: copy the model folder again');
  }
}

/**
 * Reads manifest.json and model.json after verifying the SHA-256 of every file the manifest lists: a corrupt,
 * truncated or tampered model is refused with the file named. Shared by both inference engines.
 */
export function readVerifiedModel(dir: string): { manifest: Manifest; modelJson: ModelJson; config: ModelConfig } {
  const manifest = readJson<Manifest>(join(dir, 'manifest.json'), 'manifest');
  const modelJson = readJson<ModelJson>(join(dir, 'model.json'), 'model.json');
  if (modelJson.format !== MODEL_FORMAT) throw new ModelLoadError(`${dir}/model.json is not a ${MODEL_FORMAT} model (format: ${String(modelJson.format)})`, 'use a model written by `dermstream train` or `dermstream quantize`');
  for (const f of manifest.files ?? []) {
    const p = join(dir, f.path);
    if (!existsSync(p)) throw new ModelLoadError(`model file missing: ${p}`, 'copy the whole model folder again');
    const buf = readFileSync(p);
    if (buf.length !== f.bytes) throw new ModelLoadError(`model file ${p} is ${buf.length} bytes, the manifest says ${f.bytes}: truncated or replaced`, 'copy the model folder again; do not edit model files by hand');
    const h = sha256(buf);
    if (h !== f.sha256) throw new ModelLoadError(`model file ${p} fails its SHA-256 check (got ${h.slice(0, 12)}…, manifest ${f.sha256.slice(0, 12)}…): corrupt or tampered`, 'copy the model folder again from a trusted source');
  }
  return { manifest, modelJson, config: parseModelConfig(modelJson.config, `${dir}/model.json config`) };
}

/**
 * Loads a model folder after verifying the SHA-256 of every file against the manifest: a corrupt,
 * truncated or tampered model is refused with the file named, never half-loaded.
 */
export function loadModel(dir: string): { net: LesionNet; manifest: Manifest } {
  const { manifest, modelJson, config } = readVerifiedModel(dir);
  const group = modelJson.weightsManifest[0];
  const buffers = group.paths.map((p) => readFileSync(join(dir, p)));
  const joined = Buffer.concat(buffers);
  const tensors = tf.io.decodeWeights(joined.buffer.slice(joined.byteOffset, joined.byteOffset + joined.byteLength), group.weights as tf.io.WeightsManifestEntry[]);
  const params = new ParamStore();
  for (const [name, t] of Object.entries(tensors)) {
    const isStat = /\/bn\/(mean|variance)$/.test(name) || name.endsWith('/folded_bias');
    params.adopt(name, t, !isStat);
    t.dispose();
  }
  const net = new LesionNet(config, params);
  // Every weight the architecture needs must be present: declaring would silently invent missing ones.
  const probe = new LesionNet(config, new ParamStore());
  tf.tidy(() => {
    probe.declare();
  });
  const missing = [...probe.params.all()].map(([n]) => n).filter((n) => !params.has(n));
  probe.dispose();
  if (missing.length > 0) {
    net.dispose();
    throw new ModelLoadError(`model in ${dir} lacks ${missing.length} weights its architecture needs (first: ${missing[0]})`, 'the weights and config do not belong together: re-export the model');
  }
  return { net, manifest };
}
