/**
 * Browser side, types and constants only: the lesion-message fields of schema 1.1.0 (issue 8 contract) the display
 * reads, and the `session/set` command it publishes. Written against the contract while the publisher side lands in
 * parallel; every field is optional here so that 1.0.0 messages (no episodes, no operating point) still display.
 * TODO(merge): once src/publish/wire_message.ts carries these fields, import them from there instead.
 */
import type { LesionLabel } from '../../types/index.js';
import type { BodySite } from '../../types/body_sites.js';
import type { LesionMessage } from '../../publish/wire_message.js';

export const SESSION_SET_SCHEMA_ID = 'https://dermstream.dev/schema/session-set.schema.json';
export const SESSION_SET_SCHEMA_VERSION = '1.0.0';

export interface SessionContext {
  patientRef: string | null;
  bodySite: BodySite | null;
}

export type EndReason = 'lifted' | 'new-lesion' | 'lost' | 'source-ended' | 'shutdown';

export interface EpisodeSummary {
  id: string;
  startedAt: string;
  endedAt: string;
  durationMs: number;
  endReason: EndReason;
  verdict: LesionLabel | null;
  meanProbabilities: { benign: number; malignant: number } | null;
  spread: { benign: number; malignant: number } | null;
  agreement: { agreeing: number; frames: number };
  framesSeen: number;
  bestFrameSeq: number | null;
}

export interface OperatingPointOnWire {
  threshold: number;
  margin: number;
  source: 'model' | 'config';
}

/** A lesion/live message as the display reads it: 1.0.0, or 1.1.0 with episodes, session and operating point. */
export type LesionMessageView = Omit<LesionMessage, 'state' | 'model'> & {
  state: LesionMessage['state'] | 'ended';
  model: LesionMessage['model'] & { operatingPoint?: OperatingPointOnWire };
  episodeId?: string | null;
  session?: SessionContext;
  episode?: EpisodeSummary | null;
};

/** The retained payload of `<prefix>/<deviceId>/session/set`. */
export interface SessionSetCommand extends SessionContext {
  schema: { id: typeof SESSION_SET_SCHEMA_ID; version: typeof SESSION_SET_SCHEMA_VERSION };
}
