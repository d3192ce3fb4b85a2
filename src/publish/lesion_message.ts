/** Pure builders: LesionEvent (pipeline output) → wire messages. No clocks or I/O inside; the caller passes them. */
import type { EpisodeSummary, LesionEvent } from '../types/index.js';
import {
  LESION_SCHEMA_ID,
  LESION_SCHEMA_VERSION,
  STATUS_SCHEMA_ID,
  STATUS_SCHEMA_VERSION,
  type DeviceState,
  type EpisodeMessage,
  type LesionMessage,
  type LesionMessageKind,
  type ModelIdentity,
  type SessionContext,
  type StatusMessage,
} from './wire_message.js';

export interface LesionMessageContext {
  kind: LesionMessageKind;
  deviceId: string;
  sessionId: string;
  /** Per-session, per-kind sequence number. */
  seq: number;
  model: ModelIdentity;
  /** Wall-clock ms since the epoch when the message is built. */
  publishedAtMs: number;
  /** Examination context in force (session/set); default: none set. */
  session?: SessionContext;
}

export const NO_SESSION: SessionContext = Object.freeze({ patientRef: null, bodySite: null }) as SessionContext;

/** `<deviceId>:<sessionId>:ep<n>`: the episode's id, unique per device and session, the EHR's key. */
export function episodeIdOf(deviceId: string, sessionId: string, index: number): string {
  return `${deviceId}:${sessionId}:ep${index}`;
}

function episodeMessage(e: EpisodeSummary, id: string): EpisodeMessage {
  const p = (v: { benign: number; malignant: number } | null) => (v ? { benign: v.benign, malignant: v.malignant } : null);
  return {
    id,
    startedAt: isoOf(e.startedAtMs),
    endedAt: isoOf(e.endedAtMs),
    durationMs: ms1(e.durationMs),
    endReason: e.endReason,
    verdict: e.verdict,
    meanProbabilities: p(e.meanProbabilities),
    spread: p(e.spread),
    agreement: { agreeing: e.agreement.agreeing, frames: e.agreement.frames },
    framesSeen: e.framesSeen,
    bestFrameSeq: e.bestFrameSeq,
  };
}

/** `<deviceId>:<sessionId>:<kind>:<seq>`: the de-duplication key consumers use. */
export function messageIdOf(deviceId: string, sessionId: string, kind: LesionMessageKind, seq: number): string {
  return `${deviceId}:${sessionId}:${kind}:${seq}`;
}

const isoOf = (ms: number): string => new Date(ms).toISOString();

/** Rounds to 0.1 ms: sub-microsecond digits are noise and cost bytes at 10 Hz. */
const ms1 = (v: number): number => Math.max(0, Math.round(v * 10) / 10);

export function toLesionMessage(event: LesionEvent, ctx: LesionMessageContext): LesionMessage {
  const f = event.frame;
  const index = event.episode?.index ?? event.episodeIndex ?? null;
  const episodeId = index === null ? null : episodeIdOf(ctx.deviceId, ctx.sessionId, index);
  const session = ctx.session ?? NO_SESSION;
  return {
    schema: { id: LESION_SCHEMA_ID, version: LESION_SCHEMA_VERSION },
    messageId: messageIdOf(ctx.deviceId, ctx.sessionId, ctx.kind, ctx.seq),
    kind: ctx.kind,
    deviceId: ctx.deviceId,
    sessionId: ctx.sessionId,
    seq: ctx.seq,
    state: event.state,
    label: event.label,
    probabilities: event.probabilities ? { benign: event.probabilities.benign, malignant: event.probabilities.malignant } : null,
    spread: event.spread ? { benign: event.spread.benign, malignant: event.spread.malignant } : null,
    agreement: { agreeing: event.agreement.agreeing, window: event.agreement.window },
    trackId: event.trackId,
    episodeId,
    session: { patientRef: session.patientRef, bodySite: session.bodySite ? { ...session.bodySite } : null },
    episode: event.state === 'ended' && event.episode && episodeId ? episodeMessage(event.episode, episodeId) : null,
    box: event.box
      ? { pixels: [...event.box.pixels] as typeof event.box.pixels, normalized: [...event.box.normalized] as typeof event.box.normalized }
      : null,
    contours: event.contours.map((c) => ({ pixels: c.pixels, normalized: c.normalized })),
    frame: {
      seq: f.seq,
      width: f.width,
      height: f.height,
      capturedAt: isoOf(f.capturedAt.wallMs),
      capturedAtMs: f.capturedAt.wallMs,
    },
    publishedAt: isoOf(ctx.publishedAtMs),
    latencyMs: ms1(event.timings.latencyMs),
    timings: {
      preprocessMs: ms1(event.timings.preprocessMs),
      inferMs: ms1(event.timings.inferMs),
      postprocessMs: ms1(event.timings.postprocessMs),
    },
    model: ctx.model.operatingPoint ? { ...ctx.model, operatingPoint: { ...ctx.model.operatingPoint } } : { ...ctx.model },
  };
}

export interface StatusContext {
  deviceId: string;
  sessionId: string;
  atMs: number;
  protocolVersion?: 4 | 5;
}

export interface StatusFields {
  state: DeviceState;
  reason?: string;
  camera?: StatusMessage['camera'];
  warnings?: string[];
  model?: ModelIdentity;
  lastWill?: boolean;
}

export function toStatusMessage(fields: StatusFields, ctx: StatusContext): StatusMessage {
  const msg: StatusMessage = {
    schema: { id: STATUS_SCHEMA_ID, version: STATUS_SCHEMA_VERSION },
    deviceId: ctx.deviceId,
    sessionId: ctx.sessionId,
    state: fields.state,
    at: isoOf(ctx.atMs),
  };
  if (fields.reason !== undefined) msg.reason = fields.reason;
  if (fields.camera !== undefined) msg.camera = fields.camera;
  if (fields.warnings !== undefined && fields.warnings.length > 0) msg.warnings = fields.warnings.slice(0, 16);
  if (fields.model !== undefined) msg.model = { ...fields.model };
  if (fields.lastWill !== undefined) msg.lastWill = fields.lastWill;
  if (ctx.protocolVersion !== undefined) msg.protocolVersion = ctx.protocolVersion;
  return msg;
}
