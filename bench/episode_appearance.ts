/**
 * Measures the appearance check of the episode calculator on real dermoscopy images: how far the features of
 * one lesion move under what a handheld scope does (pan, zoom, exposure flicker, JPEG), and how far apart two
 * different lesions are — the numbers behind the thresholds in `src/pipeline/episode.ts` (see debounce.md).
 *
 * Views are rendered like scripts/make_demo_clip.ts does (a 4:3 crop holding the lesion, resized to 320×240)
 * with the expert mask cropped alongside. With `--model DIR` the region of every view is instead the one that
 * network outlines (its top detection's box and mask, as the pipeline sees it): a network's masks move between
 * views of one lesion more than an expert's crop does, and how much is a property of the model, so a new
 * default model is measured here before it ships. The `core` views stay expert-derived (a shrunk mask).
 *
 *   npx tsx bench/episode_appearance.ts [--data ../shared/data/isic2017-train] [--images 120] [--model DIR] [--name NAME]
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import sharp from 'sharp';
import { appearanceDistance, appearanceOf, rgbToLab, type Appearance, type AppearanceDistance } from '../src/pipeline/appearance.js';
import { isNestedView } from '../src/pipeline/nested_view.js';
import { DEFAULT_EPISODE_PARAMS, isDifferentLesion } from '../src/pipeline/episode_params.js';
import { rng } from '../src/model/targets.js';
import { loadEngine } from '../src/model/engine.js';

const { values: args } = parseArgs({
  options: {
    data: { type: 'string', default: path.resolve(import.meta.dirname, '../../shared/data/isic2017-train') },
    images: { type: 'string', default: '120' },
    model: { type: 'string' },
    name: { type: 'string', default: 'episode_appearance' },
  },
});
const engine = args.model ? await loadEngine(args.model, { engine: 'auto' }) : null;
const W = 320;
const H = 240;

interface Source {
  id: string;
  image: Buffer;
  mask: Buffer;
  width: number;
  height: number;
  box: [number, number, number, number];
}

async function load(dataDir: string, count: number): Promise<Source[]> {
  const rows = readFileSync(path.join(dataDir, 'labels.csv'), 'utf8').trim().split('\n').slice(1).map((r) => r.split(','));
  const out: Source[] = [];
  for (const r of rows) {
    if (out.length >= count) break;
    if (r[8] !== 'full') continue;
    const id = r[0]!;
    const image = readFileSync(path.join(dataDir, 'images', `${id}.jpg`));
    const mask = readFileSync(path.join(dataDir, 'masks', `${id}_segmentation.png`));
    const m = await sharp(mask).greyscale().raw().toBuffer({ resolveWithObject: true });
    let x1 = Infinity, y1 = Infinity, x2 = -1, y2 = -1;
    for (let y = 0; y < m.info.height; y++) for (let x = 0; x < m.info.width; x++) if (m.data[y * m.info.width + x]! > 127) {
      x1 = Math.min(x1, x); x2 = Math.max(x2, x); y1 = Math.min(y1, y); y2 = Math.max(y2, y);
    }
    if (x2 < 0) continue;
    out.push({ id, image, mask, width: m.info.width, height: m.info.height, box: [x1, y1, x2 + 1, y2 + 1] });
  }
  return out;
}

/**
 * A view: zoom 0 (wide) … 1 (close), pan as a fraction of the crop, exposure gain; JPEG q70 like the clip.
 * `core`: the mask shrunk to the lesion's darker half (its pixels below the median lightness), as the
 * network's mask sometimes does on a variegated lesion (the demo clip's sixth lesion).
 */
async function view(s: Source, zoom: number, panX: number, panY: number, gain: number, core = false): Promise<Appearance | null> {
  const [bx1, by1, bx2, by2] = s.box;
  const lw = bx2 - bx1;
  const lh = by2 - by1;
  const minH = Math.min(s.height * 0.95, Math.max(lh * 1.35, (lw * 1.35 * 3) / 4, s.height * 0.42));
  const maxH = s.height * 0.95;
  let ch = maxH - (maxH - minH) * zoom;
  let cw = (ch * 4) / 3;
  if (cw > s.width) { cw = s.width; ch = (cw * 3) / 4; }
  const cx = (bx1 + bx2) / 2 + panX * cw;
  const cy = (by1 + by2) / 2 + panY * ch;
  const left = Math.round(Math.min(Math.max(cx - cw / 2, 0), s.width - cw));
  const top = Math.round(Math.min(Math.max(cy - ch / 2, 0), s.height - ch));
  const region = { left, top, width: Math.round(cw), height: Math.round(ch) };
  const jpeg = await sharp(s.image).extract(region).resize(W, H, { fit: 'fill' }).linear(gain, 0).jpeg({ quality: 70 }).toBuffer();
  const rgb = await sharp(jpeg).removeAlpha().raw().toBuffer();
  if (engine && !core) {
    const top = (await engine.inferRgb(new Uint8Array(rgb), W, H)).detections[0];
    return top ? appearanceOf({ width: W, height: H, data: rgb }, top) : null;
  }
  const mask = await sharp(s.mask).greyscale().extract(region).resize(W, H, { fit: 'fill', kernel: 'nearest' }).raw().toBuffer();
  let x1 = W, y1 = H, x2 = -1, y2 = -1;
  const bits = new Uint8Array(W * H);
  const L = (i: number) => rgbToLab(rgb[3 * i]!, rgb[3 * i + 1]!, rgb[3 * i + 2]!)[0];
  let median = Infinity;
  if (core) {
    const ls: number[] = [];
    for (let i = 0; i < W * H; i++) if (mask[i]! > 127) ls.push(L(i));
    ls.sort((a, b) => a - b);
    median = ls[Math.floor(ls.length / 2)] ?? Infinity;
  }
  for (let y = 0; y < H; y++) for (let x = 0; x < W; x++) if (mask[y * W + x]! > 127 && (!core || L(y * W + x) < median)) {
    bits[y * W + x] = 1; x1 = Math.min(x1, x); x2 = Math.max(x2, x); y1 = Math.min(y1, y); y2 = Math.max(y2, y);
  }
  if (x2 < 0) return null;
  return appearanceOf({ width: W, height: H, data: rgb }, { box: [x1, y1, x2 + 1, y2 + 1], mask: { x: 0, y: 0, width: W, height: H, data: bits } });
}

const pct = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(p * (s.length - 1)))]!;
};

async function main(): Promise<void> {
  const sources = await load(args.data!, Number(args.images));
  const rnd = rng(8);
  const same: AppearanceDistance[] = [];
  const diff: AppearanceDistance[] = [];
  const sameFlag: boolean[] = [];
  const core: { flagged: boolean; rescued: boolean }[] = [];
  const diffMerged: boolean[] = [];
  const corePairs: [Appearance, Appearance][] = [];
  const diffPairs: [Appearance, Appearance][] = [];
  const diffFlag: boolean[] = [];
  const base: (Appearance | null)[] = [];
  for (const s of sources) base.push(await view(s, 0.5, 0, 0, 1));
  for (let i = 0; i < sources.length; i++) {
    const a = base[i];
    if (!a) continue;
    // Same lesion: 4 views across the drift a hand gives (zoom 0..1, pan ±12 %, gain ±8 %).
    for (let k = 0; k < 4; k++) {
      const b = await view(sources[i]!, rnd(), (rnd() - 0.5) * 0.24, (rnd() - 0.5) * 0.2, 1 + (rnd() - 0.5) * 0.16);
      if (!b) continue;
      const d = appearanceDistance(a, b);
      same.push(d);
      sameFlag.push(isDifferentLesion(d, DEFAULT_EPISODE_PARAMS));
    }
    // The same lesion, its mask shrunk to the darker half: is it rescued as a nested view when it looks different?
    const c = await view(sources[i]!, 0.5, 0, 0, 1, true);
    if (c) {
      const d = appearanceDistance(a, c);
      const flagged = isDifferentLesion(d, DEFAULT_EPISODE_PARAMS);
      core.push({ flagged, rescued: flagged && isNestedView(a, c, DEFAULT_EPISODE_PARAMS.appearance) });
      if (flagged) corePairs.push([a, c]);
    }
    // Different lesions: the next 4 images.
    for (let k = 1; k <= 4; k++) {
      const b = base[(i + k) % sources.length];
      if (!b) continue;
      const d = appearanceDistance(a, b);
      diff.push(d);
      diffFlag.push(isDifferentLesion(d, DEFAULT_EPISODE_PARAMS));
      // Both views are centred at the same place, as two lesions in a row under an unmoved scope would be.
      diffMerged.push(isDifferentLesion(d, DEFAULT_EPISODE_PARAMS) && isNestedView(a, b, DEFAULT_EPISODE_PARAMS.appearance));
      if (isDifferentLesion(d, DEFAULT_EPISODE_PARAMS)) diffPairs.push([a, b]);
    }
  }
  const rows: string[] = [];
  const line = (name: string, get: (d: AppearanceDistance) => number | null) => {
    const s = same.map(get).filter((v): v is number => v !== null);
    const d = diff.map(get).filter((v): v is number => v !== null);
    rows.push(`| ${name} | ${pct(s, 0.5).toFixed(2)} | ${pct(s, 0.95).toFixed(2)} | ${pct(s, 0.99).toFixed(2)} | ${pct(d, 0.05).toFixed(2)} | ${pct(d, 0.25).toFixed(2)} | ${pct(d, 0.5).toFixed(2)} |`);
  };
  line('lesion ΔE (mean Lab)', (d) => d.lesionDeltaE);
  line('skin ΔE', (d) => d.skinDeltaE);
  line('texture Δ (std Lab)', (d) => d.textureDelta);
  line('area ratio', (d) => d.areaRatio);
  line('fill Δ', (d) => d.fillDelta);
  // Sweep of the two colour thresholds (area stays at its default): the operating points to choose from.
  rows.push('', '| lesion ΔE > | texture Δ > | same flagged | different flagged |', '|---|---|---|---|');
  for (const de of [6, 8, 10, 12]) {
    for (const tx of [2, 3, 4, 5, 6]) {
      const p = { appearance: { ...DEFAULT_EPISODE_PARAMS.appearance, lesionDeltaE: de, textureDelta: tx } };
      const f = same.filter((d) => isDifferentLesion(d, p)).length / same.length;
      const t = diff.filter((d) => isDifferentLesion(d, p)).length / diff.length;
      rows.push(`| ${de} | ${tx} | ${(100 * f).toFixed(1)} % | ${(100 * t).toFixed(1)} % |`);
    }
  }
  // Sweep of the nesting check over the pairs the colour rule flags: cores kept vs different lesions merged.
  rows.push('', '| nested containment ≥ | z ≤ | ring ≥ | cores kept as the same lesion | different lesions merged |', '|---|---|---|---|---|');
  for (const nestedContainment of [0.9]) {
    for (const nestedZ of [1.25, 1.5, 2, 2.5]) {
      for (const nestedRing of [0.15, 0.25, 0.4]) {
        // The base rule alone (no deep-core tier).
        const q = { nestedContainment, nestedZ, nestedRing, nestedDeepRing: Infinity, nestedDeepZ: nestedZ };
        const kept = corePairs.filter(([x, y]) => isNestedView(x, y, q)).length / Math.max(1, corePairs.length);
        const mergedShare = diffPairs.filter(([x, y]) => isNestedView(x, y, q)).length / Math.max(1, diff.length);
        rows.push(`| ${nestedContainment} | ${nestedZ} | ${nestedRing} | ${(100 * kept).toFixed(1)} % | ${(100 * mergedShare).toFixed(1)} % |`);
      }
    }
  }
  // The deep-core tier on top of the default base rule: a part ringed by lesion-like colour may lie further out.
  rows.push('', '| deep core: ring ≥ | z ≤ | cores kept as the same lesion | different lesions merged |', '|---|---|---|---|');
  for (const nestedDeepRing of [0.75, 1, 1.5]) {
    for (const nestedDeepZ of [2, 2.5, 3]) {
      const q = { ...DEFAULT_EPISODE_PARAMS.appearance, nestedDeepRing, nestedDeepZ };
      const kept = corePairs.filter(([x, y]) => isNestedView(x, y, q)).length / Math.max(1, corePairs.length);
      const mergedShare = diffPairs.filter(([x, y]) => isNestedView(x, y, q)).length / Math.max(1, diff.length);
      rows.push(`| ${nestedDeepRing} | ${nestedDeepZ} | ${(100 * kept).toFixed(1)} % | ${(100 * mergedShare).toFixed(1)} % |`);
    }
  }
  const fp = sameFlag.filter(Boolean).length / sameFlag.length;
  const tp = diffFlag.filter(Boolean).length / diffFlag.length;
  const coreFlagged = core.filter((c) => c.flagged).length;
  const coreRescued = core.filter((c) => c.rescued).length;
  const merged = diffMerged.filter(Boolean).length;
  const text = [
    `Episode appearance check on ${sources.length} ISIC 2017 training images (${engine ? `regions outlined by ${engine.identity.name} ${engine.identity.version} (${args.model}), core views from expert masks` : 'expert masks'}), ${W}×${H} views, ${cpus().length}× ${cpus()[0]?.model ?? 'cpu'}`,
    '',
    `${same.length} same-lesion pairs (zoom 0–1, pan ±12 %, gain ±8 %, JPEG q70), ${diff.length} different-lesion pairs`,
    '',
    '| distance | same p50 | same p95 | same p99 | different p5 | different p25 | different p50 |',
    '|---|---|---|---|---|---|---|',
    ...rows,
    '',
    `Rule with the defaults (${JSON.stringify(DEFAULT_EPISODE_PARAMS.appearance)}): flags ${(100 * fp).toFixed(1)} % of same-lesion pairs, ${(100 * tp).toFixed(1)} % of different-lesion pairs (one frame; the episode needs ${DEFAULT_EPISODE_PARAMS.appearance.confirm} in a row).`,
    '',
    `Nested views (the mask shrunk to the lesion's darker half, ${core.length} lesions): the colour rule flags ${coreFlagged} (${(100 * coreFlagged / core.length).toFixed(1)} %) as another lesion; the nesting check keeps ${coreRescued} of those ${coreFlagged} (${coreFlagged ? ((100 * coreRescued) / coreFlagged).toFixed(1) : '–'} %) as the same lesion.`,
    `Different lesions at the same place: the nesting check takes ${merged} of ${diff.length} pairs (${((100 * merged) / diff.length).toFixed(1)} %) for one lesion, so the flag rate above becomes ${((100 * (diffFlag.filter(Boolean).length - merged)) / diff.length).toFixed(1)} %.`,
  ].join('\n');
  console.log(text);
  const dir = path.resolve(import.meta.dirname, 'results');
  mkdirSync(dir, { recursive: true });
  writeFileSync(path.join(dir, `${args.name}.md`), `${text}\n`);
}

await main();
await engine?.dispose();
