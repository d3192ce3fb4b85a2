/** Schema 1.1.0: episodes (`episodeId`, the one `ended` message with its summary), the session context, and
 *  `session/set`; 1.0.0 messages stay valid. */
import { describe, expect, it } from 'vitest';
import {
  LESION_SCHEMA_VERSION,
  episodeIdOf,
  parseSessionSet,
  shouldPublishLesion,
  toLesionMessage,
  toSessionSetMessage,
  validateLesionMessage,
  validateSessionSetMessage,
  type LesionMessage,
} from '../../src/publish/index.js';
import { BODY_SITES, bodySiteByCode, type EpisodeSummary, type LesionEvent } from '../../src/types/index.js';
import { MODEL, makeEvent } from './helpers/fixtures.js';

const ctx = { kind: 'lesion' as const, deviceId: 'derm-01', sessionId: 's1', seq: 7, model: MODEL, publishedAtMs: 1_760_000_001_000 };
const SUMMARY: EpisodeSummary = {
  index: 3,
  trackId: 5,
  startedAtMs: 1_760_000_000_000,
  endedAtMs: 1_760_000_004_500,
  durationMs: 4500,
  endReason: 'lifted',
  verdict: 'malignant',
  meanProbabilities: { benign: 0.3, malignant: 0.7 },
  spread: { benign: 0.05, malignant: 0.05 },
  agreement: { agreeing: 30, frames: 34 },
  framesSeen: 34,
  bestFrameSeq: 812,
};
const ended = (): LesionEvent => ({ ...makeEvent({ state: 'stable', seq: 820 }), state: 'ended', box: null, contours: [], episodeIndex: 3, episode: SUMMARY });
const site = bodySiteByCode('77568009')!;

describe('lesion message 1.1.0', () => {
  it('every message of an episode carries its id; the session context rides along', () => {
    expect(LESION_SCHEMA_VERSION).toBe('1.1.0');
    const m = toLesionMessage({ ...makeEvent({ seq: 3 }), episodeIndex: 3 }, { ...ctx, session: { patientRef: 'Patient/123', bodySite: site } });
    expect(validateLesionMessage(m).errors).toEqual([]);
    expect(m.episodeId).toBe('derm-01:s1:ep3');
    expect(m.episode).toBeNull();
    expect(m.session).toEqual({ patientRef: 'Patient/123', bodySite: { system: 'http://snomed.info/sct', code: '77568009', display: 'Structure of back of trunk' } });
    const searching = toLesionMessage({ ...makeEvent({ state: 'searching', seq: 4 }), episodeIndex: null }, ctx);
    expect(searching.episodeId).toBeNull();
    expect(searching.session).toEqual({ patientRef: null, bodySite: null });
    expect(validateLesionMessage(searching).errors).toEqual([]);
  });

  it('the ended message carries the summary of the episode it closes', () => {
    const m = toLesionMessage(ended(), ctx);
    expect(validateLesionMessage(m).errors).toEqual([]);
    expect(m.state).toBe('ended');
    expect(m.episodeId).toBe(episodeIdOf('derm-01', 's1', 3));
    expect(m.episode).toEqual({
      id: 'derm-01:s1:ep3',
      startedAt: new Date(1_760_000_000_000).toISOString(),
      endedAt: new Date(1_760_000_004_500).toISOString(),
      durationMs: 4500,
      endReason: 'lifted',
      verdict: 'malignant',
      meanProbabilities: { benign: 0.3, malignant: 0.7 },
      spread: { benign: 0.05, malignant: 0.05 },
      agreement: { agreeing: 30, frames: 34 },
      framesSeen: 34,
      bestFrameSeq: 812,
    });
    const never = toLesionMessage({ ...ended(), label: null, episode: { ...SUMMARY, verdict: null, agreement: { agreeing: 0, frames: 2 } } }, ctx);
    expect(validateLesionMessage(never).errors).toEqual([]);
  });

  const clone = (m: LesionMessage) => JSON.parse(JSON.stringify(m));
  it('rejects an ended message without its summary, a summary on another state, a bad reason or body site', () => {
    const e = clone(toLesionMessage(ended(), ctx));
    delete e.episode;
    expect(validateLesionMessage(e).errors.join()).toMatch(/episode/);
    const t = clone(toLesionMessage({ ...makeEvent({ seq: 3 }), episodeIndex: 3 }, ctx));
    t.episode = clone(toLesionMessage(ended(), ctx)).episode;
    expect(validateLesionMessage(t).ok).toBe(false);
    const r = clone(toLesionMessage(ended(), ctx));
    r.episode.endReason = 'bored';
    expect(validateLesionMessage(r).errors.join()).toMatch(/endReason/);
    const b = clone(toLesionMessage(makeEvent({ seq: 3 }), { ...ctx, session: { patientRef: null, bodySite: site } }));
    b.session.bodySite.system = 'http://loinc.org';
    expect(validateLesionMessage(b).errors.join()).toMatch(/bodySite/);
    const id = clone(toLesionMessage({ ...makeEvent({ seq: 3 }), episodeIndex: 3 }, ctx));
    id.episodeId = 'ep3';
    expect(validateLesionMessage(id).ok).toBe(false);
  });

  it('a 1.0.0 message (no episodeId, session or episode) is still valid', () => {
    const m = clone(toLesionMessage(makeEvent({ seq: 3 }), ctx));
    delete m.episodeId;
    delete m.session;
    delete m.episode;
    m.schema.version = '1.0.0';
    expect(validateLesionMessage(m).errors).toEqual([]);
  });

  it('an ended event is always published, even right after the same state', () => {
    const prev = { state: 'ended' as const, label: 'malignant' as const, trackId: 5, episodeIndex: 3, at: 0 };
    expect(shouldPublishLesion(prev, { state: 'ended', label: 'malignant', trackId: 5, changed: false, episodeIndex: 3 }, 1)).toEqual({ publish: true, reason: 'ended' });
    // A new episode with the same state, label and track still publishes (the id changed).
    const stable = { state: 'stable' as const, label: 'benign' as const, trackId: 5, episodeIndex: 3, at: 0 };
    expect(shouldPublishLesion(stable, { state: 'stable', label: 'benign', trackId: 5, changed: false, episodeIndex: 4 }, 1).reason).toBe('change');
  });
});

describe('session/set', () => {
  it('a valid command sets the context (the display name comes from the device list)', () => {
    const payload = JSON.stringify(toSessionSetMessage({ patientRef: 'Patient/9', bodySite: site }));
    expect(validateSessionSetMessage(JSON.parse(payload)).errors).toEqual([]);
    expect(parseSessionSet(payload)).toEqual({ ok: true, cleared: false, session: { patientRef: 'Patient/9', bodySite: site } });
    expect(parseSessionSet(Buffer.alloc(0))).toMatchObject({ ok: true, cleared: true, session: { patientRef: null, bodySite: null } });
  });

  it('invalid commands are refused with the reason', () => {
    expect(parseSessionSet('{oops')).toMatchObject({ ok: false, reason: expect.stringMatching(/not JSON/) });
    expect(parseSessionSet(JSON.stringify({ patientRef: 'x', bodySite: null }))).toMatchObject({ ok: false, reason: expect.stringMatching(/schema/) });
    const unknownSite = toSessionSetMessage({ patientRef: null, bodySite: { system: 'http://snomed.info/sct', code: '39937001', display: 'Skin structure' } });
    expect(parseSessionSet(JSON.stringify(unknownSite))).toMatchObject({ ok: false, reason: expect.stringMatching(/39937001.*not in the device's list/) });
    expect(parseSessionSet('x'.repeat(5000))).toMatchObject({ ok: false, reason: expect.stringMatching(/exceeds/) });
  });

  /** SNOMED CT ids end in a Verhoeff check digit (partition 00 = a concept): catches a mistyped code. */
  const D = [[0,1,2,3,4,5,6,7,8,9],[1,2,3,4,0,6,7,8,9,5],[2,3,4,0,1,7,8,9,5,6],[3,4,0,1,2,8,9,5,6,7],[4,0,1,2,3,9,5,6,7,8],[5,9,8,7,6,0,4,3,2,1],[6,5,9,8,7,1,0,4,3,2],[7,6,5,9,8,2,1,0,4,3],[8,7,6,5,9,3,2,1,0,4],[9,8,7,6,5,4,3,2,1,0]];
  const P = [[0,1,2,3,4,5,6,7,8,9],[1,5,7,6,2,8,3,0,9,4],[5,8,0,3,7,9,6,1,4,2],[8,9,1,6,0,4,3,5,2,7],[9,4,5,3,1,2,6,8,7,0],[4,2,8,6,5,7,3,9,0,1],[2,7,9,3,8,0,6,4,1,5],[7,0,4,6,9,1,3,2,5,8]];
  const verhoeffOk = (code: string) => [...code].reverse().reduce((c, ch, i) => D[c]![P[i % 8]![Number(ch)]!]!, 0) === 0;

  it('the body-site list is short, unique and SNOMED CT concept ids (check digit, partition)', () => {
    expect(verhoeffOk('41695006')).toBe(true);
    expect(verhoeffOk('41695007')).toBe(false);
    expect(BODY_SITES.length).toBeGreaterThanOrEqual(8);
    expect(BODY_SITES.length).toBeLessThanOrEqual(20);
    expect(new Set(BODY_SITES.map((s) => s.code)).size).toBe(BODY_SITES.length);
    for (const s of BODY_SITES) {
      expect(s.system).toBe('http://snomed.info/sct');
      expect(s.code).toMatch(/^[0-9]{6,18}$/);
      expect(verhoeffOk(s.code), s.code).toBe(true);
      expect(s.code.slice(-3, -1), s.code).toBe('00');
    }
  });
});
