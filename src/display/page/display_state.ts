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
 * - Episodes (schema 1.1.0): each `ended` message adds one entry to the history strip (deduplicated by episode id:
 *   QoS 1 may deliver twice), newest first, with the snapshot of its best frame when one was received (or the
 *   snapshot nearest to it among the episode's frames). The ended verdict is held on screen until the next lesion
 *   is in view (a tracking/stable/indeterminate message of another episode); searching heartbeats do not clear it.
 */
import type { SnapshotMessage, StatusMessage } from '../../publish/wire_message.js';
import type { EpisodeSummary, LesionMessageView as LesionMessage, SessionContext } from './contract.js';

/** One examined lesion in the history strip. */
export interface HistoryEntry {
  episode: EpisodeSummary;
  /** The patient the device had set when the episode ended (entries of another patient are not shown). */
  patientRef: string | null;
  bodySite: SessionContext['bodySite'];
  /** Operating point the verdict was reached with. */
  threshold: number | null;
  margin: number | null;
  /** Snapshot of the best frame (exact) or the nearest one of the episode; null when none was received. */
  thumbnail: SnapshotMessage | null;
  thumbnailExact: boolean;
}

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
  /** The last `ended` message, held as the verdict until the next lesion is in view. */
  ended: LesionMessage | null;
  /** This session's examined lesions, newest first. */
  history: HistoryEntry[];
  /** Recent snapshots by frame seq (thumbnails for the history strip). */
  snapshots: Map<number, SnapshotMessage>;
  /** First and last frame seq seen of each recent episode, to find a snapshot near its best frame. */
  episodeFrames: Map<string, { first: number; last: number }>;
  /** The retained `session/set` command (what the form shows before the device echoes it). */
  sessionCommand: SessionContext | null;
}

const RECENT_MAX = 64;
const SNAPSHOTS_MAX = 64;
const HISTORY_MAX = 50;
const EPISODES_TRACKED_MAX = 16;
const IN_VIEW: ReadonlySet<string> = new Set(['tracking', 'stable', 'indeterminate']);
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
    ended: null,
    history: [],
    snapshots: new Map(),
    episodeFrames: new Map(),
    sessionCommand: null,
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
  s.ended = null;
  s.history = [];
  s.snapshots.clear();
  s.episodeFrames.clear();
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
  if (msg.episodeId) noteEpisodeFrame(s, msg.episodeId, msg.frame.seq);
  if (msg.state === 'ended' && msg.episode) onEnded(s, msg, msg.episode);
  else if (IN_VIEW.has(msg.state) && s.ended && (msg.episodeId ?? null) !== s.ended.episode?.id && isNewer(msg, s.ended)) s.ended = null;
  if (!isNewer(msg, s.lesion)) return;
  s.lesion = msg;
  s.lesionAtMs = nowMs;
  const transport = nowMs - Date.parse(msg.publishedAt);
  s.transportMs = Number.isFinite(transport) && transport >= 0 && transport < 60_000 ? transport : null;
}

function noteEpisodeFrame(s: DisplayState, id: string, seq: number): void {
  const f = s.episodeFrames.get(id);
  if (f) {
    f.first = Math.min(f.first, seq);
    f.last = Math.max(f.last, seq);
    return;
  }
  s.episodeFrames.set(id, { first: seq, last: seq });
  if (s.episodeFrames.size > EPISODES_TRACKED_MAX) s.episodeFrames.delete(s.episodeFrames.keys().next().value as string);
}

/** The snapshot of frame `best`, else the one nearest to it within the episode's frames. */
function thumbnailFor(s: DisplayState, ep: EpisodeSummary): { snap: SnapshotMessage | null; exact: boolean } {
  if (ep.bestFrameSeq !== null) {
    const exact = s.snapshots.get(ep.bestFrameSeq);
    if (exact) return { snap: exact, exact: true };
  }
  const range = s.episodeFrames.get(ep.id);
  if (!range) return { snap: null, exact: false };
  const target = ep.bestFrameSeq ?? range.last;
  let best: SnapshotMessage | null = null;
  for (const [seq, snap] of s.snapshots) {
    if (seq < range.first || seq > range.last) continue;
    if (!best || Math.abs(seq - target) < Math.abs(best.frame.seq - target)) best = snap;
  }
  return { snap: best, exact: false };
}

function onEnded(s: DisplayState, msg: LesionMessage, ep: EpisodeSummary): void {
  if (!s.history.some((h) => h.episode.id === ep.id)) {
    const { snap, exact } = thumbnailFor(s, ep);
    const op = msg.model.operatingPoint;
    s.history.push({
      episode: ep,
      patientRef: msg.session?.patientRef ?? null,
      bodySite: msg.session?.bodySite ?? null,
      threshold: op?.threshold ?? null,
      margin: op?.margin ?? null,
      thumbnail: snap,
      thumbnailExact: exact,
    });
    s.history.sort((a, b) => Date.parse(b.episode.endedAt) - Date.parse(a.episode.endedAt));
    if (s.history.length > HISTORY_MAX) s.history.length = HISTORY_MAX;
  }
  // Held until the next lesion is in view, unless a newer lesion is already in view (its message came first).
  const inView = s.lesion && IN_VIEW.has(s.lesion.state) && s.lesion.episodeId !== ep.id ? s.lesion : null;
  if ((!inView || isNewer(msg, inView)) && (!s.ended || isNewer(msg, s.ended))) s.ended = msg;
}

/** The retained session/set command (null payload fields = cleared). */
export function onSessionCommand(s: DisplayState, cmd: SessionContext): void {
  s.sessionCommand = { patientRef: cmd.patientRef, bodySite: cmd.bodySite };
}

/** The examination context in force: what the device reports on its messages, else the retained command. */
export function currentSession(s: DisplayState): SessionContext | null {
  return s.lesion?.session ?? s.sessionCommand;
}

/**
 * The command the device has not applied yet: its messages still carry another context. Shown as "waiting for the
 * device" so that nobody examines the next lesion believing it is recorded for a patient it is not.
 */
export function pendingSession(s: DisplayState): SessionContext | null {
  const dev = s.lesion?.session;
  const cmd = s.sessionCommand;
  if (!dev || !cmd) return null;
  const same = dev.patientRef === cmd.patientRef && (dev.bodySite?.code ?? null) === (cmd.bodySite?.code ?? null);
  return same ? null : cmd;
}

export function onSnapshot(s: DisplayState, msg: SnapshotMessage, nowMs: number): void {
  if (s.deviceId === null) s.deviceId = msg.deviceId;
  if (msg.deviceId !== s.deviceId) return;
  if (!s.status || s.status.sessionId === msg.sessionId) {
    s.snapshots.set(msg.frame.seq, msg);
    if (s.snapshots.size > SNAPSHOTS_MAX) s.snapshots.delete(s.snapshots.keys().next().value as number);
    // The best frame's own snapshot may arrive after the ended message.
    for (const h of s.history) {
      if (!h.thumbnailExact && h.episode.bestFrameSeq === msg.frame.seq) {
        h.thumbnail = msg;
        h.thumbnailExact = true;
      }
    }
  }
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
