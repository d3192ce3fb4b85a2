/** One fold's held-out scores (from `eval` at native resolution). */
export interface FoldScores {
  fold: number;
  n: number;
  JA: number;
  DI: number;
  AUC: number;
  AP: number;
  /** Share of the fold's images below JA 0.5. */
  shareBelow05: number;
}

export interface Spread {
  mean: number;
  /** Sample standard deviation across folds (n − 1); NaN with one fold. */
  sd: number;
  min: number;
  max: number;
}

export interface CvSummary {
  folds: number[];
  metrics: Record<'JA' | 'DI' | 'AUC' | 'AP' | 'shareBelow05', Spread>;
}

export function spread(values: number[]): Spread {
  const n = values.length;
  const mean = values.reduce((a, v) => a + v, 0) / n;
  const sd = n > 1 ? Math.sqrt(values.reduce((a, v) => a + (v - mean) ** 2, 0) / (n - 1)) : NaN;
  return { mean, sd, min: Math.min(...values), max: Math.max(...values) };
}

/** Mean ± spread across folds: the number to choose between models by (a single 200-image split is not). */
export function summarizeFolds(scores: FoldScores[]): CvSummary {
  if (scores.length === 0) throw new Error('no fold has been evaluated yet');
  const keys = ['JA', 'DI', 'AUC', 'AP', 'shareBelow05'] as const;
  return {
    folds: scores.map((s) => s.fold),
    metrics: Object.fromEntries(keys.map((k) => [k, spread(scores.map((s) => s[k]))])) as CvSummary['metrics'],
  };
}

export function formatCvSummary(s: CvSummary, total: number): string {
  const f = (v: number) => (Number.isFinite(v) ? v.toFixed(4) : 'n/a');
  const lines = [`cross-validation: ${s.folds.length} of ${total} folds evaluated (${s.folds.join(', ')})`];
  for (const [k, v] of Object.entries(s.metrics)) lines.push(`  ${k.padEnd(13)} ${f(v.mean)} ± ${f(v.sd)}  (min ${f(v.min)}, max ${f(v.max)})`);
  return lines.join('\n');
}
