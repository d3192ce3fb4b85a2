import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { Command } from 'commander';
import { selectBackend, type BackendPreference } from '../model/backend.js';
import { loadModelConfig } from '../model/config.js';
import { formatCvSummary, summarizeFolds, type FoldScores } from '../model/cv_summary.js';
import { readLabels } from '../model/dataset.js';
import { formatReport, type EvalReport } from '../model/evaluate.js';
import { readFoldFile } from '../model/fold_file.js';
import { foldSplit, makeFolds, type FoldFile } from '../model/folds.js';
import { pairEvalReports } from '../model/pair_eval_reports.js';
import { comparePaired, formatPairedComparison } from '../model/paired_comparison.js';
import { train } from '../model/train.js';
import { runEval } from './cli_model.js';

/** `dermstream folds`: writes a seeded, stratified k-fold partition (ids only) to commit beside the code. */
export function registerFolds(program: Command): void {
  program
    .command('folds')
    .description('write a stratified (by melanoma), seeded k-fold partition of an ISIC-layout folder as a JSON of image ids')
    .requiredOption('--data <dir>', 'dataset folder, e.g. ../shared/data/isic2017-train')
    .requiredOption('--out <file>', 'JSON to write, e.g. data-splits/isic2017-train-5fold.json')
    .option('--k <n>', 'number of folds', (v) => parseInt(v, 10), 5)
    .option('--seed <n>', 'shuffling seed', (v) => parseInt(v, 10), 2017)
    .option('--pin <file>', 'put these ids (JSON array or split.json: its "val") in fold 1, e.g. the shipped model\'s held-out split')
    .action((o) => {
      const rows = readLabels(o.data);
      let pinned = new Set<string>();
      if (o.pin) {
        const raw = JSON.parse(readFileSync(o.pin, 'utf8')) as string[] | { val?: string[] };
        pinned = new Set(Array.isArray(raw) ? raw : (raw.val ?? []));
        const unknown = [...pinned].filter((id) => !rows.some((r) => r.id === id));
        if (unknown.length) throw new Error(`${o.pin} lists ${unknown.length} ids not in ${o.data} (first ${unknown[0]})`);
      }
      const folds = makeFolds(rows, o.k, o.seed, pinned);
      const file: FoldFile = { data: o.data, k: o.k, seed: o.seed, stratifiedBy: 'melanoma', ...(o.pin && { pinnedToFirstFold: { file: o.pin, count: pinned.size } }), folds };
      mkdirSync(dirname(o.out), { recursive: true });
      writeFileSync(o.out, JSON.stringify(file, null, 1) + '\n');
      const mal = new Set(rows.filter((r) => r.malignant).map((r) => r.id));
      folds.forEach((f, i) => console.log(`fold ${i + 1}: ${f.length} images, ${f.filter((id) => mal.has(id)).length} malignant`));
    });
}

function foldScores(fold: number, r: EvalReport): FoldScores {
  if (!r.segmentation || !r.failures) throw new Error(`fold ${fold}: the data has no masks/, so JA cannot be scored`);
  return { fold, n: r.n, JA: r.segmentation.JA, DI: r.segmentation.DI, AUC: r.classification.AUC, AP: r.classification.AP, shareBelow05: r.failures.shareBelow };
}

/**
 * `dermstream cv`: per fold, train on the other folds (resumable: <out>/fold-<k>/checkpoint) and score
 * the end-of-schedule model (`final`, not the `best` picked on this same fold) on the held-out fold at native resolution (<out>/fold-<k>/eval.json); then mean ±
 * spread across the folds evaluated so far. Re-running the same command continues where it stopped.
 */
export function registerCv(program: Command): void {
  program
    .command('cv')
    .description('k-fold cross-validation: train and evaluate per fold (resumable), report mean ± spread of JA/DI/AUC/AP and the share below JA 0.5')
    .requiredOption('--data <dir>', 'dataset folder, e.g. ../shared/data/isic2017-train')
    .requiredOption('--folds <file>', 'fold file from `dermstream folds`, e.g. data-splits/isic2017-train-5fold.json')
    .requiredOption('--out <dir>', 'folder for fold-<k>/ runs and cv-summary.json')
    .option('--config <file>', 'model architecture: a preset (edge, edge-mnv2, paper) or a JSON file', 'edge')
    .option('--only <list>', 'folds to run, e.g. 1,2 (default all)')
    .option('--epochs <n>', 'passes over each training split', (v) => parseInt(v, 10), 12)
    .option('--batch <n>', 'images per step', (v) => parseInt(v, 10), 8)
    .option('--lr <x>', 'peak learning rate (Adam)', parseFloat, 1e-3)
    .option('--workers <n>', 'data-parallel replicas (threads)', (v) => parseInt(v, 10), 1)
    .option('--malignant-fraction <x>', 'class-balanced sampling share of malignant images', parseFloat)
    .option('--max-minutes <n>', 'stop (with a checkpoint) after this many minutes in all; re-run to continue', parseFloat)
    .option('--checkpoint-minutes <n>', 'periodic checkpoint interval', parseFloat, 10)
    .option('--refine <margin>', 'evaluate with coarse-to-fine refinement at this margin', parseFloat)
    .option('--backend <name>', 'auto | tensorflow | wasm | cpu', 'auto')
    .option('--limit <n>', 'smoke run: only the first N training and N held-out images of each fold', (v) => parseInt(v, 10))
    .action(async (o) => {
      await selectBackend(o.backend as BackendPreference);
      const log = (line: string) => console.log(`[${new Date().toISOString()}] ${line}`);
      const file = readFoldFile(o.folds);
      const k = file.folds.length;
      const wanted = o.only ? String(o.only).split(',').map((v) => parseInt(v, 10)) : Array.from({ length: k }, (_, i) => i + 1);
      for (const f of wanted) if (!(f >= 1 && f <= k)) throw new Error(`--only: fold ${f} does not exist (1–${k})`);
      const config = loadModelConfig(o.config);
      const started = Date.now();
      const scores: FoldScores[] = [];
      for (const f of wanted) {
        const dir = join(o.out, `fold-${f}`);
        const evalPath = join(dir, 'eval.json');
        if (existsSync(evalPath)) {
          scores.push(foldScores(f, JSON.parse(readFileSync(evalPath, 'utf8')) as EvalReport));
          continue;
        }
        const left = o.maxMinutes === undefined ? undefined : o.maxMinutes - (Date.now() - started) / 60000;
        if (left !== undefined && left <= 0) {
          log(`time budget used: fold ${f} and later not started; re-run the same command to continue`);
          break;
        }
        const full = foldSplit(file.folds, f - 1);
        const split = o.limit ? { train: full.train.slice(0, o.limit), val: full.val.slice(0, o.limit), name: `first ${o.limit} of fold ${f} of ${o.folds} (smoke run)` } : { ...full, name: `fold ${f} of ${o.folds}` };
        const idsFile = join(dir, 'held-out-ids.json');
        mkdirSync(dir, { recursive: true });
        writeFileSync(idsFile, JSON.stringify(split.val));
        await train({ dataDir: o.data, config, outDir: dir, epochs: o.epochs, batchSize: o.batch, learningRate: o.lr, valCount: split.val.length, seed: 2017, resume: true, maxMinutes: left, checkpointMinutes: o.checkpointMinutes, workers: o.workers, backend: o.backend, split, malignantFraction: o.malignantFraction, command: `dermstream ${process.argv.slice(2).join(' ')}`, log });
        const state = JSON.parse(readFileSync(join(dir, 'checkpoint', 'state.json'), 'utf8')) as { epoch: number };
        if (state.epoch < o.epochs) {
          log(`fold ${f}: stopped after ${state.epoch} of ${o.epochs} epochs (time budget); re-run the same command to continue`);
          break;
        }
        const refine = o.refine !== undefined ? { refine: { enabled: true, margin: o.refine, classify: 'coarse' as const, mode: 'box' as const, flip: false } } : undefined;
        // The end-of-schedule model: `best` was selected on this very fold, so its score there is optimistic.
        const report = await runEval(join(dir, existsSync(join(dir, 'final')) ? 'final' : 'best'), o.data, idsFile, o.backend, undefined, refine);
        writeFileSync(evalPath, JSON.stringify(report, null, 2));
        log(`fold ${f}:\n${formatReport(report)}`);
        scores.push(foldScores(f, report));
      }
      if (scores.length === 0) return;
      const summary = summarizeFolds(scores);
      writeFileSync(join(o.out, 'cv-summary.json'), JSON.stringify({ folds: o.folds, config: config.name, perFold: scores, summary }, null, 2));
      console.log(formatCvSummary(summary, k));
    });
}

function readReport(path: string): EvalReport {
  if (!existsSync(path)) throw new Error(`${path}: no such eval report (write one with \`dermstream eval --json FILE\` or take a fold's eval.json from \`dermstream cv\`)`);
  const r = JSON.parse(readFileSync(path, 'utf8')) as Partial<EvalReport>;
  if (!r.perImage?.ids) throw new Error(`${path} is not an eval report: it has no perImage list (re-run \`dermstream eval --json\`)`);
  return r as EvalReport;
}

/**
 * `dermstream compare`: two models on the same images, paired. Each side is a list of eval reports (one per
 * fold model); images are joined by id, so the shipped model's report on its own held-out ids pairs with the
 * part of fold 1 it never saw.
 */
export function registerCompare(program: Command): void {
  program
    .command('compare')
    .description('paired comparison of two models on the images both scored (eval --json reports, e.g. the folds of two cv runs): ΔJA ± s.e., Δshare below JA 0.5, ΔAUC/ΔAP with bootstrap 95 % intervals')
    .requiredOption('--a <files>', 'comma-separated eval reports of model A (one per fold model)')
    .requiredOption('--b <files>', 'comma-separated eval reports of model B')
    .option('--name-a <name>', 'label for A', 'A')
    .option('--name-b <name>', 'label for B', 'B')
    .option('--resamples <n>', 'bootstrap resamples', (v) => parseInt(v, 10), 2000)
    .option('--seed <n>', 'bootstrap seed', (v) => parseInt(v, 10), 2017)
    .option('--json <file>', 'also write the comparison as JSON')
    .action((o) => {
      const list = (v: string) => String(v).split(',').filter(Boolean);
      const a = list(o.a).map(readReport);
      const b = list(o.b).map(readReport);
      const paired = pairEvalReports(a.map((r) => r.perImage), b.map((r) => r.perImage));
      const c = comparePaired(paired.images, o.resamples, o.seed);
      console.log(formatPairedComparison(c, [o.nameA, o.nameB]));
      if (paired.onlyA || paired.onlyB) console.log(`  left out: ${paired.onlyA} images scored by A only, ${paired.onlyB} by B only`);
      if (o.json) {
        mkdirSync(dirname(o.json), { recursive: true });
        writeFileSync(o.json, JSON.stringify({ ...c, models: { a: { name: o.nameA, reports: list(o.a) }, b: { name: o.nameB, reports: list(o.b) } }, onlyA: paired.onlyA, onlyB: paired.onlyB }, null, 2) + '\n');
      }
    });
}
