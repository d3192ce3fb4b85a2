/** The examination on the display, pure: threshold scale and wording, ended verdict held, history, session command. */
import { describe, expect, it } from 'vitest';
import { asSessionCommand, clockTime, formatPercent, initialState, onBroker, onLesion, onSessionCommand, onSnapshot, onStatus, probabilityView, screenOf, sessionSetCommand, variationText } from '../../src/display/index.js';
import type { SnapshotMessage } from '../../src/publish/wire_message.js';
import { BODY_SITES } from '../../src/types/body_sites.js';
import { statusMessage } from '../client/helpers/messages.js';
import { BACK, ended11, lesion11 } from './helpers/messages_1_1.js';

const T0 = Date.parse('2026-12-02T10:00:00Z');

function connected() {
  const s = initialState('derm-01');
  onBroker(s, 'connected');
  onStatus(s, statusMessage('online'));
  return s;
}

function snapshot(frameSeq: number, data = `jpeg-${frameSeq}`): SnapshotMessage {
  return {
    schema: { id: 'https://dermstream.dev/schema/snapshot-message.schema.json', version: '1.0.0' },
    kind: 'snapshot',
    deviceId: 'derm-01',
    sessionId: 's1',
    seq: frameSeq,
    frame: { seq: frameSeq, width: 640, height: 480, capturedAt: new Date(T0).toISOString() },
    image: { mime: 'image/jpeg', width: 320, height: 240, data },
    publishedAt: new Date(T0).toISOString(),
  };
}

describe('p(malignant) on the threshold scale', () => {
  it('caps at > 99 % and < 1 %; rounds in between', () => {
    expect(formatPercent(0.995)).toBe('> 99 %');
    expect(formatPercent(1)).toBe('> 99 %');
    expect(formatPercent(0.99)).toBe('99 %');
    expect(formatPercent(0.004)).toBe('< 1 %');
    expect(formatPercent(0)).toBe('< 1 %');
    expect(formatPercent(0.374)).toBe('37 %');
  });

  it('says which side of the operating threshold, and marks both on the scale', () => {
    const op = { threshold: 0.15, margin: 0.03 };
    expect(probabilityView(0.37, 0.03, op)).toEqual({
      text: 'p(malignant) 37 %',
      side: 'above',
      sideText: 'above the referral threshold (15 %)',
      nearThreshold: false,
      variationText: 'frame-to-frame variation ± 3 points',
      scale: { valuePct: 37, thresholdPct: 15, band: { fromPct: 12, toPct: 18 } },
    });
    const below = probabilityView(0.08, null, op);
    expect(below).toMatchObject({ side: 'below', sideText: 'below the referral threshold (15 %)', variationText: null, scale: { valuePct: 8 } });
    // At the threshold a frame votes malignant (debounce: "at or above"): the words agree.
    expect(probabilityView(0.15, null, op).side).toBe('above');
    expect(probabilityView(0.16, null, op).nearThreshold).toBe(true);
    expect(probabilityView(0.37, null, null)).toMatchObject({ side: null, sideText: 'referral threshold not reported by the device', scale: { thresholdPct: null, band: null } });
  });

  it('names the spread as frame-to-frame variation, never a bare "± 0"', () => {
    expect(variationText(0.002)).toBe('frame-to-frame variation < 1 point');
    expect(variationText(0.01)).toBe('frame-to-frame variation ± 1 point');
    expect(variationText(0.126)).toBe('frame-to-frame variation ± 13 points');
  });

  it('a stable 1.1.0 message: p(malignant) against the operating point it carries', () => {
    const s = connected();
    onLesion(s, lesion11({ state: 'stable', label: 'malignant', probabilities: { benign: 0.63, malignant: 0.37 }, episode: 0, seq: 1 }), T0);
    const v = screenOf(s, T0, 3000).verdict;
    expect(v.title).toBe('MALIGNANT');
    expect(v.probability).toMatchObject({ text: 'p(malignant) 37 %', sideText: 'above the referral threshold (15 %)', scale: { valuePct: 37, thresholdPct: 15 } });
    onLesion(s, lesion11({ state: 'stable', label: 'malignant', probabilities: { benign: 0.001, malignant: 0.999 }, episode: 0, seq: 2 }), T0 + 10);
    expect(screenOf(s, T0 + 10, 3000).verdict.probability?.text).toBe('p(malignant) > 99 %');
  });
});

describe('episodes: the ended verdict is held, the history strip lists them', () => {
  it('holds the ended verdict through searching heartbeats until the next lesion is in view', () => {
    const s = connected();
    onLesion(s, lesion11({ state: 'stable', label: 'malignant', episode: 0, seq: 1, frameSeq: 30 }), T0);
    onLesion(s, ended11({ episode: 0, verdict: 'malignant', pMalignant: 0.37, seq: 2, frameSeq: 40, endedAtMs: T0 + 1000, durationMs: 4200 }), T0 + 1000);
    onLesion(s, lesion11({ state: 'searching', episode: null, seq: 3, frameSeq: 70 }), T0 + 2000);
    const v = screenOf(s, T0 + 2000, 3000).verdict;
    expect(v).toMatchObject({ kind: 'ended', label: 'malignant', title: 'Last lesion: MALIGNANT' });
    expect(v.probability?.sideText).toBe('above the referral threshold (15 %)');
    expect(v.detail).toBe(`Examined 4.2 s, ended ${clockTime(new Date(T0 + 1000).toISOString())} (scope lifted) · point the dermatoscope at the next lesion`);
    // The next lesion in view (tracking of episode 1) replaces it.
    onLesion(s, lesion11({ state: 'tracking', episode: 1, seq: 4, frameSeq: 80 }), T0 + 3000);
    expect(screenOf(s, T0 + 3000, 3000).verdict.kind).toBe('assessing');
    // An episode that never became stable: no verdict, no probability.
    onLesion(s, ended11({ episode: 1, verdict: null, seq: 5, frameSeq: 90, endedAtMs: T0 + 4000 }), T0 + 4000);
    expect(screenOf(s, T0 + 4000, 3000).verdict).toMatchObject({ kind: 'ended', label: null, title: 'Last lesion: no steady result', probability: null });
  });

  it('an ended message arriving after the next lesion is already in view does not cover it', () => {
    const s = connected();
    onLesion(s, lesion11({ state: 'tracking', episode: 4, seq: 9, frameSeq: 200 }), T0);
    onLesion(s, ended11({ episode: 3, verdict: 'benign', seq: 8, frameSeq: 199, endedAtMs: T0 - 10 }), T0 + 5);
    expect(screenOf(s, T0 + 5, 3000).verdict.kind).toBe('assessing');
    expect(screenOf(s, T0 + 5, 3000).history.map((h) => h.id)).toEqual(['derm-01:s1:ep3']);
  });

  it('three ended messages → three entries newest first; a duplicate (QoS 1) adds none; thumbnails from the snapshots', () => {
    const s = connected();
    onSnapshot(s, snapshot(20), T0);
    onLesion(s, lesion11({ state: 'stable', episode: 0, seq: 0, frameSeq: 18 }), T0);
    onLesion(s, lesion11({ state: 'stable', episode: 0, seq: 1, frameSeq: 24 }), T0);
    onLesion(s, ended11({ episode: 0, verdict: 'malignant', seq: 2, frameSeq: 30, bestFrameSeq: 20, endedAtMs: T0 + 1000 }), T0 + 1000);
    onSnapshot(s, snapshot(62), T0 + 1500);
    onLesion(s, lesion11({ state: 'stable', label: 'benign', episode: 1, seq: 3, frameSeq: 60 }), T0 + 1500);
    onLesion(s, lesion11({ state: 'stable', label: 'benign', episode: 1, seq: 4, frameSeq: 66 }), T0 + 1600);
    onLesion(s, ended11({ episode: 1, verdict: 'benign', seq: 5, frameSeq: 70, bestFrameSeq: 61, endedAtMs: T0 + 2000 }), T0 + 2000);
    onLesion(s, ended11({ episode: 2, verdict: null, seq: 6, frameSeq: 100, bestFrameSeq: 95, endedAtMs: T0 + 3000 }), T0 + 3000);
    onLesion(s, ended11({ episode: 1, verdict: 'benign', seq: 5, frameSeq: 70, bestFrameSeq: 61, endedAtMs: T0 + 2000 }), T0 + 3100); // redelivered
    const h = screenOf(s, T0 + 3100, 3000).history;
    expect(h.map((x) => [x.id, x.verdictText])).toEqual([
      ['derm-01:s1:ep2', 'No steady result'],
      ['derm-01:s1:ep1', 'Benign'],
      ['derm-01:s1:ep0', 'Malignant'],
    ]);
    expect(h[2]).toMatchObject({ thumbnail: 'jpeg-20', probabilityText: 'p(malignant) 37 %', sideText: 'above the referral threshold (15 %)', time: clockTime(new Date(T0 + 1000).toISOString()) });
    expect(h[1]).toMatchObject({ thumbnail: 'jpeg-62', probabilityText: 'p(malignant) 6 %', sideText: 'below the referral threshold (15 %)' }); // nearest of its frames
    expect(h[0]).toMatchObject({ thumbnail: null, probabilityText: null });
    // The best frame's own snapshot arriving later replaces the nearest one.
    onSnapshot(s, snapshot(61, 'exact-61'), T0 + 3200);
    expect(screenOf(s, T0 + 3200, 3000).history[1]!.thumbnail).toBe('exact-61');
  });

  it('shows only the current patient’s lesions; a device restart clears the strip', () => {
    const s = connected();
    const a = { patientRef: 'MRN-1', bodySite: BACK };
    onLesion(s, ended11({ episode: 0, verdict: 'benign', seq: 1, frameSeq: 10, endedAtMs: T0, session: a }), T0);
    onLesion(s, lesion11({ state: 'searching', seq: 2, frameSeq: 20, session: a }), T0 + 10);
    expect(screenOf(s, T0 + 10, 3000).history).toHaveLength(1);
    expect(screenOf(s, T0 + 10, 3000).history[0]!.site).toBe('Back');
    expect(screenOf(s, T0 + 10, 3000).session).toMatchObject({ patientRef: 'MRN-1', bodySiteCode: '77568009', text: 'Patient MRN-1 · Back', canSet: true });
    onLesion(s, lesion11({ state: 'searching', seq: 3, frameSeq: 30, session: { patientRef: 'MRN-2', bodySite: null } }), T0 + 20);
    expect(screenOf(s, T0 + 20, 3000).history).toEqual([]);
    onStatus(s, statusMessage('online', { sessionId: 's2' }));
    onLesion(s, lesion11({ state: 'searching', seq: 0, frameSeq: 1, sessionId: 's2', session: a }), T0 + 30);
    expect(screenOf(s, T0 + 30, 3000).history).toEqual([]);
  });
});

describe('the session/set command', () => {
  it('builds the contract payload from the form; empty means none', () => {
    const r = sessionSetCommand('  MRN-00123 ', '77568009');
    expect(r).toEqual({
      ok: true,
      command: { schema: { id: 'https://dermstream.dev/schema/session-set.schema.json', version: '1.0.0' }, patientRef: 'MRN-00123', bodySite: BACK },
    });
    expect(sessionSetCommand('', null)).toMatchObject({ ok: true, command: { patientRef: null, bodySite: null } });
    expect(asSessionCommand(r.ok ? r.command : null)).toEqual({ patientRef: 'MRN-00123', bodySite: BACK });
  });
  it('refuses what it cannot send, saying why', () => {
    expect(sessionSetCommand('x'.repeat(65), null)).toEqual({ ok: false, error: 'Patient reference is 65 characters; at most 64' });
    expect(sessionSetCommand('MRN\t1', null)).toMatchObject({ ok: false, error: expect.stringMatching(/control character/) });
    expect(sessionSetCommand('MRN-1', '39937001')).toMatchObject({ ok: false, error: expect.stringMatching(/Unknown body site 39937001/) });
  });
  it('the body-site list is short, SNOMED CT, with unique codes', () => {
    expect(BODY_SITES.length).toBeLessThanOrEqual(12);
    expect(new Set(BODY_SITES.map((b) => b.code)).size).toBe(BODY_SITES.length);
    for (const b of BODY_SITES) expect(b).toMatchObject({ system: 'http://snomed.info/sct', code: expect.stringMatching(/^\d{6,18}$/) });
  });
  it('the retained command shows until the device reports a session; one it has not applied says so', () => {
    const s = connected();
    onSessionCommand(s, { patientRef: 'MRN-9', bodySite: null });
    expect(screenOf(s, T0, 3000).session).toMatchObject({ text: 'Patient MRN-9', pending: false });
    // The device still reports no patient: the command is pending.
    onLesion(s, lesion11({ state: 'searching', seq: 1, frameSeq: 5 }), T0);
    expect(screenOf(s, T0, 3000).session).toMatchObject({ text: 'Patient MRN-9 · waiting for the device', pending: true, patientRef: null });
    onLesion(s, lesion11({ state: 'searching', seq: 2, frameSeq: 6, session: { patientRef: 'MRN-9', bodySite: null } }), T0 + 1000);
    expect(screenOf(s, T0 + 1000, 3000).session).toMatchObject({ text: 'Patient MRN-9', pending: false, patientRef: 'MRN-9' });
  });
});
