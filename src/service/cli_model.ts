import type { Command } from 'commander';
import { selectBackend, type BackendPreference } from '../model/backend.js';
import { loadModelConfig, parseModelConfig } from '../model/config.js';
import { train } from '../model/train.js';
import { writeFileSync, mkdirSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { evaluate, formatReport, selectRows, type EvalReport } from '../model/evaluate.js';
import { loadEngine, type EngineOptions } from '../model/engine.js';
import { loadModel, saveModel } from '../model/weights_io.js';
import { LesionNet } from '../model/network.js';
import { fitPlatt } from '../model/calibration.js';
import type { QuantDtype } from '../model/quantize.js';
import { defaultModelDir } from './paths.js';

function folderBytes(dir: string): number {
  return readdirSync(dir).reduce((a, f) => a + statSync(join(dir, f)).size, 0);
}

async function runEval(modelDir: string, data: string, ids: string | undefined, backend: BackendPreference, inputSize?: number, detection?: Record<string, number>, calibration?: { a: number; b: number; fittedOn?: string }, engine: EngineOptions = { engine: 'tfjs' }): Promise<EvalReport> {
  const model = await loadEngine(modelDir, { ...engine, backend, inputSize, detection, calibration });
  console.error(`engine ${model.engine} (${model.identity.backend})${model.skipped.length ? `; skipped: ${model.skipped.join('; ')}` : ''}`);
  try {
    const rows = selectRows(data, ids);
    let last = 0;
    const report = await evaluate(model, data, rows, (d, n) => {
      if (process.stderr.isTTY && Date.now() - last > 200) {
        last = Date.now();
        process.stderr.write(`\revaluating ${d}/${n}`);
      }
    });
    if (process.stderr.isTTY) process.stderr.write('\n');
    return report;
  } finally {
    await model.dispose();
  }
}

export function registerEval(program: Command): void {
  program
    .command('eval')
    .description('score a model on an ISIC-layout folder: segmentation JA/DI/AC/SE/SP and malignant AUC/AP/AC/SE/SP')
    .requiredOption('--data <dir>', 'folder with images/, masks/ (optional) and labels.csv')
    .option('--model <dir>', 'model folder', defaultModelDir())
    .option('--ids <file>', 'score only these image ids (JSON array, or split.json from training: its "val" list)')
    .option('--json <file>', 'also write the report as JSON')
    .option('--input-size <n>', 'run the same weights at another input size (multiple of 32)', (v) => parseInt(v, 10))
    .option('--backend <name>', 'auto | tensorflow | wasm | cpu', 'auto')
    .option('--engine <name>', 'auto | tfjs | onnx (auto: onnx when the model has ONNX graphs and ONNX Runtime loads)', 'auto')
    .option('--onnx-threads <n>', 'ONNX Runtime intra-op threads (default: all cores but one)', (v) => parseInt(v, 10))
    .action(async (o) => {
      const report = await runEval(o.model, o.data, o.ids, o.backend, o.inputSize, undefined, undefined, { engine: o.engine, onnx: { threads: o.onnxThreads } });
      console.log(formatReport(report));
      if (o.json) {
        mkdirSync(dirname(o.json), { recursive: true });
        writeFileSync(o.json, JSON.stringify(report, null, 2));
      }
    });
}

export function registerQuantize(program: Command): void {
  program
    .command('quantize')
    .description('write a quantized copy of a model (uint8 affine per tensor, or float16) and measure what it costs')
    .option('--model <dir>', 'float32 model folder', defaultModelDir())
    .requiredOption('--out <dir>', 'folder for the quantized model')
    .requiredOption('--dtype <dtype>', 'uint8 | float16')
    .option('--data <dir>', 'score float32 and quantized on this ISIC-layout folder')
    .option('--ids <file>', 'score only these ids (see eval)')
    .option('--json <file>', 'write the comparison as JSON')
    .option('--version <v>', 'version to record in the quantized manifest (default: the float model\'s)')
    .option('--max-detections <n>', 'override the exported detection.maxDetections', (v) => parseInt(v, 10))
    .option('--score-threshold <x>', 'override the exported detection.scoreThreshold', parseFloat)
    .option('--nms-iou <x>', 'override the exported detection.nmsIoU', parseFloat)
    .option('--calibrate', 'fit Platt scaling of the malignant probability on --data/--ids and export it')
    .option('--backend <name>', 'auto | tensorflow | wasm | cpu', 'auto')
    .action(async (o) => {
      if (o.dtype !== 'uint8' && o.dtype !== 'float16') throw new Error(`--dtype must be uint8 or float16, not ${o.dtype}`);
      await selectBackend(o.backend as BackendPreference);
      const loaded = loadModel(o.model);
      const manifest = loaded.manifest;
      if (manifest.quantization !== 'float32') throw new Error(`${o.model} is already ${manifest.quantization}; quantize the float32 model`);
      // Inference thresholds are not weights: they may be tuned on the validation split and exported with the model.
      const detection = {
        ...loaded.net.config.detection,
        ...(o.maxDetections !== undefined && { maxDetections: o.maxDetections }),
        ...(o.scoreThreshold !== undefined && { scoreThreshold: o.scoreThreshold }),
        ...(o.nmsIou !== undefined && { nmsIoU: o.nmsIou }),
      };
      let calibration = loaded.net.config.calibration;
      if (o.calibrate) {
        if (!o.data) throw new Error('--calibrate needs --data (and --ids for a validation split)');
        const raw = await runEval(o.model, o.data, o.ids, o.backend, undefined, detection);
        const fit = fitPlatt(raw.perImage.malignant, raw.perImage.labels);
        calibration = { ...fit, fittedOn: `${raw.n} images of ${o.data}${o.ids ? ` (${o.ids})` : ''}` };
        console.log(`calibration: p' = σ(${fit.a.toFixed(4)}·logit(p) + ${fit.b.toFixed(4)}) fitted on ${calibration.fittedOn}`);
      }
      const net = new LesionNet(parseModelConfig({ ...loaded.net.config, detection, calibration }), loaded.net.params);
      const q = await saveModel(net, o.out, {
        quantization: o.dtype as QuantDtype,
        name: manifest.name,
        version: o.version ?? manifest.version,
        training: manifest.training,
        metrics: manifest.metrics,
        notes: [...(manifest.notes ?? []), `quantized from ${manifest.weightsSha256} (${o.dtype})`],
      });
      net.dispose();
      const before = folderBytes(o.model);
      const after = folderBytes(o.out);
      console.log(`${o.model}: ${(before / 1e6).toFixed(2)} MB float32 → ${o.out}: ${(after / 1e6).toFixed(2)} MB ${o.dtype} (×${(before / after).toFixed(2)} smaller), sha256 ${q.weightsSha256.slice(0, 12)}…`);
      const result: Record<string, unknown> = { float32Bytes: before, quantizedBytes: after, dtype: o.dtype };
      if (o.data) {
        // The float model scored with the same exported thresholds, so the change is quantization alone.
        const f = await runEval(o.model, o.data, o.ids, o.backend, undefined, detection, calibration);
        const g = await runEval(o.out, o.data, o.ids, o.backend);
        console.log('float32:\n' + formatReport(f) + '\n' + o.dtype + ':\n' + formatReport(g));
        const d = (a?: number, b?: number) => (a !== undefined && b !== undefined ? b - a : undefined);
        result.float32 = f;
        result.quantized = g;
        result.delta = { JA: d(f.segmentation?.JA, g.segmentation?.JA), DI: d(f.segmentation?.DI, g.segmentation?.DI), AUC: d(f.classification.AUC, g.classification.AUC), AP: d(f.classification.AP, g.classification.AP) };
        console.log(`change: ${JSON.stringify(result.delta)}`);
        // The quantized model's own scores go into its manifest (manifest.json is not among the hashed files).
        const mpath = join(o.out, 'manifest.json');
        const m = JSON.parse(readFileSync(mpath, 'utf8'));
        m.metrics = { ...(m.metrics ?? {}), evaluation: { ...g, perImage: undefined, ids: o.ids ?? 'all of labels.csv' }, float32Evaluation: { segmentation: f.segmentation, classification: f.classification } };
        writeFileSync(mpath, JSON.stringify(m, null, 2));
      }
      if (o.json) writeFileSync(o.json, JSON.stringify(result, null, 2));
    });
}

/** Registers `train` (and, below, the other model commands) on the CLI. */
export function registerTrain(program: Command): void {
  program
    .command('train')
    .description('train the multi-task lesion network on an ISIC-layout folder (images/, masks/, labels.csv)')
    .requiredOption('--data <dir>', 'dataset folder, e.g. ../shared/data/isic2017-train')
    .option('--config <file>', 'model architecture: a preset (edge, paper) or a JSON file', 'edge')
    .requiredOption('--out <dir>', 'output folder: checkpoint/, best/, report.png, history.json')
    .option('--epochs <n>', 'passes over the training split', (v) => parseInt(v, 10), 12)
    .option('--batch <n>', 'images per step', (v) => parseInt(v, 10), 8)
    .option('--lr <x>', 'peak learning rate (Adam)', parseFloat, 1e-3)
    .option('--val <n>', 'images held out (stratified) for validation', (v) => parseInt(v, 10), 200)
    .option('--seed <n>', 'split and shuffling seed', (v) => parseInt(v, 10), 2017)
    .option('--resume', 'continue from <out>/checkpoint', false)
    .option('--max-minutes <n>', 'stop with a checkpoint after this many minutes', parseFloat)
    .option('--checkpoint-minutes <n>', 'periodic checkpoint interval', parseFloat, 10)
    .option('--limit <n>', 'use only the first N training images (smoke runs)', (v) => parseInt(v, 10))
    .option('--workers <n>', 'data-parallel replicas (threads); 2 uses both cores of a 2-core CPU', (v) => parseInt(v, 10), 1)
    .option('--backend <name>', 'auto | tensorflow | wasm | cpu', 'auto')
    .action(async (o) => {
      const backend = await selectBackend(o.backend as BackendPreference);
      const log = (line: string) => console.log(`[${new Date().toISOString()}] ${line}`);
      log(`backend: ${backend.name} (${backend.provider})${backend.skipped.length ? `; skipped: ${backend.skipped.join('; ')}` : ''}`);
      const config = loadModelConfig(o.config);
      const command = `dermstream ${process.argv.slice(2).join(' ')}`;
      let lastDraw = 0;
      const tty = process.stderr.isTTY;
      const { best, outDir } = await train({
        dataDir: o.data,
        config,
        outDir: o.out,
        epochs: o.epochs,
        batchSize: o.batch,
        learningRate: o.lr,
        valCount: o.val,
        seed: o.seed,
        resume: o.resume,
        maxMinutes: o.maxMinutes,
        checkpointMinutes: o.checkpointMinutes,
        limit: o.limit,
        workers: o.workers,
        backend: o.backend,
        command,
        log,
        progress: tty
          ? (p) => {
              if (Date.now() - lastDraw < 250) return;
              lastDraw = Date.now();
              const width = 30;
              const filled = Math.round((p.step / p.stepsPerEpoch) * width);
              process.stderr.write(`\repoch ${p.epoch + 1} [${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${p.step}/${p.stepsPerEpoch} loss ${p.loss.toFixed(4)} ${p.imagesPerSecond.toFixed(2)} img/s lr ${p.lr.toExponential(1)}   `);
            }
          : undefined,
      });
      if (tty) process.stderr.write('\n');
      log(best ? `done: best validation JA ${best.segmentation.JA.toFixed(4)} AUC ${best.classification.AUC.toFixed(4)} → ${outDir}/best` : `stopped; model and checkpoint in ${outDir}`);
    });
}
