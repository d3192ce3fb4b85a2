/**
 * Platt scaling of the malignant probability, p' = σ(a·logit(p) + b). The focal loss leaves the head's raw
 * probabilities compressed around 0.5; a two-parameter fit on the validation split makes them probabilities
 * again without changing their order (AUC).
 */

/** Platt scaling of the malignant probability (identity when the model has no calibration). */
export function calibrate(p: number, c?: { a: number; b: number }): number {
  if (!c) return p;
  const q = Math.min(Math.max(p, 1e-6), 1 - 1e-6);
  return 1 / (1 + Math.exp(-(c.a * Math.log(q / (1 - q)) + c.b)));
}

/** Fits Platt scaling σ(a·logit(p) + b) to labels by Newton's method on the log-likelihood. */
export function fitPlatt(scores: number[], labels: number[]): { a: number; b: number } {
  const x = scores.map((p) => {
    const q = Math.min(Math.max(p, 1e-6), 1 - 1e-6);
    return Math.log(q / (1 - q));
  });
  let a = 1;
  let b = 0;
  for (let it = 0; it < 100; it++) {
    let ga = 0, gb = 0, haa = 0, hab = 0, hbb = 0;
    x.forEach((xi, i) => {
      const p = 1 / (1 + Math.exp(-(a * xi + b)));
      const r = p - labels[i];
      const w = Math.max(p * (1 - p), 1e-9);
      ga += r * xi;
      gb += r;
      haa += w * xi * xi;
      hab += w * xi;
      hbb += w;
    });
    const det = haa * hbb - hab * hab;
    if (Math.abs(det) < 1e-12) break;
    const da = (hbb * ga - hab * gb) / det;
    const db = (haa * gb - hab * ga) / det;
    a -= da;
    b -= db;
    if (Math.abs(da) + Math.abs(db) < 1e-9) break;
  }
  return { a, b };
}
