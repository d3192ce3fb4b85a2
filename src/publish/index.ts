/** src/publish: message schemas and validators, the MQTT publisher with its durable outbox, the embedded broker. */
export * from './wire_message.js';
export { validateLesionMessage, validateStatusMessage, validateMetricsMessage, validateSnapshotMessage, validateSessionSetMessage, isLesionMessage, SCHEMAS, type ValidationResult } from './validate.js';
export { toLesionMessage, toStatusMessage, messageIdOf, episodeIdOf, NO_SESSION, type LesionMessageContext, type StatusContext, type StatusFields } from './lesion_message.js';
export { shouldPublishLesion, publishedLesionOf, DEFAULT_LESION_POLICY, type LesionPolicyParams, type LesionDecision, type LesionPublishReason, type PublishedLesion } from './lesion_policy.js';
export { RateGate } from './rate_gate.js';
export { Outbox, parseSegment, type OutboxOptions, type OutboxRecord, type OutboxStats, type OutboxDurability, type DropReason } from './outbox.js';
export { makeThumbnail, toSnapshotMessage, type Thumbnail } from './snapshot.js';
export { startEmbeddedBroker, type EmbeddedBroker, type EmbeddedBrokerOptions } from './embedded_broker.js';
export {
  createPublisher,
  type Publisher,
  type PublisherOptions,
  type PublisherStats,
  type PublishEventResult,
  type ConnectionInfo,
  type ConnectionState,
  type PublishLogger,
} from './publisher.js';
export type { DeliveryProblem } from './connection.js';
export { buildMqttConnect, redactUrl, MqttSettingsError, DEFAULT_KEYS as MQTT_SETTING_KEYS, type MqttConnect, type MqttConnectSettings, type MqttTlsSettings } from './connect_options.js';
export { pemProblem, type PemKind } from './pem.js';
export { parseSessionSet, toSessionSetMessage, type SessionSetResult } from './session_set.js';
