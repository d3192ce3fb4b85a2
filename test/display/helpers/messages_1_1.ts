/**
 * Lesion messages of schema 1.1.0 (issue 8 contract) for the display tests: the 1.0.0 builder's message plus
 * episodeId, session, model.operatingPoint and, for `ended`, the episode summary. The device side lands in
 * parallel, so these are crafted here exactly as the contract describes them.
 */
import type { EpisodeSummary, LesionMessageView, SessionContext } from '../../../src/display/page/contract.js';
import { lesionMessage, type LesionSpec } from '../../client/helpers/messages.js';

export const OPERATING_POINT = { threshold: 0.15, margin: 0.03, source: 'model' as const };
export const BACK: SessionContext['bodySite'] = { system: 'http://snomed.info/sct', code: '77568009', display: 'Structure of back of trunk' };

export interface Spec11 extends LesionSpec {
  episode?: number | null;
  session?: SessionContext;
  operatingPoint?: { threshold: number; margin: number; source: 'model' | 'config' } | null;
}

const episodeIdOf = (spec: Spec11) => (spec.episode === null || spec.episode === undefined ? null : `${spec.deviceId ?? 'derm-01'}:${spec.sessionId ?? 's1'}:ep${spec.episode}`);

export function lesion11(spec: Spec11 = {}): LesionMessageView {
  const m = lesionMessage(spec);
  const op = spec.operatingPoint === undefined ? OPERATING_POINT : spec.operatingPoint;
  return {
    ...m,
    schema: { ...m.schema, version: '1.1.0' },
    model: op ? { ...m.model, operatingPoint: op } : m.model,
    episodeId: episodeIdOf(spec),
    session: spec.session ?? { patientRef: null, bodySite: null },
    episode: null,
  };
}

export interface EndedSpec extends Spec11 {
  episode: number;
  verdict: 'benign' | 'malignant' | null;
  pMalignant?: number;
  spreadMalignant?: number;
  endedAtMs: number;
  durationMs?: number;
  bestFrameSeq?: number | null;
  endReason?: EpisodeSummary['endReason'];
}

/** The one `ended` message of an episode. */
export function ended11(spec: EndedSpec): LesionMessageView {
  const base = lesion11({ ...spec, state: 'searching' });
  const p = spec.pMalignant ?? (spec.verdict === 'malignant' ? 0.37 : 0.06);
  const durationMs = spec.durationMs ?? 4200;
  const id = episodeIdOf(spec)!;
  return {
    ...base,
    state: 'ended',
    episodeId: id,
    episode: {
      id,
      startedAt: new Date(spec.endedAtMs - durationMs).toISOString(),
      endedAt: new Date(spec.endedAtMs).toISOString(),
      durationMs,
      endReason: spec.endReason ?? 'lifted',
      verdict: spec.verdict,
      meanProbabilities: spec.verdict === null && spec.pMalignant === undefined ? null : { benign: 1 - p, malignant: p },
      spread: spec.verdict === null && spec.pMalignant === undefined ? null : { benign: spec.spreadMalignant ?? 0.03, malignant: spec.spreadMalignant ?? 0.03 },
      agreement: { agreeing: 12, frames: 15 },
      framesSeen: 90,
      bestFrameSeq: spec.bestFrameSeq === undefined ? (spec.frameSeq ?? 0) - 10 : spec.bestFrameSeq,
    },
  };
}
