/**
 * A recording of an examination, made in the test from ISIC 2017 training images: lesions held a few seconds
 * each with a handheld drift (slow pan and zoom, exposure flicker), the scope lifted between some of them
 * (defocused, then dark frames — what the quality gate rejects as blurry / dark), and two lesions in a row at
 * the same place with no lift (a cut). MJPEG in AVI via gst-launch-1.0, as scripts/make_demo_clip.ts does.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { rng } from '../../../src/model/targets.js';

export interface ClipSegment {
  /** ISIC image id, or null for a lift. */
  lesion: string | null;
  frames: number;
}

export interface ClipPlan {
  width: number;
  height: number;
  fps: number;
  segments: ClipSegment[];
}

/** Frame index ranges [first, last] of each lesion segment, in clip order. */
export function lesionRanges(plan: ClipPlan): { lesion: string; first: number; last: number }[] {
  const out: { lesion: string; first: number; last: number }[] = [];
  let i = 0;
  for (const s of plan.segments) {
    if (s.lesion) out.push({ lesion: s.lesion, first: i, last: i + s.frames - 1 });
    i += s.frames;
  }
  return out;
}

async function lesionBox(dataDir: string, id: string): Promise<{ x1: number; y1: number; x2: number; y2: number; W: number; H: number }> {
  const m = await sharp(path.join(dataDir, 'masks', `${id}_segmentation.png`)).greyscale().raw().toBuffer({ resolveWithObject: true });
  let x1 = Infinity, y1 = Infinity, x2 = -1, y2 = -1;
  for (let y = 0; y < m.info.height; y++) for (let x = 0; x < m.info.width; x++) if (m.data[y * m.info.width + x]! > 127) {
    x1 = Math.min(x1, x); x2 = Math.max(x2, x); y1 = Math.min(y1, y); y2 = Math.max(y2, y);
  }
  return { x1, y1, x2: x2 + 1, y2: y2 + 1, W: m.info.width, H: m.info.height };
}

/** Renders the plan to `out` (MJPEG AVI); returns the frame count. Deterministic (seeded). */
export async function makeExaminationClip(dataDir: string, plan: ClipPlan, out: string, seed = 8): Promise<number> {
  const rnd = rng(seed);
  const { width: W, height: H } = plan;
  const tmp = mkdtempSync(path.join(tmpdir(), 'exam-clip-'));
  let n = 0;
  let last: Buffer | null = null;
  try {
    for (const seg of plan.segments) {
      if (!seg.lesion) {
        // Lifted: the last view goes out of focus and dark, then black with a little sensor noise.
        for (let k = 0; k < seg.frames; k++) {
          const src = last ?? Buffer.alloc(W * H * 3, 20);
          const t = (k + 1) / seg.frames;
          let img = sharp(src, { raw: { width: W, height: H, channels: 3 } });
          img = k < 2 ? img.blur(6 + 4 * k).linear(0.5 - 0.2 * k, 0) : img.blur(12).linear(0.04 * (1 - t) + 0.02, 2);
          writeFileSync(path.join(tmp, `f_${String(n++).padStart(5, '0')}.jpg`), await img.jpeg({ quality: 80 }).toBuffer());
        }
        continue;
      }
      const image = readFileSync(path.join(dataDir, 'images', `${seg.lesion}.jpg`));
      const b = await lesionBox(dataDir, seg.lesion);
      const phase = rnd();
      for (let k = 0; k < seg.frames; k++) {
        const t = k / Math.max(1, seg.frames - 1);
        // A 4:3 crop holding the lesion, zooming slowly in and out, drifting ±8 % of the crop.
        const lw = b.x2 - b.x1;
        const lh = b.y2 - b.y1;
        const minH = Math.min(b.H * 0.9, Math.max(lh * 1.4, (lw * 1.4 * 3) / 4, b.H * 0.45));
        const maxH = b.H * 0.9;
        const zoom = 0.5 - 0.5 * Math.cos(2 * Math.PI * (0.5 * t + phase));
        let ch = maxH - (maxH - minH) * zoom;
        let cw = (ch * 4) / 3;
        if (cw > b.W) { cw = b.W; ch = (cw * 3) / 4; }
        const cx = (b.x1 + b.x2) / 2 + 0.08 * cw * Math.sin(2 * Math.PI * (0.6 * t + phase)) + (rnd() - 0.5) * 4;
        const cy = (b.y1 + b.y2) / 2 + 0.06 * ch * Math.sin(2 * Math.PI * (0.9 * t + 2 * phase)) + (rnd() - 0.5) * 4;
        const left = Math.round(Math.min(Math.max(cx - cw / 2, 0), b.W - cw));
        const top = Math.round(Math.min(Math.max(cy - ch / 2, 0), b.H - ch));
        const raw = await sharp(image)
          .extract({ left, top, width: Math.round(cw), height: Math.round(ch) })
          .resize(W, H, { fit: 'fill' })
          .linear(1 + 0.03 * (rnd() - 0.5), 0)
          .removeAlpha()
          .raw()
          .toBuffer();
        last = raw;
        const jpeg = await sharp(raw, { raw: { width: W, height: H, channels: 3 } }).jpeg({ quality: 80 }).toBuffer();
        writeFileSync(path.join(tmp, `f_${String(n++).padStart(5, '0')}.jpg`), jpeg);
      }
    }
    execFileSync(
      'gst-launch-1.0',
      ['-q', 'imagesequencesrc', `location=${path.join(tmp, 'f_%05d.jpg')}`, 'start-index=0', `framerate=${plan.fps}/1`, '!', `image/jpeg,width=${W},height=${H}`, '!', 'avimux', '!', 'filesink', `location=${out}`],
      { stdio: 'pipe', timeout: 60_000 },
    );
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
  return n;
}
