import { averagePrecision, rocAuc } from './metrics.js';
import { rng } from './targets.js';

/** One image as two models scored it (from their `eval --json` per-image lists). */
export interface PairedImage {
  id: string;
  /**
   * Which pair of models scored it: in cross-validation each fold has its own model on each side, and
   * their raw scores are on different scales, so AUC is taken within a stratum and then averaged.
   */
  stratum: number;
  label: number;
  ja: [number, number];
  malignant: [number, number];
}

export interface Interval {
  /** Point estimate on the images as given. */
  value: number;
  /** Percentile bootstrap, 95 %. */
  lo: number;
  hi: number;
}

export interface SideScores {
  JA: number;
  shareBelow05: number;
  AUC: number;
  AP: number;
}

export interface PairedComparison {
  n: number;
  melanomas: number;
  strata: number;
  a: SideScores;
  b: SideScores;
  /** b − a, so positive means the second model is better (lower for shareBelow05). */
  delta: {
    JA: Interval & { se: number };
    shareBelow05: Interval;
    AUC: Interval;
    AP: Interval;
  };
  /** Images where b's JA beats a's by more than 0.001, the reverse, and the rest. */
  better: number;
  worse: number;
  tied: number;
  resamples: number;
  seed: number;
}

const BELOW = 0.5;
const TIE = 1e-3;

interface Stratum {
  pos: PairedImage[];
  neg: PairedImage[];
}

function sideScores(strata: Stratum[], side: 0 | 1): SideScores {
  let n = 0;
  let ja = 0;
  let below = 0;
  let auc = 0;
  let ap = 0;
  for (const s of strata) {
    const all = [...s.pos, ...s.neg];
    n += all.length;
    for (const im of all) {
      ja += im.ja[side];
      if (im.ja[side] < BELOW) below++;
    }
    const scores = all.map((im) => im.malignant[side]);
    const labels = all.map((im) => im.label);
    // A stratum with one class has no AUC; it then carries no weight in the classification average.
    const w = s.pos.length && s.neg.length ? all.length : 0;
    auc += w ? w * rocAuc(scores, labels) : 0;
    ap += w ? w * averagePrecision(scores, labels) : 0;
  }
  const wSum = strata.reduce((acc, s) => acc + (s.pos.length && s.neg.length ? s.pos.length + s.neg.length : 0), 0);
  return { JA: ja / n, shareBelow05: below / n, AUC: wSum ? auc / wSum : NaN, AP: wSum ? ap / wSum : NaN };
}

function resample<T>(items: T[], rand: () => number): T[] {
  return items.map(() => items[Math.floor(rand() * items.length)]);
}

function percentile(sorted: number[], q: number): number {
  const i = Math.min(sorted.length - 1, Math.max(0, Math.round(q * (sorted.length - 1))));
  return sorted[i];
}

/**
 * Paired comparison of two models on the same images: the difference b − a in mean JA (with its paired
 * standard error), in the share of images below JA 0.5, and in melanoma AUC/AP (n-weighted mean of the
 * per-stratum values), each with a percentile bootstrap interval. Images are resampled within each stratum
 * and within each class, so every resample keeps each fold's melanoma count: with ≈ 75 melanomas a fold an
 * unstratified resample would move AUC by its class mix alone.
 */
export function comparePaired(images: PairedImage[], resamples = 2000, seed = 2017): PairedComparison {
  if (images.length === 0) throw new Error('no image is scored by both models: check that the two sides cover the same ids');
  const byStratum = new Map<number, Stratum>();
  for (const im of images) {
    const s = byStratum.get(im.stratum) ?? { pos: [], neg: [] };
    (im.label === 1 ? s.pos : s.neg).push(im);
    byStratum.set(im.stratum, s);
  }
  const strata = [...byStratum.keys()].sort((x, y) => x - y).map((k) => byStratum.get(k)!);
  const a = sideScores(strata, 0);
  const b = sideScores(strata, 1);

  const diffs = images.map((im) => im.ja[1] - im.ja[0]);
  const n = diffs.length;
  const mean = diffs.reduce((s, d) => s + d, 0) / n;
  const se = n > 1 ? Math.sqrt(diffs.reduce((s, d) => s + (d - mean) ** 2, 0) / (n - 1) / n) : NaN;

  const rand = rng(seed);
  const draws = { JA: [] as number[], shareBelow05: [] as number[], AUC: [] as number[], AP: [] as number[] };
  for (let r = 0; r < resamples; r++) {
    const boot = strata.map((s) => ({ pos: resample(s.pos, rand), neg: resample(s.neg, rand) }));
    const ra = sideScores(boot, 0);
    const rb = sideScores(boot, 1);
    for (const k of ['JA', 'shareBelow05', 'AUC', 'AP'] as const) draws[k].push(rb[k] - ra[k]);
  }
  const interval = (k: keyof typeof draws): Interval => {
    const sorted = draws[k].filter(Number.isFinite).sort((x, y) => x - y);
    return { value: b[k] - a[k], lo: sorted.length ? percentile(sorted, 0.025) : NaN, hi: sorted.length ? percentile(sorted, 0.975) : NaN };
  };
  return {
    n,
    melanomas: images.filter((im) => im.label === 1).length,
    strata: strata.length,
    a,
    b,
    delta: { JA: { ...interval('JA'), se }, shareBelow05: interval('shareBelow05'), AUC: interval('AUC'), AP: interval('AP') },
    better: diffs.filter((d) => d > TIE).length,
    worse: diffs.filter((d) => d < -TIE).length,
    tied: diffs.filter((d) => Math.abs(d) <= TIE).length,
    resamples,
    seed,
  };
}

export function formatPairedComparison(c: PairedComparison, names: [string, string]): string {
  const f = (v: number, d = 3) => (Number.isFinite(v) ? v.toFixed(d) : 'n/a');
  const s = (v: number, d = 3) => (Number.isFinite(v) ? (v >= 0 ? '+' : '') + v.toFixed(d) : 'n/a');
  const pct = (v: number) => `${(100 * v).toFixed(1)} %`;
  const iv = (i: Interval, d = 3) => `${s(i.value, d)} [${s(i.lo, d)}, ${s(i.hi, d)}]`;
  return [
    `paired on ${c.n} images (${c.melanomas} melanomas) in ${c.strata} strata; B − A, bootstrap 95 % (${c.resamples} resamples within stratum and class)`,
    `  ${'model'.padEnd(32)} ${'JA'.padStart(6)} ${'<0.5'.padStart(7)} ${'AUC'.padStart(6)} ${'AP'.padStart(6)}`,
    `  A ${names[0].slice(0, 30).padEnd(30)} ${f(c.a.JA).padStart(6)} ${pct(c.a.shareBelow05).padStart(7)} ${f(c.a.AUC).padStart(6)} ${f(c.a.AP).padStart(6)}`,
    `  B ${names[1].slice(0, 30).padEnd(30)} ${f(c.b.JA).padStart(6)} ${pct(c.b.shareBelow05).padStart(7)} ${f(c.b.AUC).padStart(6)} ${f(c.b.AP).padStart(6)}`,
    `  ΔJA   ${iv(c.delta.JA, 4)} (s.e. ${f(c.delta.JA.se, 4)}); B better on ${c.better}, worse on ${c.worse}, tied on ${c.tied}`,
    `  Δ<0.5 ${iv(c.delta.shareBelow05)}`,
    `  ΔAUC  ${iv(c.delta.AUC)}`,
    `  ΔAP   ${iv(c.delta.AP)}`,
  ].join('\n');
}
