import { createHash } from 'node:crypto';
import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { foldBatchNorms } from '../layers.js';
import { loadModel, type Manifest } from '../weights_io.js';
import { OPSET } from './graph_builder.js';
import { boxHeadGraph, denseGraph, maskHeadGraph } from './lesionnet_graphs.js';

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

function sha256(buf: Uint8Array): string {
  return createHash('sha256').update(buf).digest('hex');
}

function atomicWrite(path: string, data: Uint8Array | string): void {
  const tmp = `${path}.tmp-${process.pid}`;
  writeFileSync(tmp, data);
  renameSync(tmp, path);
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
 * bytes and SHA-256, plus the `onnx` entry), so the loader verifies them like the weight shards. uint8/float16
 * weights are dequantized by the loader, then batch norm is folded as the tfjs inference path does: both
 * engines run on identical float32 weights. The caller must have selected a tfjs backend.
 */
export function exportOnnx(modelDir: string, outFile: string = join(modelDir, DEFAULT_ONNX_FILE)): { manifest: Manifest; written: Array<{ path: string; bytes: number }> } {
  if (resolve(dirname(outFile)) !== resolve(modelDir)) {
    throw new Error(`--out ${outFile} is outside the model folder ${modelDir}: the graphs must sit beside manifest.json to be hashed with the model (use --out ${join(modelDir, DEFAULT_ONNX_FILE)})`);
  }
  const names = graphFileNames(outFile);
  const { net, manifest } = loadModel(modelDir);
  try {
    foldBatchNorms(net.params);
    const doc = `${manifest.name} ${manifest.version} (${manifest.quantization} weights, dequantized), exported by dermstream`;
    const meta = { model: manifest.name, version: manifest.version, weightsSha256: manifest.weightsSha256 };
    const graphs: Array<[string, Uint8Array]> = [
      [names.dense, denseGraph(net.config, net.params).encode(`${doc}: backbone, FPN, RPN head`, meta)],
      [names.boxHead, boxHeadGraph(net.config, net.params).encode(`${doc}: box head`, meta)],
      [names.maskHead, maskHeadGraph(net.config, net.params).encode(`${doc}: mask head`, meta)],
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
