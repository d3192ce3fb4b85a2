/** Topic names of the dermstream wire contract (`<prefix>/<deviceId>/<kind>`) and their parsing: the one place they are built (publisher, subscribers, bridge, doctor). Pure. */

export type DermstreamTopicKind = 'status' | 'lesion' | 'live' | 'snapshot' | 'metrics';

export const DEFAULT_PREFIX = 'dermstream';

/** Topic levels the contract allows for device ids (the publisher enforces the same pattern). */
export const DEVICE_ID_RE = /^[A-Za-z0-9._-]{1,64}$/;

/** A share-group name is one topic level without wildcards (MQTT 5 §4.8.2). */
export const SHARE_GROUP_RE = /^[^/+#]{1,64}$/;

/** `<prefix>/<deviceId>/<kind>`; `deviceId` may be `+` for every device. */
export function topicOf(prefix: string, deviceId: string, kind: DermstreamTopicKind): string {
  if (prefix.length === 0 || /[+#]/.test(prefix)) throw new Error(`topic prefix must be non-empty and without wildcards: ${JSON.stringify(prefix)}`);
  if (deviceId !== '+' && !DEVICE_ID_RE.test(deviceId)) throw new Error(`deviceId must match ${DEVICE_ID_RE} or be '+': ${JSON.stringify(deviceId)}`);
  return `${prefix}/${deviceId}/${kind}`;
}

/** `$share/<group>/<filter>`: the broker hands each message to one member of the group. */
export function sharedTopicOf(group: string, filter: string): string {
  if (!SHARE_GROUP_RE.test(group)) throw new Error(`share group must be one topic level without wildcards: ${JSON.stringify(group)}`);
  return `$share/${group}/${filter}`;
}

/** The device id and kind of a concrete topic under `prefix`, or null when it is not one of ours. */
export function parseTopic(prefix: string, topic: string): { deviceId: string; kind: DermstreamTopicKind } | null {
  if (!topic.startsWith(`${prefix}/`)) return null;
  const rest = topic.slice(prefix.length + 1).split('/');
  if (rest.length !== 2) return null;
  const [deviceId, kind] = rest as [string, string];
  if (!DEVICE_ID_RE.test(deviceId)) return null;
  if (kind !== 'status' && kind !== 'lesion' && kind !== 'live' && kind !== 'snapshot' && kind !== 'metrics') return null;
  return { deviceId, kind };
}

/** Every topic one device publishes on. */
export function deviceTopics(prefix: string, deviceId: string): Record<DermstreamTopicKind, string> {
  return {
    status: topicOf(prefix, deviceId, 'status'),
    lesion: topicOf(prefix, deviceId, 'lesion'),
    live: topicOf(prefix, deviceId, 'live'),
    snapshot: topicOf(prefix, deviceId, 'snapshot'),
    metrics: topicOf(prefix, deviceId, 'metrics'),
  };
}

/** The retained examination-context command the device subscribes to: `<prefix>/<deviceId>/session/set`. */
export function sessionSetTopicOf(prefix: string, deviceId: string): string {
  return `${topicOf(prefix, deviceId, 'status').slice(0, -'status'.length)}session/set`;
}

/** `doctor`'s non-retained probe: beside the device's topics, never on its retained `status`. */
export function doctorProbeTopic(prefix: string, deviceId: string): string {
  return `${topicOf(prefix, deviceId, 'status').slice(0, -'status'.length)}doctor`;
}
