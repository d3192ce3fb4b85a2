/** src/bridge: stable lesion verdicts over MQTT → FHIR R4 Observations (NDJSON file, optional FHIR server). */
export { startBridge, defaultBridgeClientId, type Bridge, type BridgeOptions, type BridgeStats } from './bridge.js';
export {
  toObservation,
  observationRejection,
  messageIdOfObservation,
  MESSAGE_ID_SYSTEM,
  DEVICE_ID_SYSTEM,
  COMPONENT_SYSTEM,
  MODEL_EXTENSION_URL,
  FINDING_CODE,
  LABEL_CONCEPTS,
  type FhirObservation,
} from './observation.js';
export { validateObservation, FHIR_OBSERVATION_SCHEMA, type ObservationCheck } from './validate_observation.js';
export { FhirSender, backoffDelay, parseRetryAfter, ifNoneExistOf, type FhirSenderOptions, type FhirSenderStats, type FhirOutcome, type BridgeLogger } from './fhir_sender.js';
export { NdjsonSink, type NdjsonSinkInfo, type NdjsonSinkOptions } from './ndjson_sink.js';
export { ClaimStore, BoundedSet, type ClaimResult, type ClaimStoreOptions } from './claims.js';
