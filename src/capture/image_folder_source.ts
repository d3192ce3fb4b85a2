/**
 * A folder of still images played as a stream, for tests and demos. Decoded with sharp rather than a
 * GStreamer multifilesrc chain because multifilesrc needs numbered file names of one format and size,
 * while real folders mix JPEG/PNG, names and sizes.
 *
 * Order: file names in natural order (img2 before img10). Size: each image at its own size unless a
 * width/height is requested, in which case it is scaled to fit and letterboxed on black, like the
 * GStreamer sources. Pace: `fps` (default 5) in real time, or as fast as they decode.
 */
import { readdir } from 'node:fs/promises';
import path from 'node:path';
import { CaptureError } from './errors.js';
import { captureTime, type CaptureSession, type RawFrame, type SessionHandlers } from './session.js';

export const IMAGE_EXTENSIONS = ['.jpg', '.jpeg', '.png', '.webp', '.tif', '.tiff'] as const;
export const DEFAULT_IMAGE_FPS = 5;

/**
 * Stills are decoded to at most this many pixels on their longer side (when no size is requested). An
 * 8000×8000 JPEG decoded whole took 3.6 GB RSS and 6 s here; the network sees 160 px and the display a
 * few hundred, so 1920 loses nothing, and libvips then decodes JPEGs at 1/2, 1/4 or 1/8 scale directly
 * (shrink-on-load), never holding the full image.
 */
export const DEFAULT_MAX_IMAGE_SIDE = 1920;
/** Larger stills are refused before decoding (a decompression bomb, a panorama): 100 Mpx. */
export const DEFAULT_MAX_IMAGE_PIXELS = 100_000_000;

export interface ImageFolderOptions {
  fps?: number;
  realtime?: boolean;
  width?: number;
  height?: number;
  /** Longer side of a decoded still when no width/height is requested (shrunk, never enlarged). */
  maxSide?: number;
  /** Stills with more pixels than this are skipped with a warning instead of being decoded. */
  maxPixels?: number;
}

const collator = new Intl.Collator('en', { numeric: true, sensitivity: 'base' });

/** Image files of a folder in play order (absolute paths). */
export async function listImages(folder: string): Promise<string[]> {
  const entries = await readdir(folder, { withFileTypes: true });
  return entries
    .filter((e) => e.isFile() && (IMAGE_EXTENSIONS as readonly string[]).includes(path.extname(e.name).toLowerCase()))
    .map((e) => e.name)
    .sort(collator.compare)
    .map((name) => path.join(folder, name));
}

type Decoded = Omit<RawFrame, 'at' | 'fps'>;

async function decodeImage(file: string, opts: ImageFolderOptions): Promise<Decoded> {
  const { default: sharp } = await import('sharp');
  const maxPixels = opts.maxPixels ?? DEFAULT_MAX_IMAGE_PIXELS;
  // sequentialRead: libvips streams the file top to bottom instead of holding it for random access.
  let img = sharp(file, { sequentialRead: true, limitInputPixels: maxPixels }).autoOrient();
  if (opts.width !== undefined && opts.height !== undefined) {
    img = img.resize(opts.width, opts.height, { fit: 'contain', background: { r: 0, g: 0, b: 0 } });
  } else {
    const side = opts.maxSide ?? DEFAULT_MAX_IMAGE_SIDE;
    img = img.resize(side, side, { fit: 'inside', withoutEnlargement: true });
  }
  // Grey and palette images come out with one channel, PNGs may carry alpha: always packed sRGB.
  const { data, info } = await img.removeAlpha().toColourspace('srgb').raw().toBuffer({ resolveWithObject: true });
  if (info.channels !== 3) throw new Error(`decoded to ${info.channels} channels`);
  // A copy into a plain ArrayBuffer of exactly the frame: sharp's buffers are external memory that cannot
  // be transferred (detached) to a worker, and frames from GStreamer can.
  return { data: new Uint8Array(data), width: info.width, height: info.height };
}

/** Why sharp refused a still, in words that say what to do. */
export function describeDecodeFailure(err: Error, maxPixels: number): string {
  const m = err.message;
  if (/exceeds pixel limit/i.test(m)) return `more than ${(maxPixels / 1e6).toFixed(0)} Mpx (capture.maxImagePixels); shrink it or raise the limit`;
  if (/premature end|truncated|unexpected end/i.test(m)) return `truncated (${m.trim()}); the file was cut short, copy it again`;
  if (/unsupported image format|bad seek|not a known file format/i.test(m)) return `not an image (${m.trim()}); images: plays JPEG, PNG, WebP and TIFF`;
  return m.trim();
}

export function startImageFolderSession(folder: string, source: string, opts: ImageFolderOptions, h: SessionHandlers): CaptureSession {
  const fps = opts.fps ?? DEFAULT_IMAGE_FPS;
  const intervalMs = 1000 / fps;
  const realtime = opts.realtime ?? true;
  let stopped = false;
  let files: string[] = [];
  let index = 0;
  let atEnd = false;
  let nextDueMs = 0;
  let timer: ReturnType<typeof setTimeout> | undefined;
  /** The next image is decoded while the current one is on screen. */
  let prefetch: { index: number; result: Promise<Decoded> } | undefined;
  /** Stills decoded since the folder (re)started from its first file. */
  let decodedThisPass = 0;

  const fail = (err: CaptureError): void => {
    if (stopped) return;
    stop();
    h.error(err);
  };

  const decode = (i: number): Promise<Decoded> => {
    const result = decodeImage(files[i]!, opts);
    result.catch(() => undefined); // observed where it is awaited; this only silences a dropped prefetch
    return result;
  };

  const sleep = (ms: number): Promise<void> => new Promise((resolve) => (timer = setTimeout(resolve, ms)));

  const play = async (): Promise<void> => {
    while (!stopped) {
      if (index >= files.length) {
        atEnd = true;
        return h.eos();
      }
      if (index === 0) decodedThisPass = 0;
      const current = prefetch?.index === index ? prefetch.result : decode(index);
      let img: Decoded;
      try {
        img = await current;
      } catch (err) {
        if (stopped) return;
        // One bad still (cut short, a text file named .jpg, too large) must not end the run: skip it,
        // say so, and go on; only a folder where nothing decodes is a failure.
        const file = files[index]!;
        const reason = describeDecodeFailure(err as Error, opts.maxPixels ?? DEFAULT_MAX_IMAGE_PIXELS);
        index++;
        if (index >= files.length && decodedThisPass === 0) {
          return fail(
            new CaptureError('DECODE', `none of the ${files.length} files in ${folder} could be decoded (last: ${path.basename(file)}: ${reason})`, {
              hint: 'images: plays JPEG, PNG, WebP and TIFF; replace the files',
              cause: err,
            }),
          );
        }
        h.skipped?.(file, reason);
        continue;
      }
      if (stopped) return;
      decodedThisPass++;
      const following = index + 1 < files.length ? index + 1 : 0;
      prefetch = { index: following, result: decode(following) };
      if (realtime) {
        const wait = nextDueMs - performance.now();
        if (wait > 0) await sleep(wait);
        if (stopped) return;
        // On time: the next frame is due one interval after this one was (no drift). Late by more than
        // an interval (a slow decode): start counting from now, rather than catching up in a burst.
        const now = performance.now();
        nextDueMs = (now - nextDueMs > intervalMs ? now : nextDueMs) + intervalMs;
      } else {
        // Yield to the event loop between frames so an unsubscribe can get in.
        await new Promise<void>((resolve) => setImmediate(resolve));
        if (stopped) return;
      }
      index++;
      h.frame({ ...img, fps, at: captureTime() });
    }
  };

  const stop = (): void => {
    stopped = true;
    if (timer) clearTimeout(timer);
    prefetch = undefined;
  };

  const rewind = (): boolean => {
    if (stopped || !atEnd) return false;
    atEnd = false;
    index = 0;
    void play();
    return true;
  };

  void (async () => {
    try {
      files = await listImages(folder);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      return fail(
        code === 'ENOENT'
          ? new CaptureError('NOT_FOUND', `image folder ${folder} does not exist`, { hint: 'check the path given after images:' })
          : code === 'ENOTDIR'
            ? new CaptureError('BAD_SOURCE', `${folder} is a file, not a folder`, { hint: `for a video use file:${folder}` })
            : new CaptureError('RUNTIME', `cannot read image folder ${folder}: ${(err as Error).message}`, { cause: err }),
      );
    }
    if (stopped) return;
    if (files.length === 0) {
      return fail(
        new CaptureError('NOT_FOUND', `no images in ${folder}`, { hint: `images: plays files ending in ${IMAGE_EXTENSIONS.join(' ')}; source was ${source}` }),
      );
    }
    h.opened();
    await play();
  })();

  return { rewind, stop };
}
