/**
 * Browser side, pure: how a probability is shown. The display shows p(malignant) — never the winning class's
 * probability ("MALIGNANT 37 %" used to mean p(malignant) = 0.37, "BENIGN 86 %" meant p(malignant) = 0.14) — on a
 * 0–100 % scale with the model's operating threshold marked, and says in words which side of it the value falls on.
 *
 * - Capped at "> 99 %" / "< 1 %": a model with AUC ≈ 0.7 is never 100 % sure, and "100 %" reads as certainty.
 * - The spread is the standard deviation of p(malignant) over the frames of the window: it is named for what it is
 *   ("frame-to-frame variation"), not written "± x" after the number where it reads like a confidence interval.
 */

export type Side = 'above' | 'below';

export interface ThresholdScale {
  /** Needle position, 0–100 (% of the scale width). */
  valuePct: number;
  /** Threshold marker position, 0–100; null when the device does not report its operating point. */
  thresholdPct: number | null;
  /** The uncertain band threshold ± margin, in % of the width. */
  band: { fromPct: number; toPct: number } | null;
}

export interface ProbabilityView {
  /** "p(malignant) 37 %", "p(malignant) > 99 %". */
  text: string;
  /** Which side of the operating threshold (p ≥ threshold votes malignant); null without a threshold. */
  side: Side | null;
  /** "above the referral threshold (15 %)"; without a threshold, says that it is not reported. */
  sideText: string;
  /** Within ± margin of the threshold: the frames there vote "uncertain". */
  nearThreshold: boolean;
  /** "frame-to-frame variation ± 3 points", or null without a spread. */
  variationText: string | null;
  scale: ThresholdScale;
}

/** "37 %", capped to "> 99 %" and "< 1 %". */
export function formatPercent(p: number): string {
  if (p > 0.99) return '> 99 %';
  if (p < 0.01) return '< 1 %';
  return `${Math.round(p * 100)} %`;
}

/** The frame-to-frame standard deviation of p, in percentage points; below half a point it is "< 1". */
export function variationText(sd: number): string {
  const pts = sd * 100;
  return pts < 0.5 ? 'frame-to-frame variation < 1 point' : `frame-to-frame variation ± ${Math.round(pts)} point${Math.round(pts) === 1 ? '' : 's'}`;
}

const clampPct = (x: number) => Math.min(100, Math.max(0, x * 100));

export function probabilityView(pMalignant: number, spread: number | null, op: { threshold: number; margin: number } | null): ProbabilityView {
  const side: Side | null = op ? (pMalignant >= op.threshold ? 'above' : 'below') : null;
  const sideText = op ? `${side} the referral threshold (${formatPercent(op.threshold)})` : 'referral threshold not reported by the device';
  return {
    text: `p(malignant) ${formatPercent(pMalignant)}`,
    side,
    sideText,
    nearThreshold: op !== null && Math.abs(pMalignant - op.threshold) < op.margin,
    variationText: spread === null ? null : variationText(spread),
    scale: {
      valuePct: clampPct(pMalignant),
      thresholdPct: op ? clampPct(op.threshold) : null,
      band: op && op.margin > 0 ? { fromPct: clampPct(op.threshold - op.margin), toPct: clampPct(op.threshold + op.margin) } : null,
    },
  };
}
