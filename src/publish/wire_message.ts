import type { BodySite, BoxPair, ClassProbabilities, Contour, EpisodeEndReason, LesionLabel, LesionState } from '../types/index.js';
import type { ModelIdentity } from '../types/model_identity.js';
export type { ModelIdentity } from '../types/model_identity.js';

/**
 * TypeScript mirrors of the JSON Schemas in `schema/`. The schemas are the contract (consumers such as the EHR
 * bridge validate against them with `validateLesionMessage` & co. from `src/publish/validate.ts`); these types must
 * follow them. Versioning: a minor version only adds optional fields (validate with the newest 1.x schema), a
 * breaking change bumps the major version and the schema id stays.
 */
export const LESION_SCHEMA_ID = 'https://dermstream.dev/schema/lesion-message.schema.json';
export const LESION_SCHEMA_VERSION = '1.1.0';
export const STATUS_SCHEMA_ID = 'https://dermstream.dev/schema/status-message.schema.json';
export const STATUS_SCHEMA_VERSION = '1.1.0';
export const METRICS_SCHEMA_ID = 'https://dermstream.dev/schema/metrics-message.schema.json';
export const METRICS_SCHEMA_VERSION = '1.1.0';
export const SNAPSHOT_SCHEMA_ID = 'https://dermstream.dev/schema/snapshot-message.schema.json';
export const SNAPSHOT_SCHEMA_VERSION = '1.0.0';
export const SESSION_SET_SCHEMA_ID = 'https://dermstream.dev/schema/session-set.schema.json';
export const SESSION_SET_SCHEMA_VERSION = '1.0.0';

export interface SchemaRef {
  id: string;
  version: string;
}

/** Examination context (1.1.0), carried on every lesion/live message; both null when unset. */
export interface SessionContext {
  patientRef: string | null;
  bodySite: BodySite | null;
}

/** Payload of the retained `<prefix>/<deviceId>/session/set` command (schema/session-set.schema.json). */
export interface SessionSetMessage extends SessionContext {
  schema: SchemaRef;
}

/** The summary on the one `ended` message of an episode (1.1.0). */
export interface EpisodeMessage {
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

export type LesionMessageKind = 'lesion' | 'live';

/** The messages on `<prefix>/<deviceId>/lesion` and `<prefix>/<deviceId>/live`. */
export interface LesionMessage {
  schema: SchemaRef;
  /**
   * Stable id for de-duplication: `<deviceId>:<sessionId>:<kind>:<seq>`. The same message replayed or re-sent
   * keeps its id (and every other byte of its payload).
   */
  messageId: string;
  kind: LesionMessageKind;
  deviceId: string;
  sessionId: string;
  /** Per-session, per-kind counter from 0, strictly increasing. */
  seq: number;
  state: LesionState;
  label: LesionLabel | null;
  probabilities: ClassProbabilities | null;
  /** Standard deviation of each probability over the debounce window. */
  spread: ClassProbabilities | null;
  agreement: { agreeing: number; window: number };
  trackId: number | null;
  /** `<deviceId>:<sessionId>:ep<n>`, null while no episode is open (1.1.0; absent in 1.0.0 messages). */
  episodeId?: string | null;
  /** 1.1.0; absent in 1.0.0 messages. */
  session?: SessionContext;
  /** Only on `state: "ended"` (1.1.0). */
  episode?: EpisodeMessage | null;
  box: BoxPair | null;
  contours: Contour[];
  /** `capturedAt` is the wall clock as ISO-8601, `capturedAtMs` the same in ms since the epoch. */
  frame: { seq: number; width: number; height: number; capturedAt: string; capturedAtMs: number };
  /** ISO-8601 time the message was built for sending (first attempt; a replay keeps it). */
  publishedAt: string;
  /** Capture to event on the monotonic clock. */
  latencyMs: number;
  timings: { preprocessMs: number; inferMs: number; postprocessMs: number };
  model: ModelIdentity;
}

export type DeviceState = 'online' | 'offline' | 'degraded';

/** Retained on `<prefix>/<deviceId>/status`; the last will sets `offline`. */
export interface StatusMessage {
  schema: SchemaRef;
  deviceId: string;
  sessionId: string;
  state: DeviceState;
  /** Free text, e.g. `camera unplugged, reopening in 4 s`. */
  reason?: string;
  camera?: 'ok' | 'reopening' | 'failed';
  /** Since 1.1.0: set-up problems to fix (certificate checks off, topic denied by the broker ACL). */
  warnings?: string[];
  model?: ModelIdentity;
  /** True on the last-will payload (then `at` is when the will was registered, i.e. the connect time). */
  lastWill?: boolean;
  /** MQTT protocol level the device is connected with. */
  protocolVersion?: 4 | 5;
  at: string;
}

export interface PerTopicCounts {
  lesion: number;
  live: number;
  snapshot: number;
  status: number;
  metrics: number;
}

export interface OutboxMetrics {
  /** Lesion messages waiting for a PUBACK (on disk). */
  depth: number;
  bytes: number;
  inFlight: number;
  appended: number;
  acked: number;
  /** Unacknowledged messages found on disk at start. */
  recovered: number;
  /** Recovered messages sent after the restart. */
  replayed: number;
  /** Sends after a publish error. */
  retried: number;
  dropped: { size: number; age: number };
  /** Corrupt or torn records skipped while reading the outbox. */
  torn: number;
  segments: number;
  appendLatencyMs: { last: number; max: number; mean: number };
}

export interface PublisherMetrics {
  connected: boolean;
  protocolVersion: 4 | 5 | null;
  connects: number;
  disconnects: number;
  /** Since 1.1.0: connection attempts refused for the credentials. */
  refused?: number;
  /** Since 1.1.0: lesion messages refused by the broker's ACL (PUBACK 135); they stay in the outbox. */
  denied?: number;
  /** Messages handed to the broker (lesion: PUBACKed). */
  published: PerTopicCounts;
  /** live/snapshot/metrics not sent because offline or busy; lesion drops are in `outbox.dropped`. */
  dropped: PerTopicCounts;
  /** Messages that failed their schema (they are sent anyway). */
  invalid: number;
  outbox: OutboxMetrics;
}

export type MetricValue = number | string | boolean | null;

/** Periodic, on `<prefix>/<deviceId>/metrics`. */
export interface MetricsMessage {
  schema: SchemaRef;
  deviceId: string;
  sessionId: string;
  at: string;
  publisher: PublisherMetrics;
  /** Free-form values from the rest of the service (pipeline stage timings, capture fps, ...). */
  service?: Record<string, MetricValue | Record<string, MetricValue>>;
}

/** On `<prefix>/<deviceId>/snapshot`: a JSON envelope around a base64 JPEG thumbnail. */
export interface SnapshotMessage {
  schema: SchemaRef;
  kind: 'snapshot';
  deviceId: string;
  sessionId: string;
  seq: number;
  /** The full-resolution frame the thumbnail was made from: the coordinate space of boxes and contours. */
  frame: { seq: number; width: number; height: number; capturedAt: string };
  image: { mime: 'image/jpeg'; width: number; height: number; data: string };
  publishedAt: string;
}
