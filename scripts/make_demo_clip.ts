/**
 * Makes the bundled demo clip that `dermstream run` plays when no source is given:
 * assets/demo/dermatoscope-demo.avi (MJPEG in AVI, 640×480, 10 fps, ~40 s) and its ATTRIBUTION.md.
 *
 * A handheld dermatoscope is simulated over still CC0 images of the ISIC archive (via the ISIC 2017
 * training split): for each lesion the scope lands (defocused, dim), settles, pans and zooms slowly
 * with a slight roll around the lesion (kept in view using its expert mask), then is lifted (blur, dark)
 * before the next one. Deterministic (seeded), so re-running reproduces the same clip.
 *
 *   npx tsx scripts/make_demo_clip.ts [--data DIR] [--out FILE] [--budget-mb 4.8]
 *
 * Needs sharp (a dependency) and gst-launch-1.0 with imagesequencesrc and avimux (gstreamer1.0-plugins-good).
 */
import { rng } from '../src/model/targets.js';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import sharp from 'sharp';
import { firstValueFrom, toArray } from 'rxjs';
import { DEMO_CLIP_RELATIVE_PATH, packageRoot } from '../src/capture/demo_source.js';
import { openSource } from '../src/capture/open_source.js';

const WIDTH = 640;
const HEIGHT = 480;
const FPS = 10;
const SECONDS_PER_LESION = 5;
/** Frames at each end of a lesion's segment spent landing / lifting the scope. */
const LAND_FRAMES = 5;
const LIFT_FRAMES = 5;
const MAX_ROLL_DEG = 3;
const SEED = 20_171_005; // arXiv:1710.05006

/**
 * Four benign, four malignant, from the CC0 range ISIC_0000000–ISIC_0000556 at full resolution, chosen
 * for variety: small and large lesions, pale and tanned skin, with and without the scope's round field.
 */
const LESIONS = [
  'ISIC_0000023',
  'ISIC_0000030',
  'ISIC_0000329',
  'ISIC_0000151',
  'ISIC_0000179',
  'ISIC_0000298',
  'ISIC_0000079',
  'ISIC_0000390',
] as const;

interface Lesion {
  id: string;
  label: 'benign' | 'malignant';
  diagnosis: string;
  image: Buffer;
  width: number;
  height: number;
  /** Lesion bounding box from its mask, in image pixels. */
  box: { x1: number; y1: number; x2: number; y2: number };
}

interface Shot {
  lesion: number;
  /** 0..1 through the lesion's segment. */
  t: number;
  blurSigma: number;
  gain: number;
}

const { values: args } = parseArgs({
  options: {
    data: { type: 'string', default: path.join(packageRoot(), '..', 'shared', 'data', 'isic2017-train') },
    out: { type: 'string', default: path.join(packageRoot(), DEMO_CLIP_RELATIVE_PATH) },
    'budget-mb': { type: 'string', default: '4.8' },
  },
});

const smooth = (x: number) => x * x * (3 - 2 * x);

async function loadLesions(dataDir: string): Promise<Lesion[]> {
  const rows = readFileSync(path.join(dataDir, 'labels.csv'), 'utf8').trim().split('\n');
  const header = rows[0]!.split(',');
  const col = (name: string) => header.indexOf(name);
  const byId = new Map(rows.slice(1).map((r) => [r.split(',')[0]!, r.split(',')]));
  const lesions: Lesion[] = [];
  for (const id of LESIONS) {
    const row = byId.get(id);
    if (!row) throw new Error(`${id} is not in labels.csv`);
    if (row[col('resolution')] !== 'full') throw new Error(`${id} is not a full-resolution image`);
    if (Number(id.slice(5)) > 556) throw new Error(`${id} is outside the CC0 range ISIC_0000000–ISIC_0000556`);
    const label = row[col('benign_malignant')] as 'benign' | 'malignant';
    const diagnosis = row[col('melanoma')] === '1' ? 'melanoma' : row[col('seborrheic_keratosis')] === '1' ? 'seborrheic keratosis' : 'nevus';
    const image = readFileSync(path.join(dataDir, 'images', `${id}.jpg`));
    const meta = await sharp(image).metadata();
    const mask = await sharp(path.join(dataDir, 'masks', `${id}_segmentation.png`)).greyscale().raw().toBuffer({ resolveWithObject: true });
    let x1 = Infinity;
    let y1 = Infinity;
    let x2 = -Infinity;
    let y2 = -Infinity;
    for (let y = 0; y < mask.info.height; y++) {
      for (let x = 0; x < mask.info.width; x++) {
        if (mask.data[y * mask.info.width + x]! > 127) {
          x1 = Math.min(x1, x);
          x2 = Math.max(x2, x);
          y1 = Math.min(y1, y);
          y2 = Math.max(y2, y);
        }
      }
    }
    if (!Number.isFinite(x1)) throw new Error(`${id}: empty mask`);
    lesions.push({ id, label, diagnosis, image, width: meta.width!, height: meta.height!, box: { x1, y1, x2, y2 } });
  }
  return lesions;
}

/** The whole clip as a list of shots: land, settle, pan/zoom/roll, lift — per lesion. */
function script(count: number): Shot[] {
  const perLesion = Math.round(SECONDS_PER_LESION * FPS);
  const shots: Shot[] = [];
  for (let lesion = 0; lesion < count; lesion++) {
    for (let i = 0; i < perLesion; i++) {
      let blurSigma = 0;
      let gain = 1;
      if (i < LAND_FRAMES) {
        const k = (i + 1) / (LAND_FRAMES + 1); // landing: out of focus and dim, then sharp
        blurSigma = 9 * (1 - k) ** 2;
        gain = 0.15 + 0.85 * smooth(k);
      } else if (lesion < count - 1 && i >= perLesion - LIFT_FRAMES) {
        const k = (i - (perLesion - LIFT_FRAMES) + 1) / LIFT_FRAMES; // lifting: blur and darkness
        blurSigma = 12 * k * k;
        gain = 1 - 0.93 * smooth(k);
      }
      shots.push({ lesion, t: i / (perLesion - 1), blurSigma, gain });
    }
  }
  return shots;
}

/** SVG overlay: the light fall-off of a dermatoscope's round field. */
const VIGNETTE = Buffer.from(
  `<svg width="${WIDTH}" height="${HEIGHT}" xmlns="http://www.w3.org/2000/svg"><defs><radialGradient id="v" cx="50%" cy="50%" r="62%">` +
    `<stop offset="70%" stop-color="#000" stop-opacity="0"/><stop offset="100%" stop-color="#000" stop-opacity="0.6"/></radialGradient></defs>` +
    `<rect width="100%" height="100%" fill="url(#v)"/></svg>`,
);

async function render(lesion: Lesion, shot: Shot, rnd: () => number, phase: number): Promise<Buffer> {
  const { width: W, height: H, box } = lesion;
  const theta = MAX_ROLL_DEG * Math.sin(2 * Math.PI * (0.35 * shot.t + phase));
  const rad = (Math.abs(theta) * Math.PI) / 180;
  // Canvas after rotation, as libvips sizes it.
  const RW = Math.ceil(W * Math.cos(rad) + H * Math.sin(rad));
  const RH = Math.ceil(W * Math.sin(rad) + H * Math.cos(rad));
  // Zoom: a crop of 4:3 that always holds the lesion with some skin around it, easing from wide to close.
  const lesionW = box.x2 - box.x1;
  const lesionH = box.y2 - box.y1;
  const minCropH = Math.min(H * 0.8, Math.max(lesionH * 1.35, (lesionW * 1.35 * 3) / 4, H * 0.42));
  const maxCropH = H * 0.8;
  const zoom = 0.5 - 0.5 * Math.cos(2 * Math.PI * (0.6 * shot.t + phase / 2)); // 0 wide .. 1 close
  let cropH = maxCropH - (maxCropH - minCropH) * zoom;
  let cropW = (cropH * 4) / 3;
  if (cropW > W * 0.8) {
    cropW = W * 0.8;
    cropH = (cropW * 3) / 4;
  }
  // Pan: a slow Lissajous wander around the lesion centre, plus a little hand tremor.
  const cx0 = (box.x1 + box.x2) / 2 + 0.12 * cropW * Math.sin(2 * Math.PI * (0.5 * shot.t + phase)) + (rnd() - 0.5) * 3;
  const cy0 = (box.y1 + box.y2) / 2 + 0.1 * cropH * Math.sin(2 * Math.PI * (0.8 * shot.t + 2 * phase)) + (rnd() - 0.5) * 3;
  // Where that point lands on the rotated canvas (sharp rotates clockwise for positive angles).
  const a = (theta * Math.PI) / 180;
  const dx = cx0 - W / 2;
  const dy = cy0 - H / 2;
  const cx = RW / 2 + dx * Math.cos(a) - dy * Math.sin(a);
  const cy = RH / 2 + dx * Math.sin(a) + dy * Math.cos(a);
  // Keep the crop inside the picture, away from the corners the rotation fills with black.
  const margin = Math.ceil(Math.sin(rad) * Math.max(W, H)) + 2;
  const left = Math.round(Math.min(Math.max(cx - cropW / 2, margin), RW - margin - cropW));
  const top = Math.round(Math.min(Math.max(cy - cropH / 2, margin), RH - margin - cropH));

  let img = sharp(lesion.image)
    .rotate(theta, { background: '#000' })
    .extract({ left, top, width: Math.round(cropW), height: Math.round(cropH) })
    .resize(WIDTH, HEIGHT, { fit: 'fill', kernel: 'lanczos3' });
  if (shot.blurSigma >= 0.3) img = img.blur(shot.blurSigma);
  const flicker = 1 + 0.015 * (rnd() - 0.5);
  img = img.linear(shot.gain * flicker, 0).composite([{ input: VIGNETTE }]);
  return img.removeAlpha().raw().toBuffer();
}

async function encode(frames: Buffer[], quality: number): Promise<Buffer[]> {
  // Baseline (not progressive) JPEG, as UVC cameras send and hardware MJPEG decoders expect.
  return Promise.all(
    frames.map((f) =>
      sharp(f, { raw: { width: WIDTH, height: HEIGHT, channels: 3 } })
        .jpeg({ quality, progressive: false, trellisQuantisation: true, overshootDeringing: true, optimiseCoding: true, quantisationTable: 3 })
        .toBuffer(),
    ),
  );
}

async function main(): Promise<void> {
  const budget = Number(args['budget-mb']) * 1024 * 1024;
  const out = path.resolve(args.out!);
  const lesions = await loadLesions(args.data!);
  const shots = script(lesions.length);
  const rnd = rng(SEED);
  const phases = lesions.map(() => rnd());
  console.log(`rendering ${shots.length} frames (${(shots.length / FPS).toFixed(0)} s at ${FPS} fps) over ${lesions.length} lesions`);
  const raw: Buffer[] = [];
  for (const shot of shots) raw.push(await render(lesions[shot.lesion]!, shot, rnd, phases[shot.lesion]!));

  // Highest JPEG quality whose clip fits the size budget (AVI overhead is ~40 bytes per frame).
  let quality = 75;
  let jpegs = await encode(raw, quality);
  const total = (js: Buffer[]) => js.reduce((s, j) => s + j.length + 64, 0);
  while (total(jpegs) > budget && quality > 30) {
    quality -= 5;
    jpegs = await encode(raw, quality);
  }
  console.log(`JPEG quality ${quality}: ${(total(jpegs) / 1024 / 1024).toFixed(2)} MB`);

  const tmp = mkdtempSync(path.join(tmpdir(), 'demo-clip-'));
  try {
    jpegs.forEach((j, i) => writeFileSync(path.join(tmp, `frame_${String(i).padStart(5, '0')}.jpg`), j));
    mkdirSync(path.dirname(out), { recursive: true });
    execFileSync(
      'gst-launch-1.0',
      [
        '-q',
        // imagesequencesrc timestamps in TIME (multifilesrc's BYTES segments upset avimux); the capsfilter
        // adds the size avimux wants for its header. No jpegparse needed (it is in plugins-bad).
        'imagesequencesrc',
        `location=${path.join(tmp, 'frame_%05d.jpg')}`,
        'start-index=0',
        `framerate=${FPS}/1`,
        '!',
        `image/jpeg,width=${WIDTH},height=${HEIGHT}`,
        '!',
        'avimux',
        '!',
        'filesink',
        `location=${out}`,
      ],
      { stdio: 'inherit' },
    );
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }

  // Check the result the way dermstream will read it.
  const played = await firstValueFrom(openSource(`file:${out}`, { realtime: false }).frames$.pipe(toArray()));
  if (played.length !== shots.length || played.some((f) => f.width !== WIDTH || f.height !== HEIGHT)) {
    throw new Error(`played back ${played.length} frames (expected ${shots.length} of ${WIDTH}x${HEIGHT})`);
  }
  const size = statSync(out).size;
  const sha256 = createHash('sha256').update(readFileSync(out)).digest('hex');
  console.log(`wrote ${out}: ${(size / 1024 / 1024).toFixed(2)} MB, ${played.length} frames, sha256 ${sha256}`);
  writeFileSync(path.join(path.dirname(out), 'ATTRIBUTION.md'), attribution(lesions, shots.length, quality, size, sha256, path.basename(out)));
}

function attribution(lesions: Lesion[], frames: number, quality: number, size: number, sha256: string, file: string): string {
  const rows = lesions.map((l, i) => `| ${i + 1} | ${(i * SECONDS_PER_LESION).toFixed(0)}–${((i + 1) * SECONDS_PER_LESION).toFixed(0)} s | ${l.id} | ${l.label} (${l.diagnosis}) |`);
  return `# Demo clip: \`${file}\`

A **synthetic** dermatoscope video: the motion (landing and settling, slow pan and zoom, slight roll, lifting
between lesions with blurred and dark frames) is simulated over **still** dermoscopic images. It is not a
recording of a patient examination. It exists so that \`dermstream run\` has something to play out of the box.

- MJPEG in AVI, ${WIDTH}×${HEIGHT}, ${FPS} fps, ${frames} frames (${(frames / FPS).toFixed(0)} s), JPEG quality ${quality}, ${(size / 1024 / 1024).toFixed(2)} MB
- sha256 \`${sha256}\`
- Made by \`npx tsx scripts/make_demo_clip.ts\` (deterministic; re-running reproduces it).

## Source images

From the ISIC Archive (International Skin Imaging Collaboration, https://www.isic-archive.com), images
ISIC_0000000–ISIC_0000556, released under **CC0 1.0** (public domain dedication), as distributed with the
ISIC 2017 challenge training data. Labels are those of the challenge ground truth.

| # | time | image | ground truth |
| --- | --- | --- | --- |
${rows.join('\n')}

These images belong to the ISIC 2017 *training* split, which dermstream's model may have been trained on:
what the model says about this clip shows that the system works end to end, not how accurate it is.

## Citation

N. C. F. Codella et al., "Skin Lesion Analysis Toward Melanoma Detection: A Challenge at the 2017
International Symposium on Biomedical Imaging (ISBI), Hosted by the International Skin Imaging
Collaboration (ISIC)", arXiv:1710.05006, 2017.
`;
}

await main();
