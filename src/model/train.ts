import { existsSync, mkdirSync, readFileSync, writeFileSync, renameSync, rmSync, cpSync } from 'node:fs';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { augment, maskBox, PAPER_AUGMENT } from './augment.js';
import { currentBackend } from './backend.js';
import type { ModelConfig } from './config.js';
import { loadLetterboxed, readLabels, stratifiedSplit, type LetterboxedSet } from './dataset.js';
import { normalizeLetterboxed } from './letterbox.js';
import { LesionNet } from './network.js';
import { applyBnStats, applyGradients, computeGradients, trainStep, type StepResult } from './optimizer_step.js';
import { averageGradients, startReplica, type Replica } from './replica.js';
import type { BackendPreference } from './backend.js';
import { renderReportPng, type HistoryPoint } from './report.js';
import { rng } from './targets.js';
import { balancedOrder, shuffledOrder } from './sampling.js';
import type { TrainSample } from './train_step.js';
import { validateLetterboxed, type ValidationResult } from './validate.js';
import { loadModel, saveModel } from './weights_io.js';

export interface TrainOptions {
  dataDir: string;
  config: ModelConfig;
  outDir: string;
  epochs: number;
  batchSize: number;
  learningRate: number;
  valCount: number;
  seed: number;
  resume: boolean;
  /** Stop cleanly (with a checkpoint) after this many minutes; resume later with --resume. */
  maxMinutes?: number;
  /** Aborted (Ctrl-C): save a checkpoint after the current step and return, saying how to resume. */
  signal?: AbortSignal;
  checkpointMinutes: number;
  /** Data-parallel replicas (threads): 2 uses both cores of a small CPU. Batch halves, gradients averaged. */
  workers?: number;
  backend?: BackendPreference;
  /** Train on these ids and validate on those (a cross-validation fold) instead of the seeded split. */
  split?: { train: string[]; val: string[]; name: string };
  /**
   * Share of each batch drawn from the malignant images (class-balanced sampling; undefined = the
   * data's own share, 19 % in ISIC 2017 training). Melanomas are then seen several times an epoch.
   */
  malignantFraction?: number;
  /** Use only the first N training images (smoke runs, tests). */
  limit?: number;
  command?: string;
  log: (line: string) => void;
  progress?: (p: { epoch: number; step: number; stepsPerEpoch: number; loss: number; imagesPerSecond: number; lr: number }) => void;
}

interface TrainState {
  epoch: number;
  stepInEpoch: number;
  globalStep: number;
  elapsedSeconds: number;
  history: HistoryPoint[];
  bestScore: number;
  options: Omit<TrainOptions, 'log' | 'progress' | 'config'>;
}

function learningRate(step: number, total: number, base: number): number {
  const warmup = Math.min(200, Math.floor(total / 10));
  if (step < warmup) return base * (0.1 + (0.9 * step) / warmup);
  const t = (step - warmup) / Math.max(1, total - warmup);
  return base * (0.02 + 0.98 * 0.5 * (1 + Math.cos(Math.PI * Math.min(1, t))));
}

async function saveOptimizer(opt: tf.Optimizer, dir: string): Promise<void> {
  const named = await opt.getWeights();
  const { data, specs } = await tf.io.encodeWeights(named);
  writeFileSync(join(dir, 'optimizer.bin'), Buffer.from(data));
  writeFileSync(join(dir, 'optimizer.json'), JSON.stringify(specs));
}

/**
 * Restores Adam's moments. tfjs keeps them by position, so they are matched to the weights by name
 * (without the per-process variable prefix) and laid out in the order trainStep passes the weights.
 */
async function loadOptimizer(opt: tf.Optimizer, dir: string, net: LesionNet): Promise<boolean> {
  if (!existsSync(join(dir, 'optimizer.bin'))) return false;
  const buf = readFileSync(join(dir, 'optimizer.bin'));
  const specs = JSON.parse(readFileSync(join(dir, 'optimizer.json'), 'utf8')) as tf.io.WeightsManifestEntry[];
  const tensors = tf.io.decodeWeights(buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength), specs);
  const strip = (n: string) => n.replace(/^m\d+\//, '');
  const byName = new Map(Object.entries(tensors).map(([n, t]) => [strip(n), t]));
  const iter = specs[0] ? tensors[specs[0].name] : undefined;
  const names = net.params.trainableSorted().map(([n]) => n);
  const m = names.map((n) => byName.get(`${n}/m`));
  const v = names.map((n) => byName.get(`${n}/v`));
  if (!iter || m.some((t) => !t) || v.some((t) => !t)) return false;
  await opt.setWeights([{ name: 'iter', tensor: iter }, ...names.map((n, i) => ({ name: `${n}/m`, tensor: m[i] as tf.Tensor })), ...names.map((n, i) => ({ name: `${n}/v`, tensor: v[i] as tf.Tensor }))]);
  return true;
}

/** `dermstream train`: the paper's multi-task training with checkpoints, resume and a report. */
export async function train(opts: TrainOptions): Promise<{ best: ValidationResult | null; outDir: string; interrupted?: boolean }> {
  const { log } = opts;
  mkdirSync(opts.outDir, { recursive: true });
  const ckptDir = join(opts.outDir, 'checkpoint');
  const statePath = join(ckptDir, 'state.json');
  const rows = readLabels(opts.dataDir);
  const split = opts.split ? pickSplit(rows, opts.split) : stratifiedSplit(rows, opts.valCount, opts.seed);
  const trainRows = opts.limit ? split.train.slice(0, opts.limit) : split.train;
  log(`data: ${rows.length} images in ${opts.dataDir}; train ${trainRows.length} (${trainRows.filter((r) => r.malignant).length} malignant), validation ${split.val.length} (${split.val.filter((r) => r.malignant).length} malignant), ${opts.split ? `split ${opts.split.name}` : `split seed ${opts.seed}`}`);
  writeFileSync(join(opts.outDir, 'split.json'), JSON.stringify({ seed: opts.seed, train: trainRows.map((r) => r.id), val: split.val.map((r) => r.id) }));
  const size = opts.config.inputSize;
  const cacheDir = join(opts.outDir, 'cache');
  let lastLog = 0;
  const trainSet = await loadLetterboxed(opts.dataDir, trainRows, size, cacheDir, (d, n) => {
    if (Date.now() - lastLog > 5000 || d === n) {
      log(`letterboxing training images ${d}/${n}`);
      lastLog = Date.now();
    }
  });
  const valSet: LetterboxedSet | null = split.val.length ? await loadLetterboxed(opts.dataDir, split.val, size, cacheDir) : null;

  let net: LesionNet;
  let state: TrainState;
  const optimizer = tf.train.adam(opts.learningRate);
  if (opts.resume && existsSync(statePath)) {
    net = loadModel(ckptDir).net;
    state = JSON.parse(readFileSync(statePath, 'utf8')) as TrainState;
    const hadOpt = await loadOptimizer(optimizer, ckptDir, net);
    log(`resumed from ${ckptDir}: epoch ${state.epoch + 1}, step ${state.stepInEpoch}, ${Math.round(state.elapsedSeconds / 60)} min trained so far${hadOpt ? '' : ' (optimizer state missing: Adam restarts its moments)'}`);
  } else {
    if (opts.resume) log(`--resume: no checkpoint in ${ckptDir}, starting fresh`);
    net = new LesionNet(opts.config).declare();
    state = { epoch: 0, stepInEpoch: 0, globalStep: 0, elapsedSeconds: 0, history: [], bestScore: -Infinity, options: { ...opts, log: undefined, progress: undefined, config: undefined } as never };
  }
  log(`model ${opts.config.name}: ${net.params.count().toLocaleString()} parameters, input ${size}×${size}, backend ${currentBackend()?.name ?? tf.getBackend()}`);

  const n = trainSet.ids.length;
  const stepsPerEpoch = Math.ceil(n / opts.batchSize);
  const totalSteps = stepsPerEpoch * opts.epochs;
  const started = Date.now();
  const baseElapsed = state.elapsedSeconds;
  let lastCkpt = Date.now();
  let best: ValidationResult | null = null;
  const S2 = size * size;

  const checkpoint = async (why: string) => {
    state.elapsedSeconds = baseElapsed + (Date.now() - started) / 1000;
    const tmp = `${ckptDir}.tmp`;
    rmSync(tmp, { recursive: true, force: true });
    await saveModel(net, tmp, { name: opts.config.name, training: { checkpoint: true, epoch: state.epoch, step: state.globalStep } });
    await saveOptimizer(optimizer, tmp);
    writeFileSync(join(tmp, 'state.json'), JSON.stringify(state));
    rmSync(ckptDir, { recursive: true, force: true });
    renameSync(tmp, ckptDir);
    lastCkpt = Date.now();
    // Counted as done work: at an epoch's end state.epoch has advanced and step is 0 ("epoch 13 step 0/200" of 12 read as a bug).
    log(`checkpoint (${why}) after ${state.epoch} epoch${state.epoch === 1 ? '' : 's'} + ${state.stepInEpoch}/${stepsPerEpoch} steps → ${ckptDir}`);
  };

  const batchImages = new Uint8Array(opts.batchSize * S2 * 3);
  let replica: Replica | undefined;
  if ((opts.workers ?? 1) > 1) {
    replica = await startReplica(opts.config, opts.backend ?? 'auto');
    log(`data-parallel: 2 replicas (this thread + 1 worker), ${Math.ceil(opts.batchSize / 2)} + ${Math.floor(opts.batchSize / 2)} images per step`);
  }
  const step = async (samples: TrainSample[], rand: () => number, seed: number): Promise<StepResult> => {
    if (!replica || samples.length < 2) {
      samples.forEach((smp, i) => batchImages.set(smp.image, i * S2 * 3));
      const x = normalizeLetterboxed(batchImages.subarray(0, samples.length * S2 * 3), samples.length, size, opts.config.channelMeans);
      try {
        return trainStep(net, optimizer, x, samples, rand);
      } finally {
        x.dispose();
      }
    }
    const half = Math.ceil(samples.length / 2);
    const mine = samples.slice(0, half);
    const remote = replica.step(net, samples.slice(half), seed);
    mine.forEach((smp, i) => batchImages.set(smp.image, i * S2 * 3));
    const x = normalizeLetterboxed(batchImages.subarray(0, mine.length * S2 * 3), mine.length, size, opts.config.channelMeans);
    const local = computeGradients(net, x, mine, rand);
    x.dispose();
    const r = await remote;
    const gradNorm = applyGradients(net, optimizer, averageGradients(local.grads, r.grads));
    applyBnStats(net, [local.bn, r.bn]);
    const parts = Object.fromEntries(Object.keys(local.parts).map((k) => [k, (local.parts[k as keyof typeof local.parts] + r.parts[k as keyof typeof r.parts]) / 2])) as unknown as StepResult['parts'];
    return { parts, gradNorm };
  };
  let lastParts: Record<string, number> | undefined;
  while (state.epoch < opts.epochs) {
    // A per-epoch order from the seed, so a resumed run sees the same sequence as an uninterrupted one.
    const order = opts.malignantFraction === undefined ? shuffledOrder(n, rng(opts.seed * 1000 + state.epoch)) : balancedOrder(trainSet.labels, opts.malignantFraction, rng(opts.seed * 1000 + state.epoch));
    const rand = rng(opts.seed * 7919 + state.globalStep);
    let windowImgs = 0;
    let windowStart = performance.now();
    let emaLoss = NaN;
    for (; state.stepInEpoch < stepsPerEpoch; state.stepInEpoch++) {
      const idx = order.slice(state.stepInEpoch * opts.batchSize, (state.stepInEpoch + 1) * opts.batchSize);
      const samples: TrainSample[] = idx.map((k) => {
        for (let attempt = 0; ; attempt++) {
          const a = augment(trainSet.images.subarray(k * S2 * 3, (k + 1) * S2 * 3), trainSet.masks.subarray(k * S2, (k + 1) * S2), size, PAPER_AUGMENT, rand);
          const box = maskBox(a.mask, size, size);
          // Keep views that still show the lesion; a lesion-free image is a valid (rare) sample after 3 tries.
          if (box || attempt >= 2) return { image: a.image, mask: a.mask, box, label: trainSet.labels[k] as 0 | 1 };
        }
      });
      const lr = learningRate(state.globalStep, totalSteps, opts.learningRate);
      (optimizer as unknown as { learningRate: number }).learningRate = lr;
      const r = await step(samples, rand, opts.seed * 104729 + state.globalStep);
      state.globalStep++;
      lastParts = { ...r.parts };
      windowImgs += samples.length;
      emaLoss = Number.isNaN(emaLoss) ? r.parts.total : 0.95 * emaLoss + 0.05 * r.parts.total;
      const ips = windowImgs / ((performance.now() - windowStart) / 1000);
      opts.progress?.({ epoch: state.epoch, step: state.stepInEpoch + 1, stepsPerEpoch, loss: emaLoss, imagesPerSecond: ips, lr });
      if (state.globalStep % 25 === 0) {
        state.history.push({ epoch: state.epoch + (state.stepInEpoch + 1) / stepsPerEpoch, step: state.globalStep, loss: { ...r.parts } });
        log(`epoch ${state.epoch + 1}/${opts.epochs} step ${state.stepInEpoch + 1}/${stepsPerEpoch} loss ${emaLoss.toFixed(4)} (${Object.entries(r.parts).map(([k, v]) => `${k} ${v.toFixed(3)}`).join(', ')}) ${ips.toFixed(2)} img/s lr ${lr.toExponential(2)} grad-norm ${r.gradNorm.toFixed(1)}`);
        windowImgs = 0;
        windowStart = performance.now();
      }
      // A step on one thread never returns to the event loop on its own (its awaits resolve as microtasks), so
      // a Ctrl-C would wait for the whole run: let signals in between steps (costs microseconds a step).
      if (opts.signal) await new Promise<void>((resolve) => setImmediate(resolve));
      if (opts.signal?.aborted) {
        // Ctrl-C (SIGINT) or SIGTERM: the step that was running is kept; nothing of the run is lost.
        state.stepInEpoch++;
        await checkpoint('interrupted');
        const resume = opts.command ? (/\s--resume\b/.test(opts.command) ? opts.command : `${opts.command} --resume`) : 'the same command with --resume';
        log(`interrupted at epoch ${state.epoch + 1} step ${state.stepInEpoch}/${stepsPerEpoch}: checkpoint saved in ${join(opts.outDir, 'checkpoint')}; resume with: ${resume}`);
        await replica?.close();
        net.dispose();
        return { best, outDir: opts.outDir, interrupted: true };
      }
      const elapsedMin = (Date.now() - started) / 60000;
      if (opts.maxMinutes !== undefined && elapsedMin >= opts.maxMinutes) {
        state.stepInEpoch++;
        await checkpoint(`time budget of ${opts.maxMinutes} min reached`);
        log(`stopping: resume with the same command and --resume`);
        await replica?.close();
        net.dispose();
        return { best, outDir: opts.outDir };
      }
      if (Date.now() - lastCkpt > opts.checkpointMinutes * 60000) {
        state.stepInEpoch++;
        await checkpoint('periodic');
        state.stepInEpoch--;
      }
    }
    // End of epoch: validate, keep the best model, write the report.
    if (valSet) {
      const v = validateLetterboxed(net, valSet);
      const val = { JA: v.segmentation.JA, DI: v.segmentation.DI, AUC: v.classification.AUC, AP: v.classification.AP };
      // The loss of the epoch's last step: an epoch shorter than the 25-step logging interval left `{}` here.
      state.history.push({ epoch: state.epoch + 1, step: state.globalStep, loss: lastParts ?? state.history.at(-1)?.loss ?? {}, val });
      log(`validation after epoch ${state.epoch + 1}: JA ${v.segmentation.JA.toFixed(4)} DI ${v.segmentation.DI.toFixed(4)} AUC ${v.classification.AUC.toFixed(4)} AP ${v.classification.AP.toFixed(4)} (${v.n} images, ${v.imagesPerSecond.toFixed(1)} img/s)`);
      const score = v.segmentation.JA + v.classification.AUC;
      if (score > state.bestScore) {
        state.bestScore = score;
        best = v;
        await saveModel(net, join(opts.outDir, 'best'), {
          name: opts.config.name,
          training: trainingRecord(opts, state.epoch + 1, n, baseElapsed + (Date.now() - started) / 1000),
          metrics: { validation: { ...v, epoch: state.epoch + 1, split: `own stratified split of ${opts.dataDir} (seed ${opts.seed}), ${v.n} images, letterboxed ${size}px` } },
        });
        log(`best so far → ${join(opts.outDir, 'best')}`);
      }
    }
    state.epoch++;
    state.stepInEpoch = 0;
    await checkpoint('end of epoch');
    writeFileSync(join(opts.outDir, 'history.json'), JSON.stringify(state.history, null, 1));
    await renderReportPng(state.history, join(opts.outDir, 'report.png'));
  }
  if (!valSet || !existsSync(join(opts.outDir, 'best'))) {
    await saveModel(net, join(opts.outDir, 'best'), { name: opts.config.name, training: trainingRecord(opts, state.epoch, n, baseElapsed + (Date.now() - started) / 1000) });
  }
  // The model at the end of the schedule, chosen by nothing: `best` was picked on the validation split, which in
  // cross-validation is the held-out fold, so scoring `best` there would be optimistic (cv scores `final`).
  await saveModel(net, join(opts.outDir, 'final'), { name: opts.config.name, training: trainingRecord(opts, state.epoch, n, baseElapsed + (Date.now() - started) / 1000) });
  cpSync(join(opts.outDir, 'history.json'), join(opts.outDir, 'final', 'history.json'), { force: true });
  cpSync(join(opts.outDir, 'history.json'), join(opts.outDir, 'best', 'history.json'), { force: true });
  await replica?.close();
  net.dispose();
  return { best, outDir: opts.outDir };
}

function pickSplit(rows: ReturnType<typeof readLabels>, split: NonNullable<TrainOptions['split']>): { train: ReturnType<typeof readLabels>; val: ReturnType<typeof readLabels> } {
  const byId = new Map(rows.map((r) => [r.id, r]));
  const get = (id: string) => {
    const r = byId.get(id);
    if (!r) throw new Error(`split ${split.name} lists ${id}, which labels.csv does not have: the split belongs to another data folder`);
    return r;
  };
  return { train: split.train.map(get), val: split.val.map(get) };
}

/** What the manifest says about the run. `epochsDone` counts whole epochs: inside the loop the current epoch once
 *  it has finished (state.epoch is not yet advanced), after it state.epoch itself (state.epoch + 1 there said 13 of 12). */
function trainingRecord(opts: TrainOptions, epochsDone: number, n: number, elapsedSeconds: number): Record<string, unknown> {
  return {
    command: opts.command,
    data: opts.dataDir,
    trainImages: n,
    validationImages: opts.valCount,
    splitSeed: opts.seed,
    split: opts.split?.name,
    malignantFraction: opts.malignantFraction,
    epochs: opts.epochs,
    epochsDone,
    batchSize: opts.batchSize,
    dataParallelReplicas: opts.workers ?? 1,
    learningRate: opts.learningRate,
    optimizer: 'adam, warm-up then cosine decay, global-norm clip 10',
    losses: 'RPN focal (α 0.25, β 2) + 10·smooth L1; head focal softmax (weights bg 1, benign 1, malignant 2) + smooth L1; mask BCE + smoothed Jaccard (δ 100)',
    augmentation: 'flips, rotation ±180°, scale 0.8–1.2, shift ±10 %, brightness ×U(0.8, 1.5), Gaussian blur p 0.3',
    backend: currentBackend()?.name ?? tf.getBackend(),
    durationMinutes: Math.round(elapsedSeconds / 60),
    finishedAt: new Date().toISOString(),
  };
}
