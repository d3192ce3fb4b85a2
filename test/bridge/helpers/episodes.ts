/**
 * Valid lesion-message 1.1.0 messages of whole episodes (CONTRACT-8), built from the 1.0.0 fixtures plus the
 * contract's fields: what a device sends for one examination — tracking, stable verdicts (with heartbeats), `ended`.
 */
import { makeThumbnail, toSnapshotMessage } from '../../../src/publish/snapshot.js';
import type { LesionMessage, SnapshotMessage } from '../../../src/publish/wire_message.js';
import type { EpisodeSummary, EpisodeView, SessionContext } from '../../../src/bridge/index.js';
import { lesionMessage } from '../../client/helpers/messages.js';

export const OPERATING_POINT = { threshold: 0.15, margin: 0.03, source: 'model' as const };
export const SESSION: SessionContext = {
  patientRef: 'Patient/example-123',
  bodySite: { system: 'http://snomed.info/sct', code: '77568009', display: 'Back (trunk)' },
};

export interface EpisodeSpec {
  deviceId?: string;
  sessionId?: string;
  /** n of `<deviceId>:<sessionId>:ep<n>`. */
  n: number;
  /** First lesion seq of the episode (the messages use seq, seq+1, …). */
  seq: number;
  verdict?: 'benign' | 'malignant' | null;
  stableCount?: number;
  session?: SessionContext | null;
  endReason?: EpisodeSummary['endReason'];
}

export const episodeIdOfSpec = (e: EpisodeSpec) => `${e.deviceId ?? 'derm-01'}:${e.sessionId ?? 's1'}:ep${e.n}`;

function withContract(m: LesionMessage, episodeId: string | null, session: SessionContext | null | undefined): EpisodeView {
  return { ...m, schema: { ...m.schema, version: '1.1.0' }, episodeId, session: session === undefined ? SESSION : (session ?? { patientRef: null, bodySite: null }), model: { ...m.model, operatingPoint: OPERATING_POINT } };
}

/** The messages of one episode: one tracking, `stableCount` stable, then the `ended` message (last). */
export function episodeMessages(e: EpisodeSpec): EpisodeView[] {
  const id = episodeIdOfSpec(e);
  const deviceId = e.deviceId ?? 'derm-01';
  const sessionId = e.sessionId ?? 's1';
  const verdict = e.verdict === undefined ? 'malignant' : e.verdict;
  const label = verdict ?? 'benign';
  const probs = label === 'malignant' ? { benign: 0.7, malignant: 0.3 } : { benign: 0.95, malignant: 0.05 };
  const out: EpisodeView[] = [];
  let seq = e.seq;
  out.push(withContract(lesionMessage({ seq: seq++, deviceId, sessionId, state: 'tracking', label, probabilities: probs }), id, e.session));
  const stables = verdict === null ? 0 : (e.stableCount ?? 3);
  for (let i = 0; i < stables; i++) out.push(withContract(lesionMessage({ seq: seq++, deviceId, sessionId, state: 'stable', label, probabilities: probs }), id, e.session));
  out.push(endedMessage(e, seq));
  return out;
}

export function endedMessage(e: EpisodeSpec, seq: number): EpisodeView {
  const id = episodeIdOfSpec(e);
  const verdict = e.verdict === undefined ? 'malignant' : e.verdict;
  const base = lesionMessage({ seq, deviceId: e.deviceId ?? 'derm-01', sessionId: e.sessionId ?? 's1', state: 'lost' });
  const startedMs = base.frame.capturedAtMs - 4000;
  const episode: EpisodeSummary = {
    id,
    startedAt: new Date(startedMs).toISOString(),
    endedAt: base.frame.capturedAt,
    durationMs: 4000,
    endReason: e.endReason ?? 'lifted',
    verdict,
    meanProbabilities: verdict === 'malignant' ? { benign: 0.71, malignant: 0.29 } : { benign: 0.93, malignant: 0.07 },
    spread: { benign: 0.05, malignant: 0.05 },
    agreement: { agreeing: 100, frames: 112 },
    framesSeen: 112,
    bestFrameSeq: Math.max(0, base.frame.seq - 2),
  };
  const ended = withContract(base, id, e.session) as EpisodeView & { state: string };
  ended.state = 'ended';
  ended.episode = episode;
  return ended as EpisodeView;
}

/** A 1.0.0 stable message (no episode): the bridge must not write anything for it. */
export function legacyStable(seq: number): LesionMessage {
  return lesionMessage({ seq, state: 'stable' });
}

/** A valid snapshot message of a frame of that episode (a real 64×48 JPEG), as the publisher builds it. */
export async function snapshotOf(m: LesionMessage, frameSeq: number, capturedAtMs: number): Promise<SnapshotMessage> {
  const data = new Uint8Array(64 * 48 * 3).map((_, i) => (i * 7) % 256);
  const thumb = await makeThumbnail({ width: 64, height: 48, data });
  return toSnapshotMessage({ seq: frameSeq, width: m.frame.width, height: m.frame.height, capturedAt: { monoMs: 0, wallMs: capturedAtMs } }, thumb, {
    deviceId: m.deviceId,
    sessionId: m.sessionId,
    seq: frameSeq,
    publishedAtMs: capturedAtMs + 50,
  });
}
