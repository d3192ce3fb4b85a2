import sharp from 'sharp';

export interface HistoryPoint {
  epoch: number;
  step: number;
  loss: Record<string, number>;
  val?: { JA: number; AUC: number; DI?: number; AP?: number };
}

function path(points: Array<[number, number]>, sx: (v: number) => number, sy: (v: number) => number): string {
  return points.map(([x, y], i) => `${i ? 'L' : 'M'}${sx(x).toFixed(1)},${sy(y).toFixed(1)}`).join(' ');
}

/** Loss curves (left) and validation JA/AUC per epoch (right) as a PNG, drawn as SVG and rasterised by sharp. */
export async function renderReportPng(history: HistoryPoint[], file: string): Promise<void> {
  await sharp(Buffer.from(reportSvg(history))).png().toFile(file);
}

export const REPORT_COLORS = ['#1f77b4', '#ff7f0e', '#2ca02c', '#d62728', '#9467bd', '#8c564b', '#e377c2'];

/** The report as SVG text (pure). */
export function reportSvg(history: HistoryPoint[]): string {
  const W = 1000;
  const H = 400;
  const colors = REPORT_COLORS;
  // Every loss key seen anywhere: the chart was empty when the first point was a validation point of a
  // short run (`"loss": {}`), since the keys were read from history[0] alone.
  const keys = [...new Set(history.flatMap((h) => Object.keys(h.loss ?? {})))];
  const finite = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);
  const maxStep = Math.max(1, ...history.map((h) => h.step));
  const maxLoss = Math.max(1e-6, ...history.flatMap((h) => Object.values(h.loss ?? {}).filter(finite)));
  const px = (v: number) => 60 + (v / maxStep) * 400;
  const py = (v: number) => 350 - (v / maxLoss) * 300;
  const lossPaths = keys.map(
    (k, i) =>
      `<path d="${path(history.filter((h) => finite(h.loss?.[k])).map((h) => [h.step, h.loss[k]!]), px, py)}" stroke="${colors[i % colors.length]}" fill="none" stroke-width="1.5"/><text x="470" y="${60 + i * 16}" font-size="12" fill="${colors[i % colors.length]}">${k}</text>`,
  );
  const vals = history.filter((h) => h.val);
  const maxEpoch = Math.max(1, ...vals.map((h) => h.epoch));
  const vx = (v: number) => 600 + (v / maxEpoch) * 350;
  const vy = (v: number) => 350 - v * 300;
  const valPaths = (['JA', 'AUC'] as const).map((k, i) => `<path d="${path(vals.map((h) => [h.epoch, h.val?.[k] ?? 0]), vx, vy)}" stroke="${colors[i]}" fill="none" stroke-width="2"/><text x="600" y="${40 + i * 16}" font-size="12" fill="${colors[i]}">val ${k}</text>`);
  const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}"><rect width="100%" height="100%" fill="white"/>
<text x="60" y="30" font-size="16">training loss (max ${maxLoss.toFixed(3)}) vs step</text>
<line x1="60" y1="350" x2="460" y2="350" stroke="black"/><line x1="60" y1="50" x2="60" y2="350" stroke="black"/>
${lossPaths.join('\n')}
<text x="600" y="20" font-size="16">validation vs epoch (0–1)</text>
<line x1="600" y1="350" x2="950" y2="350" stroke="black"/><line x1="600" y1="50" x2="600" y2="350" stroke="black"/>
${[0.25, 0.5, 0.75, 1].map((v) => `<line x1="600" y1="${vy(v)}" x2="950" y2="${vy(v)}" stroke="#ddd"/><text x="570" y="${vy(v) + 4}" font-size="10">${v}</text>`).join('')}
${valPaths.join('\n')}
</svg>`;
  return svg;
}
