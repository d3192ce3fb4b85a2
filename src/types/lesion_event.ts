import type { Box, ClassProbabilities } from './detection.js';
import type { EpisodeSummary } from './episode.js';
import type { FrameInfo } from './frame.js';

/** `ended` is the one event that closes an episode (it carries `episode`). */
export type LesionState = 'searching' | 'tracking' | 'stable' | 'indeterminate' | 'lost' | 'ended';
export type LesionLabel = 'benign' | 'malignant';

/** A polygon as a flat list of points. */
export type Point = [number, number];

export interface Contour {
  /** Points in frame pixels. */
  pixels: Point[];
  /** Same points divided by frame width/height, in [0, 1]. */
  normalized: Point[];
}

export interface BoxPair {
  pixels: Box;
  normalized: Box;
}

/** Per-class spread (standard deviation) of the probability over the debounce window. */
export type ProbabilitySpread = ClassProbabilities;

/** The debounced state of the lesion in view, one per processed frame. */
export interface LesionEvent {
  state: LesionState;
  /** The stable (hysteresis-held) label, or the leading label while not yet stable; null when nothing is tracked. */
  label: LesionLabel | null;
  probabilities: ClassProbabilities | null;
  spread: ProbabilitySpread | null;
  box: BoxPair | null;
  contours: Contour[];
  /** Frames in the window whose per-frame label agrees with `label`, and the window size. */
  agreement: { agreeing: number; window: number };
  /** Track id; changes when the lesion jumps (a new lesion). */
  trackId: number | null;
  frame: FrameInfo;
  timings: {
    preprocessMs: number;
    inferMs: number;
    postprocessMs: number;
    /** Capture to the moment the event was built (monotonic clock). */
    latencyMs: number;
  };
  /** True when the state or label differs from the previous event. */
  changed: boolean;
  /**
   * The episode (examination of one lesion) this event belongs to: its index per pipeline run, null while none
   * is open. Optional so producers of 1.0 events still type-check; the pipeline always sets it.
   */
  episodeIndex?: number | null;
  /** Only on the `ended` event: the summary of the episode it closes. */
  episode?: EpisodeSummary | null;
}
