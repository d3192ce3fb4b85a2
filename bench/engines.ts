/**
 * Network alone on both engines, in one run, on the same frames: per configuration of the README's
 * speed/accuracy table (the shipped weights at 128, 160 = default, 192 px), tfjs (the selected backend) and
 * ONNX Runtime at each thread count. Median ms/frame of the network (letterboxed input ready → detections
 * incl. proposals, RoI align, NMS, heads, masks; the same span bench/model.ts times), frames/s, GFLOPs
 * counted on the tfjs forward, achieved GFLOP/s, and maxAbsDiff: the largest |difference| from tfjs of any
 * detection score, calibrated p(malignant) or mask probability on those frames.
 *
 *   npm run build && npm run bench:engines -- [--json FILE] [--md FILE] [--runs 30] [--threads 1,2] [--model DIR]
 */
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { dirname, join } from 'node:path';
import sharp from 'sharp';
import * as tf from '@tensorflow/tfjs-core';
import { selectBackend, type BackendPreference } from '../src/model/backend.js';
import { imagePath, readLabels } from '../src/model/dataset.js';
import { detect, type RawDetection } from '../src/model/detect.js';
import { withFlopCounter } from '../src/model/flops.js';
import { foldBatchNorms } from '../src/model/layers.js';
import { letterboxTensor } from '../src/model/letterbox.js';
import { LesionNet } from '../src/model/network.js';
import { defaultOrtThreads, OnnxLesionModel } from '../src/model/onnx/ort_model.js';
import { loadModel } from '../src/model/weights_io.js';
import { packageRoot } from '../src/service/paths.js';
import { arg, median } from './args.js';

export interface EngineRow {
  config: string;
  inputSize: number;
  engine: string;
  threads?: number;
  msPerFrame: number;
  framesPerSecond: number;
  gflops: number;
  achievedGflops: number;
  maxAbsDiff: number;
  detections: number;
  default?: boolean;
}

/** Camera-like frames: ISIC training images resized to 640×480 when present, else the demo clip's size of noise. */
async function frames(n: number): Promise<{ rgb: Uint8Array; width: number; height: number; source: string }[]> {
  const isic = join(packageRoot(), '..', 'shared', 'data', 'isic2017-train');
  if (existsSync(join(isic, 'labels.csv'))) {
    const rows = readLabels(isic).slice(0, n);
    return Promise.all(
      rows.map(async (r) => {
        const data = await sharp(imagePath(isic, r.id)).removeAlpha().resize(640, 480, { fit: 'fill' }).raw().toBuffer();
        return { rgb: new Uint8Array(data), width: 640, height: 480, source: r.id };
      }),
    );
  }
  console.error(`ISIC data not found at ${isic}: timing on noise frames (maxAbsDiff then compares mostly empty outputs)`);
  return Array.from({ length: n }, (_, k) => {
    const rgb = new Uint8Array(640 * 480 * 3);
    for (let i = 0; i < rgb.length; i++) rgb[i] = ((i + k * 7919) * 2654435761) >>> 24;
    return { rgb, width: 640, height: 480, source: `noise${k}` };
  });
}

function maxDiff(a: RawDetection[], b: RawDetection[]): number {
  if (a.length !== b.length) return Infinity;
  let m = 0;
  a.forEach((d, i) => {
    m = Math.max(m, Math.abs(d.score - b[i].score), Math.abs(d.malignant - b[i].malignant));
    for (let k = 0; k < d.mask.length; k++) m = Math.max(m, Math.abs(d.mask[k] - b[i].mask[k]));
  });
  return m;
}

/**
 * Times every contender on the same frame in turn, frame after frame (3 warm-up passes, then `runs` rounds):
 * when other work on the machine comes and goes, it slows all contenders alike, so their ratio holds.
 * Returns each contender's median ms.
 */
async function timeInterleaved(inputs: number, runs: number, contenders: Array<(i: number) => unknown>): Promise<number[]> {
  for (let i = 0; i < 3 * inputs; i++) for (const fn of contenders) await fn(i % inputs);
  const times = contenders.map(() => [] as number[]);
  for (let r = 0; r < runs; r++) {
    for (let c = 0; c < contenders.length; c++) {
      const t = performance.now();
      await contenders[c](r % inputs);
      times[c].push(performance.now() - t);
    }
  }
  return times.map(median);
}

async function main(): Promise<void> {
  const backend = await selectBackend(arg('backend', 'wasm') as BackendPreference);
  const runs = Math.max(20, parseInt(arg('runs', '30'), 10));
  // "2s" = two threads with spin-waiting (ORT's own default) for comparison.
  const threadCounts = arg('threads', '1,2,2s').split(',');
  const modelDir = arg('model', join(packageRoot(), 'models', 'default'));
  const fr = await frames(8);
  const { net, manifest } = loadModel(modelDir);
  foldBatchNorms(net.params);
  const rows: EngineRow[] = [];
  const load0 = loadavg()[0];
  for (const size of [128, net.config.inputSize, 192]) {
    const isDefault = size === net.config.inputSize;
    const label = `${net.config.name}${isDefault ? ' (default)' : ` @${size}`}`;
    const variant = new LesionNet({ ...net.config, inputSize: size }, net.params);
    const tensors = fr.map((f) => letterboxTensor(f.rgb, f.width, f.height, size, net.config.channelMeans).input);
    const arrays = tensors.map((t) => t.dataSync() as Float32Array);
    const reference = tensors.map((t) => detect(variant, t));
    const gflops = withFlopCounter(() => detect(variant, tensors[0])).flops / 1e9;
    const variants = await Promise.all(
      threadCounts.map(async (spec) => {
        const threads = parseInt(spec, 10);
        const spin = spec.endsWith('s');
        return { spec, threads, spin, ort: await OnnxLesionModel.load(modelDir, { inputSize: size, threads, spin }) };
      }),
    );
    const ms = await timeInterleaved(fr.length, runs, [(i) => detect(variant, tensors[i]), ...variants.map((v) => (i: number) => v.ort.detect(arrays[i]))]);
    const tfMs = ms[0];
    rows.push({ config: label, inputSize: size, engine: `tfjs-${backend.name}`, msPerFrame: tfMs, framesPerSecond: 1000 / tfMs, gflops, achievedGflops: gflops / (tfMs / 1000), maxAbsDiff: 0, detections: reference.reduce((a, r) => a + r.length, 0) });
    console.error(`${label} tfjs-${backend.name}: ${tfMs.toFixed(1)} ms`);
    for (const [k, v] of variants.entries()) {
      const outs: RawDetection[][] = [];
      for (const a of arrays) outs.push(await v.ort.detect(a));
      const diff = Math.max(...outs.map((o, i) => maxDiff(reference[i], o)));
      const m = ms[k + 1];
      rows.push({
        config: label,
        inputSize: size,
        engine: v.spin ? 'onnxruntime-cpu (spinning)' : 'onnxruntime-cpu',
        threads: v.threads,
        msPerFrame: m,
        framesPerSecond: 1000 / m,
        gflops,
        achievedGflops: gflops / (m / 1000),
        maxAbsDiff: diff,
        detections: outs.reduce((a, r) => a + r.length, 0),
        ...(isDefault && !v.spin && v.threads === defaultOrtThreads() && { default: true }),
      });
      console.error(`${label} onnx ×${v.spec}: ${m.toFixed(1)} ms, max |Δ| ${diff.toExponential(1)}`);
      await v.ort.dispose();
    }
    tensors.forEach((t) => t.dispose());
  }
  net.dispose();
  const load1 = loadavg()[0];
  const machine = `${cpus().length}× ${cpus()[0]?.model ?? 'cpu'} (no GPU), Node ${process.version}, tfjs backend ${backend.name}, onnxruntime-node 1.30.0 (CPU EP)`;
  const lines = ['| configuration | engine | threads | ms/frame (median) | frames/s | GFLOPs/frame | achieved GFLOP/s | max abs diff vs tfjs | detections | speed-up vs tfjs |', '|---|---|---|---|---|---|---|---|---|---|'];
  for (const r of rows) {
    const base = rows.find((x) => x.config === r.config && x.engine.startsWith('tfjs'));
    lines.push(
      `| ${r.config}${r.default ? ' **default**' : ''} | ${r.engine} | ${r.threads ?? 1} | ${r.msPerFrame.toFixed(1)} | ${r.framesPerSecond.toFixed(1)} | ${r.gflops.toFixed(2)} | ${r.achievedGflops.toFixed(1)} | ${r.maxAbsDiff.toExponential(1)} | ${r.detections} | ${base ? (base.msPerFrame / r.msPerFrame).toFixed(2) : '—'}× |`,
    );
  }
  const md = `Engines, network alone (letterboxed input ready → detections), ${runs} timed rounds (contenders interleaved frame by frame) after warm-up over ${fr.length} frames (${fr[0].source}…, 640×480), model ${manifest.name} ${manifest.version} (${manifest.quantization}), on ${machine}; 1-min load average ${load0.toFixed(1)} → ${load1.toFixed(1)} (other work shares these 2 cores), ${new Date().toISOString()}\n\n${lines.join('\n')}\n`;
  console.log(md);
  const json = arg('json', join(packageRoot(), 'bench', 'results', 'engines.json'));
  const mdPath = arg('md', json.replace(/\.json$/, '') + '.md');
  mkdirSync(dirname(json), { recursive: true });
  writeFileSync(json, JSON.stringify({ machine, runs, frames: fr.map((f) => f.source), loadAverage: [load0, load1], at: new Date().toISOString(), rows }, null, 2));
  writeFileSync(mdPath, md);
}

main().catch((err: Error) => {
  console.error(`bench/engines: ${err.stack ?? err.message}`);
  process.exit(1);
});
