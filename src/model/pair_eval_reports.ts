import type { EvalReport } from './evaluate.js';
import type { PairedImage } from './paired_comparison.js';

type PerImage = EvalReport['perImage'];

export interface PairedReports {
  images: PairedImage[];
  /** Ids scored on one side only (e.g. the other half of a fold the shipped model trained on). */
  onlyA: number;
  onlyB: number;
}

function index(side: string, reports: PerImage[]): Map<string, { file: number; label: number; ja: number; malignant: number }> {
  const out = new Map<string, { file: number; label: number; ja: number; malignant: number }>();
  reports.forEach((p, file) => {
    if (!p.JA) throw new Error(`${side} report ${file + 1} has no per-image JA: re-run \`dermstream eval --json\` on data with masks/`);
    p.ids.forEach((id, i) => {
      if (out.has(id)) throw new Error(`${side}: image ${id} is in two reports (${out.get(id)!.file + 1} and ${file + 1}); each image must be scored once per side`);
      out.set(id, { file, label: p.labels[i], ja: p.JA![i], malignant: p.malignant[i] });
    });
  });
  return out;
}

/**
 * Joins two models' per-image results by image id. The stratum is the pair of reports an image came from,
 * so fold k's model on one side is compared with fold k's model on the other.
 */
export function pairEvalReports(a: PerImage[], b: PerImage[]): PairedReports {
  const ia = index('A', a);
  const ib = index('B', b);
  const images: PairedImage[] = [];
  for (const [id, x] of ia) {
    const y = ib.get(id);
    if (!y) continue;
    if (x.label !== y.label) throw new Error(`image ${id} has label ${x.label} in A but ${y.label} in B: the reports were scored on different labels.csv`);
    images.push({ id, stratum: x.file * b.length + y.file, label: x.label, ja: [x.ja, y.ja], malignant: [x.malignant, y.malignant] });
  }
  return { images, onlyA: ia.size - images.length, onlyB: ib.size - images.length };
}
