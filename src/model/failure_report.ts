/** How one image fared: what `eval` keeps per image to show where the network fails. */
export interface ImageOutcome {
  id: string;
  JA: number;
  /** Ground-truth lesion area / image area. */
  lesionFraction: number;
  /** labels.csv `resolution` (full / low: stored small and upscaled), when the data has it. */
  resolution?: string;
  malignant: number;
  label: number;
}

export interface OutcomeGroup {
  group: string;
  n: number;
  meanJA: number;
  /** Share of the group's images with JA below the threshold. */
  shareBelow: number;
}

export interface FailureReport {
  n: number;
  threshold: number;
  shareBelow: number;
  /** Below 0.3: the network segmented the wrong region, not a loose boundary. */
  shareBelow03: number;
  worst: ImageOutcome[];
  bySize: OutcomeGroup[];
  byResolution: OutcomeGroup[];
}

/** Lesion-size bins (area fraction): the issue saw failures concentrate below 5 % and above ~60 %. */
export const SIZE_BINS: Array<[number, number, string]> = [
  [0, 0.05, 'lesion < 5 %'],
  [0.05, 0.2, 'lesion 5–20 %'],
  [0.2, 0.6, 'lesion 20–60 %'],
  [0.6, Infinity, 'lesion ≥ 60 %'],
];

function group(name: string, items: ImageOutcome[], threshold: number): OutcomeGroup {
  const n = items.length;
  return {
    group: name,
    n,
    meanJA: n ? items.reduce((a, o) => a + o.JA, 0) / n : NaN,
    shareBelow: n ? items.filter((o) => o.JA < threshold).length / n : NaN,
  };
}

/** Share of images below JA `threshold`, the worst `worstCount`, and the same split by lesion size and image resolution. */
export function failureReport(items: ImageOutcome[], threshold = 0.5, worstCount = 10): FailureReport {
  const n = items.length;
  const resolutions = [...new Set(items.map((o) => o.resolution ?? 'unknown'))].sort();
  return {
    n,
    threshold,
    shareBelow: n ? items.filter((o) => o.JA < threshold).length / n : NaN,
    shareBelow03: n ? items.filter((o) => o.JA < 0.3).length / n : NaN,
    worst: [...items].sort((a, b) => a.JA - b.JA || (a.id < b.id ? -1 : 1)).slice(0, worstCount),
    bySize: SIZE_BINS.map(([lo, hi, name]) => group(name, items.filter((o) => o.lesionFraction >= lo && o.lesionFraction < hi), threshold)),
    byResolution: resolutions.map((r) => group(`resolution ${r}`, items.filter((o) => (o.resolution ?? 'unknown') === r), threshold)),
  };
}

export function formatFailureReport(r: FailureReport): string {
  const f = (v: number) => (Number.isFinite(v) ? v.toFixed(3) : 'n/a');
  const pct = (v: number) => (Number.isFinite(v) ? `${(100 * v).toFixed(1)} %` : 'n/a');
  const lines = [`per image: ${pct(r.shareBelow)} of ${r.n} below JA ${r.threshold} (${pct(r.shareBelow03)} below 0.3)`];
  lines.push('  group               n    mean JA  < ' + r.threshold);
  for (const g of [...r.bySize, ...r.byResolution]) lines.push(`  ${g.group.padEnd(18)} ${String(g.n).padStart(4)}   ${f(g.meanJA)}   ${pct(g.shareBelow)}`);
  lines.push('  worst: ' + r.worst.map((o) => `${o.id} ${f(o.JA)} (${pct(o.lesionFraction)}${o.resolution ? `, ${o.resolution}` : ''})`).join('; '));
  return lines.join('\n');
}
