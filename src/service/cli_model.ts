import type { Command } from 'commander';
import { selectBackend, type BackendPreference } from '../model/backend.js';
import { loadModelConfig } from '../model/config.js';
import { train } from '../model/train.js';

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
