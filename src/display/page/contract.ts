/**
 * Browser side: the lesion-message 1.1.0 fields the display reads and the `session/set` command it publishes. The
 * shapes are the wire types of src/publish/wire_message.ts (type-only imports, erased in the page build); 1.0.0
 * messages simply lack the optional fields. The two schema constants are repeated here because the page server
 * serves only /page/ and /types/body_sites.js to the browser; test/display checks payloads against the schema.
 */
import type { EpisodeEndReason } from '../../types/episode.js';
import type { ModelIdentity } from '../../types/model_identity.js';
import type { EpisodeMessage, LesionMessage, SessionContext as WireSessionContext } from '../../publish/wire_message.js';

export const SESSION_SET_SCHEMA_ID = 'https://dermstream.dev/schema/session-set.schema.json';
export const SESSION_SET_SCHEMA_VERSION = '1.0.0';

export type SessionContext = WireSessionContext;
export type EndReason = EpisodeEndReason;
export type EpisodeSummary = EpisodeMessage;
export type OperatingPointOnWire = NonNullable<ModelIdentity['operatingPoint']>;

/** A lesion/live message as the display reads it: 1.0.0, or 1.1.0 with episodes, session and operating point. */
export type LesionMessageView = LesionMessage;

/** The retained payload of `<prefix>/<deviceId>/session/set`. */
export interface SessionSetCommand extends SessionContext {
  schema: { id: typeof SESSION_SET_SCHEMA_ID; version: typeof SESSION_SET_SCHEMA_VERSION };
}
