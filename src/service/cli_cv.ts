import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import type { Command } from 'commander';
import { readLabels } from '../model/dataset.js';
import { makeFolds, type FoldFile } from '../model/folds.js';

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
export function registerCv(_p: import("commander").Command): void {}
