import { describe, expect, it } from 'vitest';
import { validateLesionMessage } from '../../src/publish/validate.js';
import {
  FINDING_CODE,
  LABEL_CONCEPTS,
  MESSAGE_ID_SYSTEM,
  messageIdOfObservation,
  observationRejection,
  toObservation,
  validateObservation,
  ifNoneExistOf,
} from '../../src/bridge/index.js';
import { lesionMessage, MODEL } from '../client/helpers/messages.js';

describe('stable verdict → FHIR R4 Observation', () => {
  const msg = lesionMessage({ seq: 4, label: 'malignant', box: [200, 120, 441, 361] });

  it('the fixture is a valid wire message', () => {
    expect(validateLesionMessage(msg).errors).toEqual([]);
  });

  it('maps every field the brief asks for', () => {
    const obs = toObservation(msg);
    expect(obs.resourceType).toBe('Observation');
    expect(obs.status).toBe('preliminary');
    expect(obs.identifier).toEqual([{ system: MESSAGE_ID_SYSTEM, value: 'derm-01:s1:lesion:4' }]);
    expect(messageIdOfObservation(obs)).toBe('derm-01:s1:lesion:4');
    expect(obs.code).toEqual(FINDING_CODE);
    expect(obs.code.coding![0]).toMatchObject({ system: 'http://snomed.info/sct', code: '404684003' });
    expect(obs.valueCodeableConcept).toEqual(LABEL_CONCEPTS.malignant);
    expect(obs.valueCodeableConcept.coding![0]!.code).toBe('363346000');
    expect(obs.effectiveDateTime).toBe(msg.frame.capturedAt);
    expect(obs.issued).toBe(msg.publishedAt);
    expect((obs as unknown as Record<string, unknown>).subject).toBeUndefined();
    expect(obs.note[0]!.text).toMatch(/EHR integration must link/);
    expect(obs.meta.security[0]!.code).toBe('AIAST');
    // The device, contained and referenced.
    expect(obs.device.reference).toBe('#device');
    expect(obs.contained[0].identifier[0]).toEqual({ system: 'urn:dermstream:device', value: 'derm-01' });
    // Model identity: method text + structured extension.
    for (const v of [MODEL.name, MODEL.version, MODEL.sha256, MODEL.quantization, MODEL.backend]) expect(obs.method.text).toContain(v);
    const ext = Object.fromEntries(obs.extension[0]!.extension!.map((e) => [e.url, e.valueString]));
    expect(ext).toEqual({ name: MODEL.name, version: MODEL.version, sha256: MODEL.sha256, quantization: MODEL.quantization, backend: MODEL.backend });
    // Components.
    const comp = Object.fromEntries(obs.component.map((c) => [c.code.coding![0]!.code, c]));
    expect(comp['probability-malignant']!.valueQuantity).toEqual({ value: 0.78, unit: '1', system: 'http://unitsofmeasure.org', code: '1' });
    expect(comp['probability-benign']!.valueQuantity!.value).toBe(0.22);
    expect(comp['probability-spread-malignant']!.valueQuantity!.value).toBe(0.04);
    expect(comp['frame-agreement']!.valueRatio).toEqual({ numerator: { value: 13, unit: 'frames', system: 'http://unitsofmeasure.org', code: '{frame}' }, denominator: { value: 15, unit: 'frames', system: 'http://unitsofmeasure.org', code: '{frame}' } });
    expect(comp['lesion-box-width']!.valueQuantity).toMatchObject({ value: 241, unit: 'image pixels', code: '{pixel}' });
    expect(comp['lesion-box-height']!.valueQuantity!.value).toBe(241);
    expect(comp['lesion-box-area-fraction']!.valueQuantity!.value).toBeCloseTo((241 / 640) * (241 / 480), 5);
    expect(comp['lesion-box-width']!.code.text).toMatch(/image pixels \(not a physical size\)/);
  });

  it('benign maps to SNOMED 20376005', () => {
    expect(toObservation(lesionMessage({ label: 'benign' })).valueCodeableConcept.coding![0]!.code).toBe('20376005');
  });

  it('refuses non-stable messages', () => {
    for (const state of ['searching', 'tracking', 'indeterminate', 'lost'] as const) {
      const m = lesionMessage({ state });
      expect(observationRejection(m)).toMatch(/only stable/);
      expect(() => toObservation(m)).toThrow(/only stable/);
    }
  });

  it('the conditional-create header names the identifier system and value', () => {
    expect(ifNoneExistOf('derm-01:s1:lesion:4')).toBe('identifier=urn%3Adermstream%3Amessage%7Cderm-01%3As1%3Alesion%3A4');
  });
});

describe('FHIR R4 Observation subset schema', () => {
  const obs = () => JSON.parse(JSON.stringify(toObservation(lesionMessage({ seq: 1 })))) as any;

  it('accepts what the bridge emits, for both labels and many shapes', () => {
    for (const label of ['benign', 'malignant'] as const)
      for (let seq = 0; seq < 5; seq++) {
        const r = validateObservation(toObservation(lesionMessage({ seq, label, contour: [[seq, seq], [100 + seq, 5], [50, 90 + seq]] })));
        expect(r.errors).toEqual([]);
      }
  });

  const broken: [string, (o: any) => void, RegExp][] = [
    ['status outside the R4 value set', (o) => (o.status = 'draft'), /\/status/],
    ['missing code', (o) => delete o.code, /code/],
    ['element not in R4 Observation', (o) => (o.verdict = 'x'), /additional properties \(verdict\)/],
    ['R5-only element', (o) => (o.triggeredBy = [{ type: 'reflex' }]), /triggeredBy/],
    ['dateTime with a bad format', (o) => (o.effectiveDateTime = '2025-13-01T00:00:00Z'), /effectiveDateTime/],
    ['instant without a time zone', (o) => (o.issued = '2025-10-01T00:00:00'), /issued/],
    ['empty string', (o) => (o.note[0].text = ''), /note\/0\/text/],
    ['null', (o) => (o.method.text = null), /method\/text/],
    ['empty array', (o) => (o.category = []), /category/],
    ['two value[x]', (o) => (o.valueString = 'benign'), /must NOT be valid|not/],
    ['dataAbsentReason with a value (obs-6)', (o) => (o.dataAbsentReason = { text: 'x' }), /must NOT be valid|not/],
    ['quantity with a code and no system (qty-3)', (o) => delete o.component[0].valueQuantity.system, /system/],
    ['component value of a wrong type', (o) => (o.component[0].valueQuantity = 0.5), /component\/0\/valueQuantity/],
    ['contained device not referenced (dom-3)', (o) => (o.device = { display: 'x' }), /dom-3/],
    ['component repeating the observation code (obs-7)', (o) => (o.component[0].code = o.code), /obs-7/],
    ['extension with value and sub-extensions (ext-1)', (o) => (o.extension[0].valueString = 'x'), /extension/],
    ['bad id in the contained device', (o) => (o.contained[0].id = 'has space'), /contained\/0\/id/],
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
