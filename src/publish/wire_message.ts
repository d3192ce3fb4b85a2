import type { BoxPair, ClassProbabilities, Contour, LesionLabel, LesionState } from '../types/index.js';

/**
 * The messages on `<prefix>/<deviceId>/lesion` and `<prefix>/<deviceId>/live`. The JSON Schema in
 * `schema/lesion-message.schema.json` is the contract; this type mirrors it for TypeScript producers and consumers.
 */
export const LESION_SCHEMA_ID = 'https://dermstream.dev/schema/lesion-message.schema.json';
export const LESION_SCHEMA_VERSION = '1.0.0';

export interface ModelIdentity {
  name: string;
  version: string;
  /** SHA-256 over the weight shards, as in the model manifest. */
  sha256: string;
  quantization: 'float32' | 'float16' | 'uint8';
  backend: string;
}

export interface LesionMessage {
  schema: { id: string; version: string };
  /** Stable id for de-duplication: `<deviceId>:<sessionId>:<seq>`. The same message replayed keeps its id. */
  messageId: string;
  kind: 'lesion' | 'live';
  deviceId: string;
  sessionId: string;
  /** Per-session, per-kind counter, strictly increasing. */
  seq: number;
  state: LesionState;
  label: LesionLabel | null;
  probabilities: ClassProbabilities | null;
  /** Standard deviation of each probability over the debounce window. */
  spread: ClassProbabilities | null;
  agreement: { agreeing: number; window: number };
  trackId: number | null;
  box: BoxPair | null;
  contours: Contour[];
  frame: { seq: number; width: number; height: number; capturedAt: string; capturedAtMs: number };
  /** ISO-8601 time of publishing (first attempt; a replay keeps it). */
  publishedAt: string;
  latencyMs: number;
  timings: { preprocessMs: number; inferMs: number; postprocessMs: number };
  model: ModelIdentity;
}

export interface StatusMessage {
  deviceId: string;
  sessionId: string;
  state: 'online' | 'offline' | 'degraded';
  /** Free text, e.g. `camera unplugged, reopening in 4 s`. */
  reason?: string;
  camera?: 'ok' | 'reopening' | 'failed';
  model?: ModelIdentity;
  at: string;
}
