/**
 * The source string a user types (`v4l2:/dev/video0`, `file:clip.avi`, `images:dir`, `test:ball`,
 * `gst:<launch description>`) and the GStreamer launch descriptions it becomes. Pure: no GStreamer,
 * no file system, so every pipeline we would run can be read and tested as a string.
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { CaptureError } from './errors.js';

export type SourceSpec =
  | { kind: 'v4l2'; id: string; device: string }
  | { kind: 'file'; id: string; path: string }
  | { kind: 'images'; id: string; folder: string }
  | { kind: 'test'; id: string; pattern: string }
  | { kind: 'gst'; id: string; description: string };

export type SourceKind = SourceSpec['kind'];

/** Camera formats tried in order; `auto` lets the camera pick its default and decodes whatever it is. */
export type V4l2Format = 'mjpeg' | 'yuy2' | 'auto';
export const DEFAULT_V4L2_FORMATS: readonly V4l2Format[] = ['mjpeg', 'yuy2', 'auto'];

export const DEFAULT_TEST_PATTERN = 'ball';

/** What the caller asks of the frames, independent of the source. */
export interface FrameRequest {
  /** Output size; both or neither. The picture is scaled to fit and letterboxed, never stretched. */
  width?: number;
  height?: number;
  /** Frame rate to ask of a camera or the test pattern (files keep their own rate). */
  fps?: number;
  /** Recorded media at their own rate (true, default) or as fast as they decode (false). */
  realtime?: boolean;
  /**
   * With `realtime: false`, recorded media (file:, gst:) as fast as the consumer takes them: one frame is
   * delivered, then one more per `CaptureSource.demand()` credit, and the decoder waits in between. So an
   * offline run analyses every frame at the network's rate instead of decoding ahead only for latest-only to
   * drop the frames (measured: decoding at hundreds of frames/s took the CPU the network needed). Default false.
   */
  paced?: boolean;
  /** Camera formats in the order to try them. */
  v4l2Formats?: readonly V4l2Format[];
}

/** One complete launch description to try, and how its appsink behaves. */
export interface LaunchPlan {
  /** Short name for logs/events, e.g. `MJPEG 640x480@30` or `file`. */
  label: string;
  description: string;
  sync: boolean;
  drop: boolean;
  /** Frames are pulled from the appsink only against the consumer's credit (FrameRequest.paced). */
  paced?: boolean;
  /**
   * Whether a stopped pipeline may be played again for a re-open. Only for chains we write with static
   * pads: gst_parse_launch links dynamic pads (decodebin and the like) once, so a re-played decodebin is
   * left not-linked; and a user's gst: chain may hold anything.
   */
  reusable: boolean;
}

/** Name of our appsink; unusual so that it cannot clash with an element in a user's `gst:` description. */
export const SINK_NAME = 'dermstream_sink';

const FORMS =
  '`v4l2:/dev/video0` (or `v4l2:0`), `file:<video>`, `images:<folder>`, `test` / `test:<pattern>`, `gst:<launch description ending in raw video>`';

/** Parses a source string. Relative paths are resolved against `cwd`. Throws CaptureError('BAD_SOURCE'). */
export function parseSource(source: string, cwd: string = process.cwd()): SourceSpec {
  const s = source.trim();
  if (s === '') throw bad('empty source', `use one of ${FORMS}`);

  if (s === 'test') return { kind: 'test', id: 'test', pattern: DEFAULT_TEST_PATTERN };
  const [scheme, rest] = splitScheme(s);

  switch (scheme) {
    case 'test': {
      const pattern = rest.trim() || DEFAULT_TEST_PATTERN;
      // Only a plain token, so nothing can be smuggled into the launch description.
      if (!/^[a-z0-9-]+$/i.test(pattern)) {
        throw bad(`invalid test pattern "${pattern}"`, 'use a videotestsrc pattern name such as ball, smpte, snow, checkers-8');
      }
      return { kind: 'test', id: pattern === DEFAULT_TEST_PATTERN ? 'test' : `test:${pattern}`, pattern };
    }
    case 'v4l2': {
      const r = rest.trim();
      if (r === '') throw bad('v4l2: needs a device', 'e.g. `v4l2:/dev/video0` or `v4l2:0`');
      const device = /^\d+$/.test(r) ? `/dev/video${r}` : r;
      return { kind: 'v4l2', id: `v4l2:${device}`, device };
    }
    case 'file': {
      const p = rest.startsWith('//') ? fileURLToPath(`file:${rest}`) : rest;
      if (p.trim() === '') throw bad('file: needs a path', 'e.g. `file:assets/demo/dermatoscope-demo.avi`');
      const abs = path.resolve(cwd, p);
      return { kind: 'file', id: `file:${abs}`, path: abs };
    }
    case 'images': {
      if (rest.trim() === '') throw bad('images: needs a folder', 'e.g. `images:/data/lesions`');
      const abs = path.resolve(cwd, rest);
      return { kind: 'images', id: `images:${abs}`, folder: abs };
    }
    case 'gst': {
      const description = rest.trim();
      if (description === '') {
        throw bad('gst: needs a launch description', 'e.g. `gst:nvv4l2camerasrc device=/dev/video0 ! nvvidconv ! video/x-raw,format=BGRx`');
      }
      return { kind: 'gst', id: `gst:${description}`, description };
    }
    default:
      if (s.startsWith('/dev/video')) return { kind: 'v4l2', id: `v4l2:${s}`, device: s };
      throw bad(`unknown source "${source}"`, suggest(s));
  }
}

function splitScheme(s: string): [string | undefined, string] {
  const m = /^([a-z0-9]+):(.*)$/is.exec(s);
  return m ? [m[1]!.toLowerCase(), m[2]!] : [undefined, s];
}

function suggest(s: string): string {
  if (/\.(avi|mp4|mkv|mov|webm|ogv|mjpe?g|ts)$/i.test(s)) return `did you mean \`file:${s}\`? Sources are ${FORMS}`;
  if (/\.(jpe?g|png)$/i.test(s)) return `for still images give their folder: \`images:${path.dirname(s)}\`. Sources are ${FORMS}`;
  return `sources are ${FORMS}`;
}

function bad(message: string, hint: string): CaptureError {
  return new CaptureError('BAD_SOURCE', message, { hint });
}

/** Validates a request; returns it with defaults applied. Throws CaptureError('BAD_SOURCE'). */
export function normalizeRequest(req: FrameRequest = {}): FrameRequest & { realtime: boolean; v4l2Formats: readonly V4l2Format[] } {
  const { width, height, fps } = req;
  if ((width === undefined) !== (height === undefined)) {
    throw bad('width and height must be given together', 'give both, e.g. width 640 and height 480, or neither to keep the source size');
  }
  for (const [name, v] of [['width', width], ['height', height]] as const) {
    if (v !== undefined && !(Number.isInteger(v) && v >= 2 && v <= 16384)) throw bad(`invalid ${name} ${v}`, 'a whole number of pixels, 2..16384');
  }
  if (fps !== undefined && !(Number.isFinite(fps) && fps > 0 && fps <= 1000)) throw bad(`invalid fps ${fps}`, 'a positive number of frames per second, at most 1000');
  const formats = req.v4l2Formats ?? DEFAULT_V4L2_FORMATS;
  if (formats.length === 0) throw bad('no camera formats to try', `choose from ${DEFAULT_V4L2_FORMATS.join(', ')}`);
  return { ...req, realtime: req.realtime ?? true, v4l2Formats: formats };
}

/**
 * Launch descriptions to try for a GStreamer-backed source, in order. A camera gets one per format
 * (first one that negotiates wins); the others get exactly one. `images:` is not GStreamer's.
 */
export function launchPlans(spec: SourceSpec, request: FrameRequest = {}): LaunchPlan[] {
  const req = normalizeRequest(request);
  const size = req.width !== undefined && req.height !== undefined ? `${req.width}x${req.height}` : 'native';
  const at = req.fps !== undefined ? `@${formatFps(req.fps)}` : '';

  switch (spec.kind) {
    case 'v4l2': {
      const src = `v4l2src device=${quote(spec.device)}`;
      const dims = dimsCaps(req);
      // A live camera is never synchronised against the clock: take each frame the moment it exists.
      return req.v4l2Formats.map((f) => {
        switch (f) {
          case 'mjpeg':
            return plan(`MJPEG ${size}${at}`, `${src} ! image/jpeg${dims} ! jpegdec`, req, { sync: false, drop: true }, true);
          case 'yuy2':
            return plan(`YUY2 ${size}${at}`, `${src} ! video/x-raw,format=YUY2${dims}`, req, { sync: false, drop: true }, true);
          case 'auto':
            return plan('camera default format', `${src} ! decodebin`, req, { sync: false, drop: true }, false);
        }
      });
    }
    case 'test': {
      // The pattern is generated at the requested size directly; is-live paces it like a camera.
      const dims = dimsCaps({ ...req, fps: req.fps ?? 30 });
      const caps = `video/x-raw${dims}`;
      return [plan(`test ${spec.pattern} ${size}${at || '@30'}`, `videotestsrc is-live=true pattern=${spec.pattern} ! ${caps}`, { ...req, width: undefined, height: undefined }, { sync: false, drop: true }, true)];
    }
    case 'file':
      return [plan(req.realtime ? 'file' : 'file (fast)', `filesrc location=${quote(spec.path)} ! decodebin`, req, recorded(req.realtime), false, paced(req))];
    case 'gst':
      return [plan('gst', spec.description, req, recorded(req.realtime), false, paced(req))];
    case 'images':
      throw new CaptureError('BAD_SOURCE', 'images: folders are decoded with sharp, not GStreamer', {
        hint: 'internal: use the image folder source for images:',
      });
  }
}

/**
 * Recorded media: synchronised to the clock at its own rate, newest frame wins. As fast as possible:
 * unsynchronised and lossless — the appsink holds one frame and blocks the decoder until it is pulled,
 * so an offline run sees every frame.
 */
function recorded(realtime: boolean): { sync: boolean; drop: boolean } {
  return realtime ? { sync: true, drop: true } : { sync: false, drop: false };
}

/** Pacing applies to recorded media played as fast as possible; a clock-synchronised or live source sets its own rate. */
const paced = (req: FrameRequest): boolean => req.paced === true && req.realtime === false;

function plan(label: string, head: string, req: FrameRequest, sink: { sync: boolean; drop: boolean }, reusable: boolean, isPaced = false): LaunchPlan {
  return { label, description: `${head} ! ${tail(req, sink)}`, ...sink, reusable, ...(isPaced && { paced: true }) };
}

/**
 * Scale first (in the source's own, usually smaller, YUV format), then convert to packed RGB.
 * add-borders + square pixels letterboxes instead of stretching: lesion shape is a diagnostic feature.
 * The borders are video-range black (RGB 16,16,16 from a full-range MJPEG source); converting to RGB
 * before scaling would make them 0 but costs ~4x the CPU of this order (measured 720p → 640×480).
 */
export function tail(req: FrameRequest, sink: { sync: boolean; drop: boolean }): string {
  const parts: string[] = [];
  if (req.width !== undefined && req.height !== undefined) {
    parts.push('videoscale add-borders=true', `video/x-raw,width=${req.width},height=${req.height},pixel-aspect-ratio=1/1`);
  }
  parts.push('videoconvert', 'video/x-raw,format=RGB');
  parts.push(`appsink name=${SINK_NAME} max-buffers=1 drop=${sink.drop} sync=${sink.sync} enable-last-sample=false`);
  return parts.join(' ! ');
}

function dimsCaps(req: FrameRequest): string {
  let s = '';
  if (req.width !== undefined && req.height !== undefined) s += `,width=${req.width},height=${req.height}`;
  if (req.fps !== undefined) s += `,framerate=${fpsFraction(req.fps)}`;
  return s;
}

/** 30 → "30/1", 7.5 → "15/2", 29.97 → "2997/100": GStreamer caps want an exact fraction. */
export function fpsFraction(fps: number): string {
  const den = 1000;
  const num = Math.round(fps * den);
  const g = gcd(num, den);
  return `${num / g}/${den / g}`;
}

function formatFps(fps: number): string {
  return Number.isInteger(fps) ? String(fps) : fps.toFixed(2);
}

function gcd(a: number, b: number): number {
  while (b) [a, b] = [b, a % b];
  return Math.abs(a) || 1;
}

/** Double-quotes a property value for gst_parse_launch (which unescapes backslashes inside quotes). */
export function quote(value: string): string {
  return `"${value.replace(/[\\"]/g, (c) => `\\${c}`)}"`;
}
