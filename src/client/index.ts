/** src/client: typed consumers of the dermstream MQTT contract. */
export {
  subscribeLesions,
  type LesionSubscription,
  type LesionSubscriptionOptions,
  type LesionSubscriptionStats,
  type LesionMeta,
  type InvalidLesion,
  type InvalidReason,
} from './subscribe_lesions.js';
export { topicOf, sharedTopicOf, parseTopic, DEFAULT_PREFIX, DEVICE_ID_RE, type DermstreamTopicKind } from './topics.js';
export type { LesionMessage, StatusMessage, SnapshotMessage, MetricsMessage } from '../publish/wire_message.js';
