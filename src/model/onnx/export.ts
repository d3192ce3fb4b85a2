import { readFileSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { BN_EPS, foldBatchNorms } from '../layers.js';
import type { LesionNet } from '../network.js';
import { atomicWrite, loadModel, readVerifiedModel, sha256, type Manifest, type WeightEntry } from '../weights_io.js';
import { OPSET } from './graph_builder.js';
import { boxHeadGraph, denseGraph, maskHeadGraph, type QuantizedKernels } from './lesionnet_graphs.js';

/** What manifest.json records about the exported graphs (file names are relative to the model folder). */
export interface OnnxExport {
  opset: number;
  dense: string;
  boxHead: string;
  maskHead: string;
  /** weightsSha256 of the weights the graphs were exported from: a re-trained or re-quantized model invalidates them. */
  weightsSha256: string;
  exportedAt: string;
}

export const DEFAULT_ONNX_FILE = 'lesionnet.onnx';

/**
 * The uint8 kernels of a quantized model as their codes (recovered exactly from the dequantized values) and,
 * where batch norm will be folded into them, its per-channel γ/σ — computed before folding, as foldBatchNorms does.
 * float16 and float32 kernels are exported as float32.
 */
function quantizedKernels(net: LesionNet, entries: WeightEntry[]): QuantizedKernels {
  const out: QuantizedKernels = new Map();
  for (const e of entries) {
    const qi = e.quantization;
    if (qi?.dtype !== 'uint8' || !e.name.endsWith('/kernel') || qi.min === undefined || qi.scale === undefined) continue;
    const { min, scale } = qi;
    const v = net.params.get(e.name).dataSync() as Float32Array;
    const q = new Uint8Array(v.length);
    for (let i = 0; i < v.length; i++) {
      q[i] = Math.round((v[i] - min) / scale);
      if (Math.abs(q[i] * scale + min - v[i]) > 1e-6 * (Math.abs(v[i]) + scale)) throw new Error(`export: ${e.name} is not the uint8 codes its manifest entry describes`);
    }
    const base = e.name.slice(0, -'/kernel'.length);
    let channelScale: Float32Array | undefined;
    if (net.params.has(`${base}/bn/gamma`)) {
      const gamma = net.params.get(`${base}/bn/gamma`).dataSync();
      const variance = net.params.get(`${base}/bn/variance`).dataSync();
      channelScale = Float32Array.from(gamma, (g, o) => g / Math.sqrt(variance[o] + BN_EPS));
    }
    out.set(e.name, { q, min, scale, channelScale });
  }
  return out;
}

/** lesionnet.onnx → lesionnet.onnx, lesionnet.box_head.onnx, lesionnet.mask_head.onnx. */
export function graphFileNames(outFile: string): { dense: string; boxHead: string; maskHead: string } {
  const name = basename(outFile);
  if (!name.endsWith('.onnx')) throw new Error(`--out ${outFile}: the file name must end in .onnx (e.g. ${DEFAULT_ONNX_FILE})`);
  const stem = name.slice(0, -'.onnx'.length);
  return { dense: name, boxHead: `${stem}.box_head.onnx`, maskHead: `${stem}.mask_head.onnx` };
}

/**
 * Writes the model's network as ONNX graphs into its own folder and records them in manifest.json (files with
 * bytes and SHA-256, plus the `onnx` entry), so the loader verifies them like the weight shards. Batch norm is
 * folded as the tfjs inference path folds it; uint8 kernels stay uint8 in the file and are dequantized and scaled
 * by constant-folded nodes (float32 after session creation, equal to tfjs's weights to float rounding), float16
 * ones are written dequantized. The caller must have selected a tfjs backend.
 */
export function exportOnnx(modelDir: string, outFile: string = join(modelDir, DEFAULT_ONNX_FILE)): { manifest: Manifest; written: Array<{ path: string; bytes: number }> } {
  if (resolve(dirname(outFile)) !== resolve(modelDir)) {
    throw new Error(`--out ${outFile} is outside the model folder ${modelDir}: the graphs must sit beside manifest.json to be hashed with the model (use --out ${join(modelDir, DEFAULT_ONNX_FILE)})`);
  }
  const names = graphFileNames(outFile);
  const { net, manifest } = loadModel(modelDir);
  try {
    const quantized = quantizedKernels(net, readVerifiedModel(modelDir).modelJson.weightsManifest[0].weights);
    foldBatchNorms(net.params);
    const doc = `${manifest.name} ${manifest.version} (${manifest.quantization} weights, dequantized), exported by dermstream`;
    const meta = { model: manifest.name, version: manifest.version, weightsSha256: manifest.weightsSha256 };
    const graphs: Array<[string, Uint8Array]> = [
      [names.dense, denseGraph(net.config, net.params, quantized).encode(`${doc}: backbone, FPN, RPN head`, meta)],
      [names.boxHead, boxHeadGraph(net.config, net.params, quantized).encode(`${doc}: box head`, meta)],
      [names.maskHead, maskHeadGraph(net.config, net.params, quantized).encode(`${doc}: mask head`, meta)],
    ];
    const previous = new Set([manifest.onnx?.dense, manifest.onnx?.boxHead, manifest.onnx?.maskHead, ...graphs.map(([n]) => n)]);
    const files = manifest.files.filter((f) => !previous.has(f.path));
    for (const [name, bytes] of graphs) {
      atomicWrite(join(modelDir, name), bytes);
      files.push({ path: name, bytes: bytes.length, sha256: sha256(bytes) });
    }
    const updated: Manifest = {
      ...manifest,
      files,
      onnx: { opset: OPSET, ...names, weightsSha256: manifest.weightsSha256, exportedAt: new Date().toISOString() },
    };
    atomicWrite(join(modelDir, 'manifest.json'), JSON.stringify(updated, null, 2));
    return { manifest: updated, written: graphs.map(([path, b]) => ({ path, bytes: b.length })) };
  } finally {
    net.dispose();
  }
}

/** The manifest as it is on disk (for the engine, which does not need the tfjs weights). */
export function readManifest(modelDir: string): Manifest {
  return JSON.parse(readFileSync(join(modelDir, 'manifest.json'), 'utf8')) as Manifest;
}
