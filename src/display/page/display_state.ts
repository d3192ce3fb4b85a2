/**
 * Browser side, pure: what the page knows, updated message by message. No DOM, no clock inside (callers pass
 * `nowMs`), so it is tested in Node.
 *
 * - The newest lesion/live message wins (same session: by frame seq; a new session replaces an old one). `/lesion`
 *   (QoS 1, on change + heartbeat) and `/live` (QoS 0, per frame) carry the same shape; either updates the verdict.
 * - A status `online` with a new session id means the device restarted: what it said before is dropped, and lesion
 *   messages of other sessions (the previous run's outbox replayed after the restart) are not shown as current.
 * - Recent messages are kept by frame seq so the overlay can use the one made from the snapshot's own frame.
 * - Rates: analysed frames per second from the distinct frame seqs received in the last 3 s; latency from the
 *   device's `latencyMs` (capture → verdict) plus transport (`now - publishedAt`, shown only when the clocks agree
 *   well enough to be believable, 0–60 s).
 */
import type { LesionMessage, SnapshotMessage, StatusMessage } from '../../publish/wire_message.js';

export type BrokerLink = 'connecting' | 'connected' | 'reconnecting' | 'failed';

export interface DisplayState {
  deviceId: string | null;
  broker: BrokerLink;
  brokerError: string | null;
  status: StatusMessage | null;
  lesion: LesionMessage | null;
  /** Local receive time of `lesion`. */
  lesionAtMs: number | null;
  snapshot: SnapshotMessage | null;
  snapshotAtMs: number | null;
  /** Recent lesion/live messages of the current session, by frame seq (bounded). */
  recent: Map<number, LesionMessage>;
  /** (frame seq, local receive time) of recent messages, for the frame rate. */
  frameTimes: { seq: number; atMs: number }[];
  transportMs: number | null;
  /** Payloads that failed to parse or had the wrong shape. */
  rejected: number;
}

const RECENT_MAX = 64;
const RATE_WINDOW_MS = 3000;

export function initialState(deviceId: string | null): DisplayState {
  return {
    deviceId,
    broker: 'connecting',
    brokerError: null,
    status: null,
    lesion: null,
    lesionAtMs: null,
    snapshot: null,
    snapshotAtMs: null,
    recent: new Map(),
    frameTimes: [],
    transportMs: null,
    rejected: 0,
  };
}

function clearSession(s: DisplayState): void {
  s.lesion = null;
  s.lesionAtMs = null;
  s.snapshot = null;
  s.snapshotAtMs = null;
  s.recent.clear();
  s.frameTimes = [];
  s.transportMs = null;
}

export function onBroker(s: DisplayState, link: BrokerLink, error: string | null = null): void {
  s.broker = link;
  s.brokerError = error;
}

/** Adopts the device (when none was configured) and tracks restarts. */
export function onStatus(s: DisplayState, msg: StatusMessage): void {
  if (s.deviceId === null) s.deviceId = msg.deviceId;
  if (msg.deviceId !== s.deviceId) return;
  if (msg.state === 'online' && s.lesion && s.lesion.sessionId !== msg.sessionId) clearSession(s);
  s.status = msg;
}

function isNewer(msg: LesionMessage, cur: LesionMessage | null): boolean {
  if (!cur) return true;
  if (msg.sessionId !== cur.sessionId) return msg.frame.capturedAtMs >= cur.frame.capturedAtMs;
  if (msg.frame.seq !== cur.frame.seq) return msg.frame.seq > cur.frame.seq;
  // Same frame: the lesion and the live message of one frame say the same; take the later one of a kind.
  return msg.kind !== cur.kind || msg.seq >= cur.seq;
}

export function onLesion(s: DisplayState, msg: LesionMessage, nowMs: number): void {
  if (s.deviceId === null) s.deviceId = msg.deviceId;
  if (msg.deviceId !== s.deviceId) return;
  // A message of another session than the one the device announced (e.g. the outbox of the previous run being
  // replayed after a restart) is history, not what the camera sees now.
  if (s.status && s.status.sessionId !== msg.sessionId) return;
  if (s.lesion && msg.sessionId !== s.lesion.sessionId && isNewer(msg, s.lesion)) clearSession(s);
  s.recent.set(msg.frame.seq, msg);
  if (s.recent.size > RECENT_MAX) s.recent.delete(s.recent.keys().next().value as number);
  if (!s.frameTimes.some((f) => f.seq === msg.frame.seq)) s.frameTimes.push({ seq: msg.frame.seq, atMs: nowMs });
  s.frameTimes = s.frameTimes.filter((f) => nowMs - f.atMs <= RATE_WINDOW_MS);
  if (!isNewer(msg, s.lesion)) return;
  s.lesion = msg;
  s.lesionAtMs = nowMs;
  const transport = nowMs - Date.parse(msg.publishedAt);
  s.transportMs = Number.isFinite(transport) && transport >= 0 && transport < 60_000 ? transport : null;
}

export function onSnapshot(s: DisplayState, msg: SnapshotMessage, nowMs: number): void {
  if (s.deviceId === null) s.deviceId = msg.deviceId;
  if (msg.deviceId !== s.deviceId) return;
  if (s.snapshot && s.snapshot.sessionId === msg.sessionId && msg.frame.seq < s.snapshot.frame.seq) return;
  s.snapshot = msg;
  s.snapshotAtMs = nowMs;
}

/** Analysed frames per second over the last 3 s, or null with too little data. */
export function frameRate(s: DisplayState, nowMs: number): number | null {
  const recent = s.frameTimes.filter((f) => nowMs - f.atMs <= RATE_WINDOW_MS);
  if (recent.length < 2) return null;
  const span = Math.max(recent[recent.length - 1]!.atMs - recent[0]!.atMs, 1);
  return ((recent.length - 1) * 1000) / span;
}

export interface OverlaySource {
  msg: LesionMessage;
  /** True when `msg` was made from the very frame of the snapshot. */
  sameFrame: boolean;
}

/** The message whose box/contours go over the snapshot: the one of the snapshot's frame, else the newest. */
export function overlaySource(s: DisplayState): OverlaySource | null {
  if (s.snapshot) {
    const m = s.recent.get(s.snapshot.frame.seq);
    if (m && m.sessionId === s.snapshot.sessionId) return { msg: m, sameFrame: true };
  }
  return s.lesion ? { msg: s.lesion, sameFrame: false } : null;
}
