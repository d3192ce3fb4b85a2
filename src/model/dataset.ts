import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync, renameSync } from 'node:fs';
import { join } from 'node:path';
import sharp from 'sharp';
import { rng } from './targets.js';

/** One row of an ISIC-style labels.csv. */
export interface LabelRow {
  id: string;
  malignant: 0 | 1;
  resolution?: string;
}

export class DatasetError extends Error {}

/**
 * Reads `labels.csv` of a folder in the layout of ISIC 2017 (images/, masks/ optional, labels.csv with
 * image_id and benign_malignant or melanoma columns).
 */
export function readLabels(dir: string): LabelRow[] {
  const path = join(dir, 'labels.csv');
  if (!existsSync(path)) throw new DatasetError(`no labels.csv in ${dir}: expected the layout of ISIC 2017 (images/, masks/, labels.csv)`);
  const lines = readFileSync(path, 'utf8').trim().split(/\r?\n/);
  const header = lines[0].split(',').map((h) => h.trim());
  const col = (n: string) => header.indexOf(n);
  const iId = col('image_id');
  const iBm = col('benign_malignant');
  const iMel = col('melanoma');
  const iRes = col('resolution');
  if (iId < 0 || (iBm < 0 && iMel < 0)) throw new DatasetError(`${path}: needs columns image_id and benign_malignant (or melanoma); has ${header.join(', ')}`);
  return lines.slice(1).filter((l) => l.trim()).map((l) => {
    const c = l.split(',').map((v) => v.trim());
    const malignant = iBm >= 0 ? (c[iBm] === 'malignant' ? 1 : 0) : c[iMel] === '1' || c[iMel] === '1.0' ? 1 : 0;
    return { id: c[iId], malignant, resolution: iRes >= 0 ? c[iRes] : undefined };
  });
}

/** A stratified split by the malignant label with a fixed seed: the same rows every run. */
export function stratifiedSplit(rows: LabelRow[], valCount: number, seed = 2017): { train: LabelRow[]; val: LabelRow[] } {
  const rand = rng(seed);
  const byClass = [rows.filter((r) => r.malignant === 0), rows.filter((r) => r.malignant === 1)];
  const val: LabelRow[] = [];
  const train: LabelRow[] = [];
  for (const group of byClass) {
    const g = [...group].sort((a, b) => (a.id < b.id ? -1 : 1));
    for (let i = g.length - 1; i > 0; i--) {
      const j = Math.floor(rand() * (i + 1));
      [g[i], g[j]] = [g[j], g[i]];
    }
    const k = Math.round((valCount * group.length) / rows.length);
    val.push(...g.slice(0, k));
    train.push(...g.slice(k));
  }
  return { train, val };
}

export function imagePath(dir: string, id: string): string {
  for (const ext of ['jpg', 'jpeg', 'png']) {
    const p = join(dir, 'images', `${id}.${ext}`);
    if (existsSync(p)) return p;
  }
  throw new DatasetError(`image ${id} listed in labels.csv has no file in ${dir}/images (jpg/png)`);
}

export function maskPath(dir: string, id: string): string | null {
  const p = join(dir, 'masks', `${id}_segmentation.png`);
  return existsSync(p) ? p : null;
}

/** Letterboxed copies of a dataset at the network's input size: images [n, S, S, 3] and masks [n, S, S]. */
export interface LetterboxedSet {
  ids: string[];
  labels: Uint8Array;
  size: number;
  images: Uint8Array;
  masks: Uint8Array;
}

async function letterboxFile(path: string, size: number, channels: 3 | 1, kernel: 'lanczos3' | 'nearest'): Promise<Uint8Array> {
  const img = sharp(path).removeAlpha();
  const pipeline = channels === 1 ? img.greyscale() : img.toColourspace('srgb');
  const { data, info } = await pipeline.resize(size, size, { fit: 'inside', kernel }).raw().toBuffer({ resolveWithObject: true });
  const out = new Uint8Array(size * size * channels);
  const ch = info.channels;
  for (let y = 0; y < info.height; y++) {
    for (let x = 0; x < info.width; x++) {
      for (let c = 0; c < channels; c++) out[(y * size + x) * channels + c] = data[(y * info.width + x) * ch + c];
    }
  }
  return out;
}

/**
 * Loads (and caches on disk, keyed by the id list and size) the letterboxed images and masks: decoding
 * 2000 JPEGs takes a minute; reading the cache a second.
 */
export async function loadLetterboxed(dir: string, rows: LabelRow[], size: number, cacheDir?: string, onProgress?: (done: number, total: number) => void): Promise<LetterboxedSet> {
  const key = createHash('sha1').update(`${dir}|${size}|${rows.map((r) => r.id).join(',')}`).digest('hex').slice(0, 16);
  const cachePath = cacheDir ? join(cacheDir, `letterboxed-${size}-${key}.bin`) : undefined;
  const n = rows.length;
  const imgBytes = n * size * size * 3;
  const maskBytes = n * size * size;
  if (cachePath && existsSync(cachePath)) {
    const buf = readFileSync(cachePath);
    if (buf.length === imgBytes + maskBytes) {
      return { ids: rows.map((r) => r.id), labels: Uint8Array.from(rows.map((r) => r.malignant)), size, images: new Uint8Array(buf.buffer, buf.byteOffset, imgBytes), masks: new Uint8Array(buf.buffer, buf.byteOffset + imgBytes, maskBytes) };
    }
  }
  const all = new Uint8Array(imgBytes + maskBytes);
  const images = all.subarray(0, imgBytes);
  const masks = all.subarray(imgBytes);
  let done = 0;
  const work = rows.map((r, i) => async () => {
    images.set(await letterboxFile(imagePath(dir, r.id), size, 3, 'lanczos3'), i * size * size * 3);
    const mp = maskPath(dir, r.id);
    if (mp) {
      const m = await letterboxFile(mp, size, 1, 'nearest');
      for (let k = 0; k < m.length; k++) m[k] = m[k] >= 128 ? 1 : 0;
      masks.set(m, i * size * size);
    }
    onProgress?.(++done, n);
  });
  // sharp decodes on libuv's pool; a few at a time keeps both cores busy without a memory spike.
  const queue = [...work];
  await Promise.all(Array.from({ length: 4 }, async () => {
    for (let job = queue.shift(); job; job = queue.shift()) await job();
  }));
  if (cachePath) {
    mkdirSync(cacheDir as string, { recursive: true });
    writeFileSync(`${cachePath}.tmp`, all);
    renameSync(`${cachePath}.tmp`, cachePath);
  }
  return { ids: rows.map((r) => r.id), labels: Uint8Array.from(rows.map((r) => r.malignant)), size, images, masks };
}
