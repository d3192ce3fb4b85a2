/**
 * One open attempt of a source, GStreamer or still images alike: it reports frames, its end and its
 * failure to the supervisor, which decides about re-opening, looping and stall timeouts.
 */
import type { CaptureTime } from '../types/frame.js';
import type { CaptureError } from './errors.js';

export interface RawFrame {
  /** Packed RGB, width*height*3 bytes, the whole of its own ArrayBuffer (transferable to a worker). */
  data: Uint8Array;
  width: number;
  height: number;
  /** Nominal rate from the caps (or the image folder's fps), when known. */
  fps?: number;
  at: CaptureTime;
}

export interface SessionHandlers {
  /** The source is open and should now produce frames. */
  opened(): void;
  frame(frame: RawFrame): void;
  /** Every frame has been delivered and no more will come (unless rewound). */
  eos(): void;
  /** One input (a still of an images: folder) could not be used and was skipped; the session goes on. */
  skipped?(file: string, reason: string): void;
  /** The session failed and has already released its resources. Called at most once. */
  error(err: CaptureError): void;
}

export interface CaptureSession {
  /** After eos(): start again from the first frame. False when the source cannot (re-open it instead). */
  rewind(): boolean;
  /** Releases everything; no handler is called afterwards. Idempotent. */
  stop(): void;
  /** A paced session (LaunchPlan.paced) may deliver `n` more frames. Absent or a no-op for the others. */
  demand?(n: number): void;
}

/** Frames a paced session delivers before the consumer's first credit: the first frame, to start on. */
export const PACED_PREFETCH = 1;

export function captureTime(): CaptureTime {
  return { monoMs: performance.now(), wallMs: Date.now() };
}
