/** Valid wire messages for consumer tests (bridge, client, display), built like the publisher builds them. */
import { toLesionMessage, toStatusMessage } from '../../../src/publish/lesion_message.js';
import type { LesionMessage, ModelIdentity, StatusMessage } from '../../../src/publish/wire_message.js';
import type { Contour, LesionEvent, LesionLabel, LesionState, Point } from '../../../src/types/index.js';

export const MODEL: ModelIdentity = { name: 'dermnet-mrcnn', version: '0.3.1', sha256: 'ab'.repeat(32), quantization: 'uint8', backend: 'wasm' };

export interface LesionSpec {
  seq?: number;
  frameSeq?: number;
  state?: LesionState;
  label?: LesionLabel | null;
  deviceId?: string;
  sessionId?: string;
  kind?: 'lesion' | 'live';
  width?: number;
  height?: number;
  /** Polygon in frame pixels (normalised coordinates are derived). */
  contour?: Point[];
  box?: [number, number, number, number];
  probabilities?: { benign: number; malignant: number };
  capturedAtMs?: number;
  publishedAtMs?: number;
  latencyMs?: number;
}

export const DEFAULT_CONTOUR: Point[] = [
  [200, 120],
  [440, 130],
  [420, 360],
  [220, 340],
];

export function lesionMessage(spec: LesionSpec = {}): LesionMessage {
  const state = spec.state ?? 'stable';
  const tracked = state === 'tracking' || state === 'stable' || state === 'indeterminate';
  const width = spec.width ?? 640;
  const height = spec.height ?? 480;
  const seq = spec.seq ?? 0;
  const frameSeq = spec.frameSeq ?? seq * 3;
  const label = spec.label !== undefined ? spec.label : tracked ? 'malignant' : null;
  const poly = spec.contour ?? DEFAULT_CONTOUR;
  const contours: Contour[] = tracked
    ? [{ pixels: poly.map(([x, y]) => [x, y] as Point), normalized: poly.map(([x, y]) => [x / width, y / height] as Point) }]
    : [];
  const b = spec.box ?? [
    Math.min(...poly.map((p) => p[0])),
    Math.min(...poly.map((p) => p[1])),
    Math.max(...poly.map((p) => p[0])) + 1,
    Math.max(...poly.map((p) => p[1])) + 1,
  ];
  const capturedAtMs = spec.capturedAtMs ?? 1_760_000_000_000 + frameSeq * 33;
  const probs = spec.probabilities ?? (label === 'benign' ? { benign: 0.86, malignant: 0.14 } : { benign: 0.22, malignant: 0.78 });
  const event: LesionEvent = {
    state,
    label,
    probabilities: tracked ? probs : null,
    spread: tracked ? { benign: 0.04, malignant: 0.04 } : null,
    box: tracked ? { pixels: b, normalized: [b[0] / width, b[1] / height, b[2] / width, b[3] / height] } : null,
    contours,
    agreement: { agreeing: tracked ? 13 : 0, window: 15 },
    trackId: tracked ? 1 : null,
    frame: { seq: frameSeq, capturedAt: { monoMs: 1000 + frameSeq * 33, wallMs: capturedAtMs }, width, height, source: 'test' },
    timings: { preprocessMs: 2.1, inferMs: 40.5, postprocessMs: 3.2, latencyMs: spec.latencyMs ?? 48.7 },
    changed: true,
  };
  return toLesionMessage(event, {
    kind: spec.kind ?? 'lesion',
    deviceId: spec.deviceId ?? 'derm-01',
    sessionId: spec.sessionId ?? 's1',
    seq,
    model: MODEL,
    publishedAtMs: spec.publishedAtMs ?? capturedAtMs + 60,
  });
}

export function statusMessage(state: 'online' | 'offline' | 'degraded', opts: { deviceId?: string; sessionId?: string; lastWill?: boolean; reason?: string; atMs?: number } = {}): StatusMessage {
  return toStatusMessage(
    { state, ...(opts.lastWill !== undefined ? { lastWill: opts.lastWill } : {}), ...(opts.reason ? { reason: opts.reason } : {}), model: MODEL, camera: 'ok' },
    { deviceId: opts.deviceId ?? 'derm-01', sessionId: opts.sessionId ?? 's1', atMs: opts.atMs ?? Date.now(), protocolVersion: 5 },
  );
}
