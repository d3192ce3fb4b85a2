import { describe, expect, it } from 'vitest';
import { validateLesionMessage } from '../../src/publish/validate.js';
import {
  EPISODE_ID_SYSTEM,
  FINDING_CODE,
  LABEL_CONCEPTS,
  NO_VERDICT,
  PATIENT_REF_SYSTEM,
  episodeIdOfObservation,
  identifierQueryOf,
  observationIdOf,
  observationRejection,
  subjectOf,
  toObservation,
  validateObservation,
} from '../../src/bridge/index.js';
import { lesionMessage, MODEL } from '../client/helpers/messages.js';
import { SnapshotCache } from '../../src/bridge/index.js';
import { validateSnapshotMessage } from '../../src/publish/validate.js';
import { OPERATING_POINT, SESSION, endedMessage, episodeMessages, legacyStable, snapshotOf } from './helpers/episodes.js';

const compOf = (obs: { component?: { code: { coding?: { code?: string }[] } }[] }) => Object.fromEntries((obs.component ?? []).map((c) => [c.code.coding![0]!.code, c])) as Record<string, any>;

describe('episode → FHIR R4 Observation', () => {
  const spec = { n: 3, seq: 10 };
  const msgs = episodeMessages(spec);
  const ended = msgs.at(-1)!;
  const lastStable = msgs.at(-2)!;

  it('the fixtures are valid lesion messages (1.1.0 as CONTRACT-8 says)', () => {
    for (const m of msgs) expect(validateLesionMessage(m).errors).toEqual([]);
  });

  it('ended → final: identifier, id, codes, subject, bodySite, device, components, best frame', () => {
    const obs = toObservation(ended);
    expect(obs.status).toBe('final');
    expect(obs.identifier).toEqual([{ system: EPISODE_ID_SYSTEM, value: 'derm-01:s1:ep3' }]);
    expect(episodeIdOfObservation(obs)).toBe('derm-01:s1:ep3');
    expect(obs.id).toBe(observationIdOf('derm-01:s1:ep3'));
    expect(obs.id).toMatch(/^[A-Za-z0-9\-.]{1,64}$/);
    expect(obs.code).toEqual(FINDING_CODE);
    expect(obs.valueCodeableConcept).toEqual(LABEL_CONCEPTS.malignant);
    expect(obs.valueCodeableConcept!.coding![0]).toMatchObject({ system: 'http://snomed.info/sct', code: '363346000' });
    expect(obs.subject).toEqual({ reference: 'Patient/example-123' });
    expect(obs.bodySite).toEqual({ coding: [SESSION.bodySite], text: 'Back (trunk)' });
    expect(obs.effectivePeriod).toEqual({ start: ended.episode!.startedAt, end: ended.episode!.endedAt });
    expect(obs.issued).toBe(ended.publishedAt);
    expect(obs.device).toMatchObject({ reference: '#device' });
    expect(obs.contained![0]).toMatchObject({ resourceType: 'Device', identifier: [{ system: 'urn:dermstream:device', value: 'derm-01' }] });
    expect(obs.meta!.security![0]!.code).toBe('AIAST');
    for (const v of [MODEL.name, MODEL.version, MODEL.sha256]) expect(obs.method!.text).toContain(v);
    const c = compOf(obs);
    expect(c['probability-malignant'].valueQuantity).toEqual({ value: 0.29, unit: '1', system: 'http://unitsofmeasure.org', code: '1' });
    expect(c['probability-spread-malignant'].valueQuantity.value).toBe(0.05);
    expect(c['frames-seen'].valueInteger).toBe(112);
    expect(c['frame-agreement'].valueRatio.numerator.value).toBe(100);
    expect(c['operating-threshold'].valueQuantity.value).toBe(OPERATING_POINT.threshold);
    expect(c['best-frame-seq'].valueInteger).toBe(ended.episode!.bestFrameSeq);
    expect(c['end-reason'].valueString).toBe('lifted');
    expect(validateObservation(obs).errors).toEqual([]);
  });

  it('last stable verdict → preliminary, same id and identifier as the final', () => {
    const pre = toObservation(lastStable);
    const fin = toObservation(ended);
    expect(pre.status).toBe('preliminary');
    expect(pre.id).toBe(fin.id);
    expect(pre.identifier).toEqual(fin.identifier);
    expect(pre.effectiveDateTime).toBe(lastStable.frame.capturedAt);
    expect(pre.valueCodeableConcept).toEqual(LABEL_CONCEPTS.malignant);
    expect(pre.note!.map((n) => n.text).join(' ')).toMatch(/Preliminary: the device stopped reporting/);
    expect(compOf(pre)['probability-malignant'].valueQuantity.value).toBe(0.3);
    expect(validateObservation(pre).errors).toEqual([]);
  });

  it('benign maps to SNOMED 20376005; no stable verdict → dataAbsentReason, still valid', () => {
    const b = toObservation(episodeMessages({ n: 0, seq: 0, verdict: 'benign' }).at(-1)!);
    expect(b.valueCodeableConcept!.coding![0]!.code).toBe('20376005');
    const none = toObservation(endedMessage({ n: 1, seq: 0, verdict: null }, 5));
    expect(none.valueCodeableConcept).toBeUndefined();
    expect(none.dataAbsentReason).toEqual(NO_VERDICT);
    expect(validateObservation(none).errors).toEqual([]);
  });

  it('without a patient reference: no subject, a note that says the EHR must link it; without a body site: no bodySite', () => {
    const obs = toObservation(endedMessage({ n: 2, seq: 0, session: null }, 4));
    expect(obs.subject).toBeUndefined();
    expect(obs.bodySite).toBeUndefined();
    expect(obs.note!.map((n) => n.text).join(' ')).toMatch(/EHR integration must link/);
    expect(validateObservation(obs).errors).toEqual([]);
  });

  it('a patientRef that is not a FHIR reference becomes an identifier (configurable system)', () => {
    expect(subjectOf('MRN-0042')).toEqual({ identifier: { system: PATIENT_REF_SYSTEM, value: 'MRN-0042' } });
    expect(subjectOf('MRN-0042', { patientIdentifierSystem: 'urn:oid:1.2.3' })).toEqual({ identifier: { system: 'urn:oid:1.2.3', value: 'MRN-0042' } });
    expect(subjectOf('Patient/abc')).toEqual({ reference: 'Patient/abc' });
  });

  it('refuses what is not an episode result: tracking, 1.0.0 messages without an episode', () => {
    expect(observationRejection(msgs[0]!)).toMatch(/state is tracking/);
    expect(observationRejection(legacyStable(1))).toMatch(/no episodeId/);
    expect(() => toObservation(legacyStable(1))).toThrow(/no episodeId/);
    expect(observationRejection(lesionMessage({ kind: 'live' }))).toMatch(/kind is live/);
  });

  it('with a snapshot of the best frame: a contained Media (JPEG) in derivedFrom, valid against the HL7 schema', async () => {
    const best = ended.episode!.bestFrameSeq!;
    const snap = await snapshotOf(ended, best, Date.parse(ended.episode!.startedAt) + 1000);
    expect(validateSnapshotMessage(snap).errors).toEqual([]);
    const obs = toObservation(ended, {}, { snapshot: snap });
    const media = obs.contained!.find((r) => r.resourceType === 'Media') as any;
    expect(obs.derivedFrom).toEqual([{ reference: '#best-frame', display: media.content.title }]);
    expect(media).toMatchObject({ id: 'best-frame', status: 'completed', width: 64, height: 48, content: { contentType: 'image/jpeg', data: snap.image.data } });
    expect(media.identifier[0].value).toBe(`derm-01:s1:frame:${best}`);
    expect(Buffer.from(media.content.data, 'base64').subarray(0, 2)).toEqual(Buffer.from([0xff, 0xd8])); // a JPEG
    expect(media.subject).toEqual(obs.subject);
    expect(validateObservation(obs).errors).toEqual([]);
    // Another frame than the best: the title says which.
    expect((toObservation(ended, {}, { snapshot: await snapshotOf(ended, best + 1, Date.parse(ended.episode!.startedAt)) }).contained![1] as any).content.title).toMatch(/nearest to the best frame/);
  });

  it('SnapshotCache: the nearest snapshot by frame seq inside the time window, per device session', async () => {
    const c = new SnapshotCache(3);
    const t0 = Date.parse(ended.episode!.startedAt);
    for (const [seq, dt] of [[10, 0], [20, 100], [30, 200], [40, 300]] as const) c.add(await snapshotOf(ended, seq, t0 + dt));
    expect(c.nearest('derm-01', 's1', 26, t0, t0 + 1000)!.frame.seq).toBe(30);
    expect(c.nearest('derm-01', 's1', 10, t0, t0 + 1000)!.frame.seq).toBe(20); // 10 was pushed out (3 per session)
    expect(c.nearest('derm-01', 's1', 26, t0 + 250, t0 + 1000)!.frame.seq).toBe(40); // outside the episode: not used
    expect(c.nearest('derm-01', 'other', 26, t0, t0 + 1000)).toBeNull();
  });

  it('the conditional-update search names the identifier system and value', () => {
    expect(identifierQueryOf('derm-01:s1:ep3')).toBe('identifier=urn%3Adermstream%3Aepisode%7Cderm-01%3As1%3Aep3');
  });
});

describe("HL7's official FHIR R4 JSON Schema (+ invariants it cannot say)", () => {
  const obs = () => JSON.parse(JSON.stringify(toObservation(endedMessage({ n: 9, seq: 0 }, 4)))) as any;

  const broken: [string, (o: any) => void, RegExp][] = [
    ['status outside the R4 value set', (o) => (o.status = 'draft'), /\.status/],
    ['missing code', (o) => delete o.code, /code/],
    ['element not in R4 Observation', (o) => (o.verdict = 'x'), /additional properties \(verdict\)/],
    ['R5-only element', (o) => (o.triggeredBy = [{ type: 'reflex' }]), /triggeredBy/],
    ['dateTime with a bad format', (o) => (o.effectivePeriod.start = '2025-13-01T00:00:00Z'), /effectivePeriod\.start/],
    ['instant without a time zone', (o) => (o.issued = '2025-10-01T00:00:00'), /issued/],
    ['empty string', (o) => (o.note[0].text = ''), /note\/0\/text/],
    ['null', (o) => (o.method.text = null), /method\/text/],
    ['empty array', (o) => (o.category = []), /category/],
    ['two value[x]', (o) => (o.valueString = 'benign'), /value\[x\]/],
    ['dataAbsentReason with a value (obs-6)', (o) => (o.dataAbsentReason = { text: 'x' }), /obs-6/],
    ['component without its code', (o) => delete o.component[0].code, /component\[0\].*code/],
    ['contained device not referenced (dom-3)', (o) => (o.device = { display: 'x' }), /dom-3/],
    ['component repeating the observation code (obs-7)', (o) => (o.component[0].code = o.code), /obs-7/],
    ['bad resource id', (o) => (o.id = 'has space'), /\.id/],
    ['bodySite code with whitespace (FHIR code type)', (o) => (o.bodySite.coding[0].code = ' 77568009'), /bodySite\.coding\[0\]\.code/],
  ];
  for (const [name, mutate, where] of broken) {
    it(`rejects: ${name}`, () => {
      const o = obs();
      mutate(o);
      const r = validateObservation(o);
      expect(r.ok).toBe(false);
      expect(r.errors.join('\n')).toMatch(where);
    });
  }
});
