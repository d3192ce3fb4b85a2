import { InvalidArgumentError, type Command } from 'commander';
import { selectBackend, type BackendPreference } from '../model/backend.js';
import { loadModelConfig, parseModelConfig, type ModelConfig } from '../model/config.js';
import { train } from '../model/train.js';
import { writeFileSync, mkdirSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { evaluate, formatReport, selectRows, type EvalReport } from '../model/evaluate.js';
import { loadEngine, type EngineOptions } from '../model/engine.js';
import { loadModel, saveModel } from '../model/weights_io.js';
import { LesionNet } from '../model/network.js';
import { fitPlatt } from '../model/calibration.js';
import { measureOperatingPoint, thresholdForSensitivity } from '../model/operating_point.js';
import { classificationScores } from '../model/metrics.js';
import type { QuantDtype } from '../model/quantize.js';
import { defaultModelDir } from './paths.js';
import { foldSplit } from '../model/folds.js';
import { readFoldFile } from '../model/fold_file.js';

function folderBytes(dir: string): number {
  return readdirSync(dir).reduce((a, f) => a + statSync(join(dir, f)).size, 0);
}

export async function runEval(modelDir: string, data: string, ids: string | undefined, backend: BackendPreference, inputSize?: number, detection?: Partial<ModelConfig['detection']>, calibration?: { a: number; b: number; fittedOn?: string }, threshold?: number, fold?: number, engine: EngineOptions = { engine: 'tfjs' }): Promise<EvalReport> {
  // Coarse-to-fine refinement is a tfjs path (the ONNX graphs are the single pass): it runs there.
  const eng: EngineOptions = detection?.refine?.enabled ? { ...engine, engine: 'tfjs' } : engine;
  const model = await loadEngine(modelDir, { ...eng, backend, inputSize, detection, calibration });
  console.error(`engine ${model.engine} (${model.identity.backend})${model.skipped.length ? `; skipped: ${model.skipped.join('; ')}` : ''}`);
  try {
    const rows = selectRows(data, ids, fold);
    let last = 0;
    const report = await evaluate(model, data, rows, (d, n) => {
      if (process.stderr.isTTY && Date.now() - last > 200) {
        last = Date.now();
        process.stderr.write(`\revaluating ${d}/${n}`);
      }
    }, threshold);
    if (process.stderr.isTTY) process.stderr.write('\n');
    return report;
  } finally {
    await model.dispose();
  }
}

/** A `dermstream cv` summary, checked enough that a wrong file is refused rather than recorded in a manifest. */
function readCvSummary(file: string): Record<string, unknown> {
  const raw = JSON.parse(readFileSync(file, 'utf8')) as { folds?: unknown; config?: unknown; perFold?: unknown; summary?: { folds?: unknown; metrics?: unknown } };
  if (typeof raw.config !== 'string' || !Array.isArray(raw.perFold) || !raw.summary?.metrics) throw new Error(`--cv-summary ${file}: not a cv-summary.json from \`dermstream cv\` (needs config, perFold, summary.metrics)`);
  return { foldFile: raw.folds, config: raw.config, perFold: raw.perFold, summary: raw.summary, source: file };
}

/** A commander parser for a number strictly between 0 and 1 (a threshold), with the flag named in the error. */
function probability(flag: string, { allowZero = false, max = 1 } = {}): (v: string) => number {
  return (v: string) => {
    const x = Number(v);
    if (!Number.isFinite(x) || x < 0 || (!allowZero && x === 0) || x >= max) throw new InvalidArgumentError(`${flag} ${v}: needs a number ${allowZero ? '≥' : '>'} 0 and < ${max}`);
    return x;
  };
}

export function registerEval(program: Command): void {
  program
    .command('eval')
    .description("score a model on an ISIC-layout folder: segmentation JA/DI/AC/SE/SP; malignant AUC/AP, and AC/SE/SP at the model's operating point")
    .requiredOption('--data <dir>', 'folder with images/, masks/ (optional) and labels.csv')
    .option('--model <dir>', 'model folder', defaultModelDir())
    .option('--ids <file>', 'score only these image ids (JSON array, or split.json from training: its "val" list, or a fold file with --fold)')
    .option('--fold <n>', 'with a fold file as --ids: score this fold (1-based)', (v) => parseInt(v, 10))
    .option('--json <file>', 'also write the report as JSON')
    .option('--input-size <n>', 'run the same weights at another input size (multiple of 32)', (v) => parseInt(v, 10))
    .option('--threshold <p>', "score AC/SE/SP at p(malignant) ≥ this instead of the model's operating point", probability('--threshold'))
    .option('--backend <name>', 'auto | tensorflow | wasm | cpu', 'auto')
    .option('--refine <margin>', 'coarse-to-fine: re-run the network on a crop around each detection with this margin (e.g. 0.25)', parseFloat)
    .option('--refine-classify <which>', 'with --refine, the malignant score: coarse | crop | mean', 'coarse')
    .option('--refine-mode <mode>', 'with --refine: box (heads on the coarse box over the crop) | redetect (whole detector on the crop)', 'box')
    .option('--refine-flip', 'with --refine (box mode): average with the mirrored crop (flip test-time augmentation)', false)
    .option('--no-refine', 'turn off a refinement the model enables')
    .option('--engine <name>', 'auto | tfjs | onnx (auto: onnx when the model has ONNX graphs and ONNX Runtime loads)', 'auto')
    .option('--onnx-threads <n>', 'ONNX Runtime intra-op threads (default: all cores but one)', (v) => parseInt(v, 10))
    .action(async (o) => {
      if (o.refineClassify && !['coarse', 'crop', 'mean'].includes(o.refineClassify)) throw new Error(`--refine-classify must be coarse, crop or mean, not ${o.refineClassify}`);
      if (!['box', 'redetect'].includes(o.refineMode)) throw new Error(`--refine-mode must be box or redetect, not ${o.refineMode}`);
      const refine = typeof o.refine === 'number' ? { enabled: true, margin: o.refine, classify: o.refineClassify, mode: o.refineMode, flip: o.refineFlip } : o.refine === false ? { enabled: false, margin: 0, classify: 'coarse' as const, mode: 'box' as const, flip: false } : undefined;
      const report = await runEval(o.model, o.data, o.ids, o.backend, o.inputSize, refine ? { refine } : undefined, undefined, o.threshold, o.fold, { engine: o.engine, onnx: { threads: o.onnxThreads } });
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
    .option('--target-sensitivity <se>', 'operating point: the highest threshold (0.01 grid) whose sensitivity on --data/--ids reaches this', probability('--target-sensitivity', { max: 1.0000001 }))
    .option('--threshold <p>', 'operating point: this p(malignant) threshold (instead of --target-sensitivity)', probability('--threshold'))
    .option('--margin <m>', 'operating point: ± this around the threshold votes "uncertain"', probability('--margin', { allowZero: true, max: 0.5 }), 0.03)
    .option('--cv-summary <file>', "record a cross-validation of this configuration in the manifest (the cv-summary.json `dermstream cv` writes)")
    .option('--backend <name>', 'auto | tensorflow | wasm | cpu', 'auto')
    .action(async (o) => {
      if (o.dtype !== 'uint8' && o.dtype !== 'float16') throw new Error(`--dtype must be uint8 or float16, not ${o.dtype}`);
      if (o.threshold !== undefined && o.targetSensitivity !== undefined) throw new Error('give --threshold or --target-sensitivity, not both');
      if ((o.threshold !== undefined || o.targetSensitivity !== undefined) && !o.data) throw new Error('the operating point is measured on a validation split: add --data (and --ids)');
      const crossValidation = o.cvSummary ? readCvSummary(o.cvSummary) : undefined;
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
        metrics: crossValidation ? { ...(manifest.metrics ?? {}), crossValidation } : manifest.metrics,
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
        // The operating point is measured on the quantized model's own calibrated scores: it is what `run` votes with.
        const { malignant, labels } = g.perImage;
        const threshold = o.threshold ?? (o.targetSensitivity !== undefined ? thresholdForSensitivity(malignant, labels, o.targetSensitivity) : undefined);
        if (threshold !== undefined) {
          const how = o.threshold !== undefined ? `--threshold ${o.threshold}` : `highest 0.01-grid threshold with SE ≥ ${o.targetSensitivity}`;
          m.operatingPoint = measureOperatingPoint(malignant, labels, threshold, o.margin, `${g.n} images of ${o.data}${o.ids ? ` (${o.ids})` : ''}; ${how}`);
          console.log(`operating point: p(malignant) ≥ ${threshold} ± ${o.margin}: SE ${m.operatingPoint.sensitivity.toFixed(3)} SP ${m.operatingPoint.specificity.toFixed(3)}`);
          // The manifest's own evaluation then scores AC/SE/SP at that operating point too, as `eval` will.
          m.metrics.evaluation.classification = { ...classificationScores(malignant, labels, threshold), thresholdSource: 'model' };
          result.operatingPoint = m.operatingPoint;
        } else {
          console.log('note: no operating point written (give --target-sensitivity or --threshold); `run` will refuse this model unless the config sets pipeline.debounce.malignantThreshold');
        }
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
    .option('--folds <file>', 'train on a cross-validation fold file (dermstream folds) instead of the seeded split; with --fold')
    .option('--fold <n>', 'the fold (1-based) held out for validation; the others are trained on', (v) => parseInt(v, 10))
    .option('--malignant-fraction <x>', 'class-balanced sampling: share of each batch drawn from malignant images (e.g. 0.5)', parseFloat)
    .option('--backend <name>', 'auto | tensorflow | wasm | cpu', 'auto')
    .action(async (o) => {
      const log = (line: string) => console.log(`[${new Date().toISOString()}] ${line}`);
      // Ctrl-C: finish the step in flight, write a checkpoint, say how to resume. A second Ctrl-C quits at once.
      const interrupt = new AbortController();
      const onSignal = (sig: NodeJS.Signals) => {
        if (process.stderr.isTTY) process.stderr.write('\n');
        log(`${sig}: saving a checkpoint after the current step (${sig === 'SIGINT' ? 'Ctrl-C' : sig} again quits without one)`);
        interrupt.abort();
        process.once(sig, () => process.exit(130));
      };
      process.once('SIGINT', onSignal);
      process.once('SIGTERM', onSignal);
      const backend = await selectBackend(o.backend as BackendPreference);
      log(`backend: ${backend.name} (${backend.provider})${backend.skipped.length ? `; skipped: ${backend.skipped.join('; ')}` : ''}`);
      const config = loadModelConfig(o.config);
      const command = `dermstream ${process.argv.slice(2).join(' ')}`;
      if ((o.folds === undefined) !== (o.fold === undefined)) throw new Error('--folds and --fold go together: --folds data-splits/isic2017-train-5fold.json --fold 1');
      const split = o.folds ? { ...foldSplit(readFoldFile(o.folds).folds, o.fold - 1), name: `fold ${o.fold} of ${o.folds}` } : undefined;
      let lastDraw = 0;
      const tty = process.stderr.isTTY;
      const { best, outDir, interrupted } = await train({
        signal: interrupt.signal,
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
        split,
        malignantFraction: o.malignantFraction,
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
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
      if (tty) process.stderr.write('\n');
      if (interrupted) {
        process.exitCode = 130;
        return;
      }
      log(best ? `done: best validation JA ${best.segmentation.JA.toFixed(4)} AUC ${best.classification.AUC.toFixed(4)} → ${outDir}/best` : `stopped; model and checkpoint in ${outDir}`);
    });
}
