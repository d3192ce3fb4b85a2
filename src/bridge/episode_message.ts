/**
 * The lesion-message 1.1.0 fields the bridge reads (CONTRACT-8: `episodeId`, `session`, `episode`,
 * `model.operatingPoint`, state `ended`), as the bridge sees them: optional, because a 1.0.0 device sends none of
 * them. The schema (schema/lesion-message.schema.json) is the contract; these accessors only read what it validated.
 *
 * Why a local view instead of the fields on `LesionMessage`: the schema and `wire_message.ts` are owned by the device
 * side; keeping the bridge's reading in one place means the merge only has to make `EpisodeView` agree with them.
 */
import type { LesionMessage } from '../publish/wire_message.js';
import type { ClassProbabilities, LesionLabel } from '../types/index.js';

export interface SnomedCoding {
  system: 'http://snomed.info/sct';
  code: string;
  display: string;
}

export interface SessionContext {
  patientRef: string | null;
  bodySite: SnomedCoding | null;
}

export type EpisodeEndReason = 'lifted' | 'new-lesion' | 'lost' | 'source-ended' | 'shutdown';

export interface EpisodeSummary {
  id: string;
  startedAt: string;
  endedAt: string;
  durationMs: number;
  endReason: EpisodeEndReason;
  verdict: LesionLabel | null;
  meanProbabilities: ClassProbabilities | null;
  spread: ClassProbabilities | null;
  agreement: { agreeing: number; frames: number };
  framesSeen: number;
  bestFrameSeq: number | null;
}

export interface OperatingPoint {
  threshold: number;
  margin: number;
  source: 'model' | 'config';
}

/** A lesion message with the 1.1.0 fields the bridge reads (all optional: 1.0.0 devices send none). */
export type EpisodeView = LesionMessage & {
  episodeId?: string | null;
  session?: SessionContext | null;
  episode?: EpisodeSummary | null;
  model: LesionMessage['model'] & { operatingPoint?: OperatingPoint };
};

export function episodeIdOf(msg: LesionMessage): string | null {
  const v = msg as EpisodeView;
  return v.episode?.id ?? v.episodeId ?? null;
}

export function isEnded(msg: LesionMessage): boolean {
  return (msg.state as string) === 'ended';
}

export function sessionOf(msg: LesionMessage): SessionContext {
  return (msg as EpisodeView).session ?? { patientRef: null, bodySite: null };
}

export function operatingPointOf(msg: LesionMessage): OperatingPoint | null {
  return (msg as EpisodeView).model.operatingPoint ?? null;
}

export function summaryOf(msg: LesionMessage): EpisodeSummary | null {
  return (msg as EpisodeView).episode ?? null;
}
