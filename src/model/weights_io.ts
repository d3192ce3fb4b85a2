import type { ModelIdentity } from '../types/model_identity.js';
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, renameSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { parseModelConfig, type ModelConfig } from './config.js';
import { LesionNet } from './network.js';
import { ParamStore } from './params.js';
import type { OnnxExport } from './onnx/export.js';
import { quantizeFloat16, quantizeUint8, type QuantDtype, type QuantInfo } from './quantize.js';
import { checkManifestSignature, parseTrustedKey, readManifestSignature, SIGNATURE_FILE, type SignatureCheck } from './manifest_signature.js';
import type { OperatingPoint } from './operating_point.js';

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
  /** The calibrated threshold ± margin `run` votes with, and the SE/SP it gave on the validation split. */
  operatingPoint?: OperatingPoint;
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

/** Hex SHA-256 of the bytes (manifest hashes; also the ONNX export's). */
export function sha256(buf: Uint8Array): string {
  return createHash('sha256').update(buf).digest('hex');
}

/** Writes through a temp file and a rename so a crash never leaves a half-written model. */
export function atomicWrite(path: string, data: Uint8Array | string): void {
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
    const quantize = q !== 'float32' && (name.endsWith('/kernel') || name.endsWith('/depthwise_kernel'));
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
  // A signature of the previous manifest would now be 'invalid' and refuse the new model: a new model starts unsigned.
  rmSync(join(dir, SIGNATURE_FILE), { force: true });
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

/** How much a loader demands of a model's provenance. */
export interface ModelTrust {
  /** Ed25519 public keys (PEM text or paths of PEM files) whose signature on manifest.json is accepted. */
  trustedKeys?: readonly string[];
  /** Refuse a model whose manifest is not signed by one of `trustedKeys`. */
  requireSignature?: boolean;
}

/** What was established about the model folder at load. */
export interface ModelIntegrity {
  /** SHA-256 of the weight shards as read and decoded here (not the manifest's word). */
  weightsSha256: string;
  signature: SignatureCheck;
}

/** Key-order-independent JSON, to compare the manifest's architecture with model.json's. */
function canonical(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonical).join(',')}]`;
  if (v && typeof v === 'object') return `{${Object.keys(v).sort().map((k) => `${JSON.stringify(k)}:${canonical((v as Record<string, unknown>)[k])}`).join(',')}}`;
  return JSON.stringify(v);
}

function checkSignature(dir: string, manifestBytes: Buffer, trust: ModelTrust): SignatureCheck {
  let sig;
  try {
    sig = readManifestSignature(dir);
  } catch (err) {
    throw new ModelLoadError(`model signature unreadable: ${(err as Error).message}`, 'sign the model again: dermstream sign --model <dir> --key <private key>');
  }
  const keys = (trust.trustedKeys ?? []).map((k) => {
    try {
      return parseTrustedKey(k);
    } catch (err) {
      throw new ModelLoadError((err as Error).message, 'fix model.trustedKeys: paths of Ed25519 public keys (PEM) or the PEM text itself');
    }
  });
  const check = checkManifestSignature(manifestBytes, sig, keys);
  const signHint = `sign it with your key (dermstream sign --model ${dir} --key <private key>) and list the public half in model.trustedKeys`;
  if (check.status === 'invalid') throw new ModelLoadError(`${dir}/manifest.json does not match its signature (key ${check.keyId}): it was changed after signing`, 'copy the model folder again from a trusted source, or re-sign it if you changed the manifest yourself');
  if (trust.requireSignature && check.status === 'unsigned') throw new ModelLoadError(`${dir} is not signed and model.requireSignature is on`, signHint);
  if (trust.requireSignature && check.status === 'untrusted') throw new ModelLoadError(`${dir} is signed by key ${check.keyId}, which is not in model.trustedKeys (model.requireSignature is on)`, `add that key's public half to model.trustedKeys if you trust it, or ${signHint}`);
  return check;
}

/**
 * Reads manifest.json and model.json after verifying them: the signature of manifest.json (per `trust`), the
 * SHA-256 of every file against the manifest, that the manifest lists model.json and every shard model.json uses,
 * and that the manifest's architecture is model.json's. A corrupt, truncated, re-hashed or tampered model is
 * refused with the file named. Shared by both inference engines, which then use only the bytes verified here
 * (`bytes`), and report the weights hash computed from them.
 */
export function readVerifiedModel(
  dir: string,
  trust: ModelTrust = {},
): { manifest: Manifest; modelJson: ModelJson; config: ModelConfig; bytes: Map<string, Buffer>; integrity: ModelIntegrity } {
  const manifestPath = join(dir, 'manifest.json');
  readJson<Manifest>(manifestPath, 'manifest'); // existence and JSON, with the usual messages
  const manifestBytes = readFileSync(manifestPath);
  const manifest = JSON.parse(manifestBytes.toString('utf8')) as Manifest;
  const signature = checkSignature(dir, manifestBytes, trust);
  const modelJson = readJson<ModelJson>(join(dir, 'model.json'), 'model.json');
  if (modelJson.format !== MODEL_FORMAT) throw new ModelLoadError(`${dir}/model.json is not a ${MODEL_FORMAT} model (format: ${String(modelJson.format)})`, 'use a model written by `dermstream train` or `dermstream quantize`');
  const group = modelJson.weightsManifest?.[0];
  if (!group) throw new ModelLoadError(`${dir}/model.json has no weightsManifest`, 'the model is incomplete: copy or re-export it');
  // Every file that is read must be vouched for by the (signed) manifest: a list with gaps proves nothing.
  const listed = new Map((manifest.files ?? []).map((f) => [f.path, f]));
  for (const p of ['model.json', ...group.paths]) {
    if (!listed.has(p)) throw new ModelLoadError(`${dir}/manifest.json does not list ${p}, so nothing vouches for it`, 'copy the model folder again from a trusted source (a manifest is written by `dermstream train`/`quantize`, never by hand)');
  }
  const bytes = new Map<string, Buffer>();
  for (const f of manifest.files) {
    const p = join(dir, f.path);
    if (!existsSync(p)) throw new ModelLoadError(`model file missing: ${p}`, 'copy the whole model folder again');
    const buf = readFileSync(p);
    if (buf.length !== f.bytes) throw new ModelLoadError(`model file ${p} is ${buf.length} bytes, the manifest says ${f.bytes}: truncated or replaced`, 'copy the model folder again; do not edit model files by hand');
    const h = sha256(buf);
    if (h !== f.sha256) throw new ModelLoadError(`model file ${p} fails its SHA-256 check (got ${h.slice(0, 12)}…, manifest ${f.sha256.slice(0, 12)}…): corrupt or tampered`, 'copy the model folder again from a trusted source');
    bytes.set(f.path, buf);
  }
  if (canonical(manifest.architecture) !== canonical(modelJson.config)) {
    throw new ModelLoadError(`${dir}: the architecture in manifest.json is not the one in model.json`, 'the manifest belongs to another model: copy the model folder again (or re-export it)');
  }
  if (manifest.inputSize !== modelJson.config.inputSize || canonical(manifest.classes) !== canonical(modelJson.config.classes)) {
    throw new ModelLoadError(`${dir}: manifest.json's inputSize/classes disagree with model.json`, 'copy the model folder again (or re-export it)');
  }
  const config = parseModelConfig(modelJson.config, `${dir}/model.json config`);
  // The very bytes that were hashed are the ones decoded, and their hash is the identity on the wire.
  const weightsSha256 = sha256(Buffer.concat(group.paths.map((p) => bytes.get(p)!)));
  if (manifest.weightsSha256 !== weightsSha256) {
    throw new ModelLoadError(`${dir}: the weights hash to ${weightsSha256.slice(0, 12)}…, manifest.json says ${String(manifest.weightsSha256).slice(0, 12)}…`, 'copy the model folder again from a trusted source');
  }
  return { manifest, modelJson, config, bytes, integrity: { weightsSha256, signature } };
}

/**
 * Loads a model folder for tfjs after `readVerifiedModel`: never half-loaded, weights decoded from the verified bytes.
 */
export function loadModel(dir: string, trust: ModelTrust = {}): { net: LesionNet; manifest: Manifest; integrity: ModelIntegrity } {
  const { manifest, modelJson, config, bytes, integrity } = readVerifiedModel(dir, trust);
  const group = modelJson.weightsManifest[0];
  const joined = Buffer.concat(group.paths.map((p) => bytes.get(p)!));
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
    probe.declare({ pretrained: false });
  });
  const missing = [...probe.params.all()].map(([n]) => n).filter((n) => !params.has(n));
  probe.dispose();
  if (missing.length > 0) {
    net.dispose();
    throw new ModelLoadError(`model in ${dir} lacks ${missing.length} weights its architecture needs (first: ${missing[0]})`, 'the weights and config do not belong together: re-export the model');
  }
  return { net, manifest, integrity };
}

/** What goes on the wire as `model` for a model loaded by `readVerifiedModel` (either engine). */
export function modelIdentityOf(manifest: Manifest, integrity: ModelIntegrity, backend: string): ModelIdentity {
  // The hash is computed from the shard bytes loaded (equal to the manifest's, or the load was refused).
  return { name: manifest.name, version: manifest.version, sha256: integrity.weightsSha256, quantization: manifest.quantization, backend };
}
