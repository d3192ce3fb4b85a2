/** src/bridge: lesion examinations (episodes) over MQTT → one FHIR R4 Observation each (NDJSON file, optional FHIR server). */
export { startBridge, defaultBridgeClientId, type Bridge, type BridgeOptions, type BridgeStats } from './bridge.js';
export {
  toObservation,
  observationRejection,
  observationIdOf,
  episodeIdOfObservation,
  statusOfObservation,
  subjectOf,
  EPISODE_ID_SYSTEM,
  DEVICE_ID_SYSTEM,
  FRAME_ID_SYSTEM,
  PATIENT_REF_SYSTEM,
  COMPONENT_SYSTEM,
  MODEL_EXTENSION_URL,
  FINDING_CODE,
  LABEL_CONCEPTS,
  NO_VERDICT,
  type ObservationOptions,
} from './observation.js';
export { episodeIdOf, isEnded, type EpisodeView, type EpisodeSummary, type SessionContext, type OperatingPoint } from './episode_message.js';
export { SnapshotCache } from './snapshot_cache.js';
export { validateObservation, warmObservationValidator, type ObservationCheck } from './validate_observation.js';
export { FhirSender, backoffDelay, parseRetryAfter, identifierQueryOf, type FhirSenderOptions, type FhirSenderStats, type FhirOutcome, type FhirWrite, type BridgeLogger } from './fhir_sender.js';
export { NdjsonSink, SinkLockedError, type NdjsonSinkInfo, type NdjsonSinkOptions } from './ndjson_sink.js';
export { EpisodeLedger, type EpisodeRecord, type EpisodeLedgerOptions } from './episode_ledger.js';
export { BoundedSet } from './bounded_set.js';
export { preliminaryDue, DEFAULT_TIMING, type PreliminaryTiming } from './preliminary_due.js';
export { brokerSpeaksMqtt5, planSubscription, type SubscriptionPlan } from './mqtt5_fallback.js';
