/**
 * The lesion-message 1.1.0 fields the bridge reads (`episodeId`, `session`, `episode`, `model.operatingPoint`, state
 * `ended`), through the wire types of src/publish/wire_message.ts — the one home of the message's shape. All optional
 * there, because a 1.0.0 device sends none of them; the schema (schema/lesion-message.schema.json) validated them
 * before these accessors read them.
 */
import type { EpisodeMessage, LesionMessage, SessionContext } from '../publish/wire_message.js';
import type { ModelIdentity } from '../types/model_identity.js';

export type { SessionContext } from '../publish/wire_message.js';
/** The summary on an episode's one `ended` message. */
export type EpisodeSummary = EpisodeMessage;
export type OperatingPoint = NonNullable<ModelIdentity['operatingPoint']>;
/** Kept as a name for the bridge's readers: a lesion message, 1.0.0 or 1.1.0. */
export type EpisodeView = LesionMessage;

export function episodeIdOf(msg: LesionMessage): string | null {
  return msg.episode?.id ?? msg.episodeId ?? null;
}

export function isEnded(msg: LesionMessage): boolean {
  return msg.state === 'ended';
}

export function sessionOf(msg: LesionMessage): SessionContext {
  return msg.session ?? { patientRef: null, bodySite: null };
}

export function operatingPointOf(msg: LesionMessage): OperatingPoint | null {
  return msg.model.operatingPoint ?? null;
}

export function summaryOf(msg: LesionMessage): EpisodeSummary | null {
  return msg.episode ?? null;
}
