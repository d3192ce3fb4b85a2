/**
 * Which devices are offline, from their retained status topic (`<prefix>/+/status`, set `offline` by the device's
 * last will), and their recent snapshots (`<prefix>/+/snapshot`, for the best frame of an episode): plain
 * subscriptions on a clean connection of their own, so every worker of a group sees every device's status and
 * snapshots (a share group would hand each to one worker, and retained messages are not sent to shared subscriptions).
 */
import { connect, type IClientOptions, type MqttClient } from 'mqtt';
import { validateSnapshotMessage, validateStatusMessage } from '../publish/validate.js';
import type { SnapshotMessage, StatusMessage } from '../publish/wire_message.js';
import type { SnapshotCache } from './snapshot_cache.js';
import { parseTopic, topicOf } from '../client/topics.js';

export interface DeviceStatusWatch {
  /** Bridge clock (ms) when the device was last reported offline, or null while it is online / unknown. */
  offlineSince(deviceId: string): number | null;
  close(): Promise<void>;
}

export function watchDeviceStatus(opts: { brokerUrl: string; prefix: string; protocolVersion: 4 | 5; mqtt?: Partial<IClientOptions>; now?: () => number; snapshots?: SnapshotCache }): DeviceStatusWatch {
  const now = opts.now ?? Date.now;
  const offline = new Map<string, number>();
  const client: MqttClient = connect(opts.brokerUrl, {
    ...opts.mqtt,
    protocolVersion: opts.protocolVersion,
    clean: true,
    clientId: `dermstream-bridge-status-${Math.random().toString(16).slice(2, 10)}`,
    reconnectPeriod: 1000,
    resubscribe: true,
  });
  client.on('error', () => undefined); // the lesion subscription reports broker trouble
  const topics: Record<string, { qos: 0 | 1 }> = { [topicOf(opts.prefix, '+', 'status')]: { qos: 1 } };
  if (opts.snapshots) topics[topicOf(opts.prefix, '+', 'snapshot')] = { qos: 0 };
  client.on('connect', () => client.subscribe(topics));
  client.on('message', (topic, payload) => {
    const where = parseTopic(opts.prefix, topic);
    if (!where || (where.kind !== 'status' && where.kind !== 'snapshot')) return;
    let msg: unknown;
    try {
      msg = JSON.parse(payload.toString('utf8'));
    } catch {
      return;
    }
    if (where.kind === 'snapshot') {
      if (opts.snapshots && validateSnapshotMessage(msg).ok && (msg as SnapshotMessage).deviceId === where.deviceId) opts.snapshots.add(msg as SnapshotMessage);
      return;
    }
    if (!validateStatusMessage(msg).ok) return;
    const s = msg as StatusMessage;
    if (s.deviceId !== where.deviceId) return;
    if (s.state === 'offline') {
      if (!offline.has(s.deviceId)) offline.set(s.deviceId, now());
    } else offline.delete(s.deviceId);
  });
  return {
    offlineSince: (id) => offline.get(id) ?? null,
    close: () => new Promise<void>((r) => client.end(true, {}, () => r())),
  };
}
