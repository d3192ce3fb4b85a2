/**
 * What happens to a capture source over its life, for the service to log, publish as status and count
 * in metrics. Every event carries the source id, when it happened and how many times the source has been
 * re-opened so far, so a consumer can keep the latest event as the source's state.
 */
import type { CaptureTime } from '../types/frame.js';
import type { CaptureErrorCode } from './errors.js';

interface EventBase {
  source: string;
  at: CaptureTime;
  /** Re-opens of this source so far (restarts after error, stall or unexpected end). */
  restarts: number;
}

/** JSON-friendly error summary (the CaptureError itself is on `error.cause` when needed). */
export interface CaptureEventError {
  code: CaptureErrorCode;
  message: string;
  hint?: string;
  element?: string;
}

export type CaptureEvent =
  | (EventBase & { type: 'opening'; attempt: number; plan: string })
  | (EventBase & { type: 'opened'; attempt: number; plan: string })
  | (EventBase & { type: 'first-frame'; width: number; height: number; fps?: number; openMs: number })
  /** The frame size changed mid-stream (e.g. an image folder of mixed sizes, or a renegotiated camera). */
  | (EventBase & { type: 'resized'; width: number; height: number })
  | (EventBase & { type: 'stalled'; sinceMs: number; timeoutMs: number })
  /** A still that could not be decoded (truncated, not an image, too large) was skipped; `skipped` counts them. */
  | (EventBase & { type: 'skipped'; file: string; reason: string; skipped: number })
  | (EventBase & { type: 'error'; error: CaptureEventError; willRetry: boolean })
  /** A camera format did not negotiate; the next one in the fallback order is tried at once. */
  | (EventBase & { type: 'fallback'; from: string; to: string; reason: string })
  | (EventBase & { type: 'reopening'; inMs: number; failures: number })
  /** `truncated`: the file is shorter than its container says (a cut recording), so it ended early. */
  | (EventBase & { type: 'eos'; frames: number; action: 'complete' | 'loop' | 'reopen'; truncated?: string })
  | (EventBase & { type: 'closed'; reason: 'unsubscribed' | 'completed' | 'failed'; frames: number });

export type CaptureEventType = CaptureEvent['type'];
