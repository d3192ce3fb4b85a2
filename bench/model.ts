/**
 * Network-alone benchmark: per configuration, GFLOPs per frame (counted from the forward pass),
 * median ms/frame over ≥ 20 runs after warm-up, frames/s, achieved GFLOP/s, and the backend's GFLOP/s
 * on one large 3×3 convolution as the ceiling. Prints a table and writes bench/results/model.{json,md}.
 *
 *   npm run build && node dist/bench/model.js [--configs default,edge,edge-mnv2,paper]  (default: the shipped model) [--runs 20] [--backend wasm]
 *     [--refine 0.25,0.5f] also time coarse-to-fine (shipped model + one crop pass; f = with flip TTA)
 *     [--name model]       results file name under bench/results/
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { selectBackend, type BackendPreference } from '../src/model/backend.js';
import { PRESETS, type ModelConfig } from '../src/model/config.js';
import { detect } from '../src/model/detect.js';
import { withFlopCounter } from '../src/model/flops.js';
import { foldBatchNorms } from '../src/model/layers.js';
import { letterboxTensor } from '../src/model/letterbox.js';
import { LesionNet } from '../src/model/network.js';
import { loadModel } from '../src/model/weights_io.js';
import { refineDetection } from '../src/model/refine.js';
import type { Detection } from '../src/types/detection.js';
import { packageRoot } from '../src/service/paths.js';
import { arg, median } from './args.js';

function ceilingGflops(): number {
  const x = tf.randomNormal([1, 128, 128, 64]) as tf.Tensor4D;
  const w = tf.randomNormal([3, 3, 64, 64]) as tf.Tensor4D;
  const flops = 2 * 128 * 128 * 9 * 64 * 64;
  const times: number[] = [];
  for (let i = 0; i < 25; i++) {
    const t = performance.now();
    const y = tf.conv2d(x, w, 1, 'same');
    y.dataSync();
    y.dispose();
    if (i >= 5) times.push(performance.now() - t);
  }
  x.dispose();
  w.dispose();
  return flops / median(times) / 1e6;
}

interface Row {
  config: string;
  weights: string;
  inputSize: number;
  parameters: number;
  gflops: number;
  msPerFrame: number;
  fps: number;
  achievedGflops: number;
  detections: number;
  runs: number;
}

function benchNet(net: LesionNet, label: string, weights: string, runs: number): Row {
  const s = net.config.inputSize;
  // A 640×480 camera frame, as the device sees it (preprocessing is the pipeline's, not counted here).
  const rgb = new Uint8Array(640 * 480 * 3);
  for (let i = 0; i < rgb.length; i++) rgb[i] = (i * 2654435761) >>> 24;
  const { input } = letterboxTensor(rgb, 640, 480, s, net.config.channelMeans);
  const counted = withFlopCounter(() => detect(net, input));
  for (let i = 0; i < 3; i++) detect(net, input);
  const times: number[] = [];
  let dets = 0;
  for (let i = 0; i < runs; i++) {
    const t = performance.now();
    dets = detect(net, input).length;
    times.push(performance.now() - t);
  }
  input.dispose();
  const ms = median(times);
  return {
    config: label,
    weights,
    inputSize: s,
    parameters: net.params.count(),
    gflops: counted.flops / 1e9,
    msPerFrame: ms,
    fps: 1000 / ms,
    achievedGflops: counted.flops / 1e9 / (ms / 1000),
    detections: dets,
    runs,
  };
}

/**
 * Coarse-to-fine cost: the full-frame pass plus the crop pass (crop copy, letterbox, detect, paste)
 * for a fixed 200×160 px lesion box in a 640×480 frame, so the crop pass always runs.
 */
function benchRefine(net: LesionNet, spec: string, weights: string, runs: number): Row {
  // '0.5' = margin 0.5; '0.5f' = margin 0.5 with flip test-time augmentation.
  const margin = parseFloat(spec);
  const flip = spec.endsWith('f');
  const s = net.config.inputSize;
  const rgb = new Uint8Array(640 * 480 * 3);
  for (let i = 0; i < rgb.length; i++) rgb[i] = (i * 2654435761) >>> 24;
  const { input } = letterboxTensor(rgb, 640, 480, s, net.config.channelMeans);
  const coarse: Detection = { box: [220, 160, 420, 320], score: 1, probabilities: { benign: 0.5, malignant: 0.5 }, mask: { x: 0, y: 0, width: 0, height: 0, data: new Uint8Array(0) } };
  const opts = { margin, classify: 'coarse' as const, mode: 'box' as const, flip };
  const once = () => {
    detect(net, input);
    return refineDetection(net, rgb, 640, 480, coarse, opts, net.config.detection.maskThreshold);
  };
  const counted = withFlopCounter(once);
  for (let i = 0; i < 3; i++) once();
  // Interleaved with the coarse pass alone, so a machine whose load changes during the run still gives
  // a fair ratio (other work on a shared machine moved sequential rows by ±50 % here).
  const times: number[] = [];
  const coarseTimes: number[] = [];
  for (let i = 0; i < runs; i++) {
    let t = performance.now();
    detect(net, input);
    coarseTimes.push(performance.now() - t);
    t = performance.now();
    once();
    times.push(performance.now() - t);
  }
  input.dispose();
  const ms = median(times);
  console.error(`refine ${spec}: ${ms.toFixed(1)} ms against ${median(coarseTimes).toFixed(1)} ms for the coarse pass alone, interleaved (×${(ms / median(coarseTimes)).toFixed(2)})`);
  return { config: `${net.config.name} + refine (box, margin ${margin}${flip ? ', flip TTA' : ''})`, weights, inputSize: s, parameters: net.params.count(), gflops: counted.flops / 1e9, msPerFrame: ms, fps: 1000 / ms, achievedGflops: counted.flops / 1e9 / (ms / 1000), detections: 1, runs };
}

async function main(): Promise<void> {
  const refineMargins = arg('refine', '').split(',').filter(Boolean);
  const outName = arg('name', 'model');
  const backend = await selectBackend(arg('backend', 'auto') as BackendPreference);
  const runs = Math.max(20, parseInt(arg('runs', '20'), 10));
  const configs = arg('configs', 'default,edge,paper').split(',');
  const ceiling = ceilingGflops();
  const rows: Row[] = [];
  const shipped = join(packageRoot(), 'models', 'default');
  // The shipped model stands for its own preset (edge-mnv2 since v2.0.0) and for `default`: its real weights,
  // quantized as shipped, rather than a random network of the same shape.
  const shippedName = existsSync(join(shipped, 'manifest.json')) ? (JSON.parse(readFileSync(join(shipped, 'manifest.json'), 'utf8')) as { name?: string }).name : undefined;
  for (const name of [...new Set(configs.map((c) => (shippedName && PRESETS[c]?.name === shippedName ? 'default' : c)))]) {
    if (name === 'default' && shippedName) {
      // The shipped model, at its own size and at the neighbouring input sizes (same weights).
      const { net, manifest } = loadModel(shipped);
      foldBatchNorms(net.params);
      for (const size of [128, net.config.inputSize, 192]) {
        const cfg: ModelConfig = { ...net.config, inputSize: size };
        const variant = new LesionNet(cfg, net.params);
        rows.push(benchNet(variant, `${net.config.name}${size === net.config.inputSize ? ' (default)' : ` @${size}`}`, `shipped ${manifest.quantization}`, runs));
        console.error(`done ${rows[rows.length - 1].config}`);
      }
      for (const margin of refineMargins) {
        rows.push(benchRefine(net, margin, `shipped ${manifest.quantization}`, runs));
        console.error(`done ${rows[rows.length - 1].config}`);
      }
      net.dispose();
      continue;
    }
    const base = PRESETS[name];
    if (!base) throw new Error(`unknown config ${name}; presets: ${Object.keys(PRESETS).join(', ')}`);
    // Random weights with every detection kept: the worst case of the heads (all masks computed).
    const cfg: ModelConfig = { ...base, detection: { ...base.detection, scoreThreshold: 0 } };
    const net = new LesionNet(cfg).declare();
    foldBatchNorms(net.params);
    rows.push(benchNet(net, cfg.name, 'random init', name === 'paper' ? Math.max(20, Math.min(runs, 20)) : runs));
    console.error(`done ${cfg.name}`);
    net.dispose();
  }
  const machine = `${cpus().length}× ${cpus()[0]?.model ?? 'cpu'}, Node ${process.version}, backend ${backend.name}`;
  const header = '| configuration | weights | input | params | GFLOPs/frame | ms/frame (median) | frames/s | achieved GFLOP/s | ceiling GFLOP/s (3×3 conv) | detections |';
  const lines = [header, '|---|---|---|---|---|---|---|---|---|---|'];
  for (const r of rows) {
    lines.push(`| ${r.config} | ${r.weights} | ${r.inputSize} | ${(r.parameters / 1e6).toFixed(2)} M | ${r.gflops.toFixed(2)} | ${r.msPerFrame.toFixed(1)} | ${r.fps.toFixed(1)} | ${r.achievedGflops.toFixed(1)} | ${ceiling.toFixed(1)} | ${r.detections} |`);
  }
  const md = `Network alone (letterbox input ready, detect() incl. proposals, NMS, heads, masks), ${runs} runs after 3 warm-up, on ${machine}, ${new Date().toISOString()}\n\n${lines.join('\n')}\n`;
  console.log(md);
  const out = join(packageRoot(), 'bench', 'results');
  mkdirSync(out, { recursive: true });
  writeFileSync(join(out, `${outName}.json`), JSON.stringify({ machine, ceilingGflops: ceiling, rows, at: new Date().toISOString() }, null, 2));
  writeFileSync(join(out, `${outName}.md`), md);
}

main().catch((err: Error) => {
  console.error(`bench/model: ${err.message}`);
  process.exit(1);
});
