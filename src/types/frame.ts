/** One RGB video frame as it leaves capture. Pixels are packed RGB, row-major, no padding. */
export interface Frame {
  /** Monotonic per source session, starting at 0; gaps mean frames were dropped upstream. */
  seq: number;
  capturedAt: CaptureTime;
  width: number;
  height: number;
  format: 'RGB';
  data: Uint8Array;
  /** Human-readable source id, e.g. `v4l2:/dev/video0`, `file:/x.avi`, `test`. */
  source: string;
}

/**
 * Monotonic milliseconds (`performance.now()`-based, for latency arithmetic that survives clock steps)
 * together with wall-clock milliseconds since the epoch (for the record).
 */
export interface CaptureTime {
  monoMs: number;
  wallMs: number;
}

/** Frame metadata without pixels: what travels downstream once inference has consumed the pixels. */
export type FrameInfo = Pick<Frame, 'seq' | 'capturedAt' | 'width' | 'height' | 'source'>;

export function frameInfo(frame: Frame): FrameInfo {
  return {
    seq: frame.seq,
    capturedAt: frame.capturedAt,
    width: frame.width,
    height: frame.height,
    source: frame.source,
  };
}
