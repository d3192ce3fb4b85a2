/**
 * A stable lesion verdict (wire `LesionMessage`, state `stable`) → a FHIR R4 `Observation`. Pure: no clock, no I/O.
 *
 * Mapping (each choice is also stated in the resource itself, so a reader of the EHR does not need this file):
 * - `status` `preliminary`: an automated result that a clinician has not reviewed.
 * - `meta.security` HL7 `AIAST` ("Artificial Intelligence asserted", v3-ObservationValue), as the HL7 AI Transparency
 *   on FHIR guide recommends for AI-produced data.
 * - `category` `exam` (observation-category).
 * - `code`: SNOMED CT 404684003 |Clinical finding| with the text "Automated dermoscopic skin lesion classification
 *   (benign vs malignant)". No LOINC/SNOMED code names "AI dermoscopy classification" exactly; the generic finding
 *   concept plus an explicit text is the honest choice, a site with a local code can add a coding.
 * - `valueCodeableConcept`: SNOMED CT 20376005 |Benign neoplastic disease| or 363346000 |Malignant neoplastic
 *   disease|, with a text that says it is an automated classification.
 * - `component` (codes from the local system `COMPONENT_SYSTEM`): the smoothed probability of each class and its
 *   spread (standard deviation over the debounce window) as `valueQuantity` with UCUM unit `1`; the agreement as a
 *   `valueRatio` (agreeing frames / window); the lesion box width and height in *image pixels* (UCUM `{pixel}` — a
 *   count, not a physical size: the image has no mm scale) and its area as a fraction of the frame (unit `1`).
 * - `device`: a contained `Device` (`#device`) with the device id (`urn:dermstream:device`) and the model versions.
 * - model identity (name, version, weights sha256, quantization, backend): in `method` (coding + text) and,
 *   structured, in the extension `MODEL_EXTENSION_URL` with one sub-extension per field.
 * - `effectiveDateTime` = the frame's capture time, `issued` = the message's `publishedAt`.
 * - `identifier` = `{ system: 'urn:dermstream:message', value: messageId }`: the idempotency key for the EHR
 *   (conditional create `If-None-Exist: identifier=urn:dermstream:message|<id>`) and for the bridge's de-duplication.
 * - `subject` is left out: the device does not know the patient. A `note` says the EHR integration must link the
 *   patient and encounter (and a clinician confirm) before the observation becomes final.
 */
import type { LesionLabel } from '../types/index.js';
import type { LesionMessage } from '../publish/wire_message.js';

export const MESSAGE_ID_SYSTEM = 'urn:dermstream:message';
export const DEVICE_ID_SYSTEM = 'urn:dermstream:device';
export const SESSION_ID_SYSTEM = 'urn:dermstream:session';
export const COMPONENT_SYSTEM = 'https://dermstream.dev/fhir/CodeSystem/lesion-assessment';
export const MODEL_SYSTEM = 'https://dermstream.dev/fhir/CodeSystem/model';
export const MODEL_EXTENSION_URL = 'https://dermstream.dev/fhir/StructureDefinition/model-identity';
export const SNOMED = 'http://snomed.info/sct';
export const UCUM = 'http://unitsofmeasure.org';

export interface Coding {
  system?: string;
  code?: string;
  display?: string;
}
export interface CodeableConcept {
  coding?: Coding[];
  text?: string;
}
export interface Quantity {
  value: number;
  unit?: string;
  system?: string;
  code?: string;
}
export interface Identifier {
  system: string;
  value: string;
}
export interface Extension {
  url: string;
  valueString?: string;
  extension?: Extension[];
}
export interface ObservationComponent {
  code: CodeableConcept;
  valueQuantity?: Quantity;
  valueRatio?: { numerator: Quantity; denominator: Quantity };
}
export interface ContainedDevice {
  resourceType: 'Device';
  id: string;
  identifier: Identifier[];
  status: 'active';
  deviceName: { name: string; type: 'user-friendly-name' | 'model-name' | 'manufacturer-name' | 'other' }[];
  type: CodeableConcept;
  version: { type: CodeableConcept; value: string }[];
}

/** The subset of FHIR R4 Observation this bridge emits (see `fhir_observation.schema.json`). */
export interface FhirObservation {
  resourceType: 'Observation';
  meta: { security: Coding[] };
  contained: [ContainedDevice];
  extension: Extension[];
  identifier: Identifier[];
  status: 'preliminary';
  category: CodeableConcept[];
  code: CodeableConcept;
  effectiveDateTime: string;
  issued: string;
  valueCodeableConcept: CodeableConcept;
  note: { text: string }[];
  method: CodeableConcept;
  device: { reference: string; display: string };
  component: ObservationComponent[];
}

export const FINDING_CODE: CodeableConcept = {
  coding: [{ system: SNOMED, code: '404684003', display: 'Clinical finding' }],
  text: 'Automated dermoscopic skin lesion classification (benign vs malignant)',
};

export const LABEL_CONCEPTS: Record<LesionLabel, CodeableConcept> = {
  benign: {
    coding: [{ system: SNOMED, code: '20376005', display: 'Benign neoplastic disease' }],
    text: 'Benign (automated classification, preliminary)',
  },
  malignant: {
    coding: [{ system: SNOMED, code: '363346000', display: 'Malignant neoplastic disease' }],
    text: 'Malignant (automated classification, preliminary)',
  },
};

export const SUBJECT_NOTE =
  'Subject not set: the device does not know the patient. The EHR integration must link this observation to the patient and encounter, and a clinician must review it, before it is used or made final.';

const unitless = (value: number): Quantity => ({ value: round(value, 6), unit: '1', system: UCUM, code: '1' });
const pixels = (value: number): Quantity => ({ value: round(value, 2), unit: 'image pixels', system: UCUM, code: '{pixel}' });
const count = (value: number): Quantity => ({ value, unit: 'frames', system: UCUM, code: '{frame}' });

function round(v: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(v * f) / f;
}

function component(code: string, display: string, value: Pick<ObservationComponent, 'valueQuantity' | 'valueRatio'>): ObservationComponent {
  return { code: { coding: [{ system: COMPONENT_SYSTEM, code, display }], text: display }, ...value };
}

/** Why a message cannot become an Observation (the caller filters on `state === 'stable'` first). */
export function observationRejection(msg: LesionMessage): string | null {
  if (msg.state !== 'stable') return `state is ${msg.state}, only stable verdicts become observations`;
  if (msg.kind !== 'lesion') return `kind is ${msg.kind}, only lesion messages become observations`;
  if (msg.label === null) return 'stable message without a label';
  if (msg.probabilities === null) return 'stable message without probabilities';
  if (msg.box === null) return 'stable message without a box';
  return null;
}

export function toObservation(msg: LesionMessage): FhirObservation {
  const why = observationRejection(msg);
  if (why) throw new Error(`cannot map ${msg.messageId} to an Observation: ${why}`);
  const label = msg.label!;
  const p = msg.probabilities!;
  const box = msg.box!;
  const m = msg.model;
  const [x1, y1, x2, y2] = box.pixels;
  const [nx1, ny1, nx2, ny2] = box.normalized;
  const areaFraction = Math.max(0, nx2 - nx1) * Math.max(0, ny2 - ny1);
  const modelText = `dermstream lesion model ${m.name} ${m.version} (weights sha256 ${m.sha256}, ${m.quantization}, backend ${m.backend})`;

  const components: ObservationComponent[] = [
    component('probability-benign', 'Probability of benign (model output, smoothed over the debounce window)', { valueQuantity: unitless(p.benign) }),
    component('probability-malignant', 'Probability of malignant (model output, smoothed over the debounce window)', { valueQuantity: unitless(p.malignant) }),
  ];
  if (msg.spread) {
    components.push(
      component('probability-spread-benign', 'Spread (standard deviation over the window) of the benign probability', { valueQuantity: unitless(msg.spread.benign) }),
      component('probability-spread-malignant', 'Spread (standard deviation over the window) of the malignant probability', { valueQuantity: unitless(msg.spread.malignant) }),
    );
  }
  components.push(
    component('frame-agreement', 'Frames agreeing with the label / frames in the window', {
      valueRatio: { numerator: count(msg.agreement.agreeing), denominator: count(msg.agreement.window) },
    }),
    component('lesion-box-width', 'Lesion bounding box width in image pixels (not a physical size)', { valueQuantity: pixels(Math.max(0, x2 - x1)) }),
    component('lesion-box-height', 'Lesion bounding box height in image pixels (not a physical size)', { valueQuantity: pixels(Math.max(0, y2 - y1)) }),
    component('lesion-box-area-fraction', 'Lesion bounding box area as a fraction of the image area', { valueQuantity: unitless(areaFraction) }),
  );

  return {
    resourceType: 'Observation',
    meta: { security: [{ system: 'http://terminology.hl7.org/CodeSystem/v3-ObservationValue', code: 'AIAST', display: 'Artificial Intelligence asserted' }] },
    contained: [
      {
        resourceType: 'Device',
        id: 'device',
        identifier: [{ system: DEVICE_ID_SYSTEM, value: msg.deviceId }],
        status: 'active',
        deviceName: [{ name: `dermstream ${msg.deviceId}`, type: 'user-friendly-name' }],
        type: { text: 'Dermatoscope with automated lesion analysis (dermstream)' },
        version: [
          { type: { text: 'model' }, value: `${m.name} ${m.version}` },
          { type: { text: 'model weights sha256' }, value: m.sha256 },
        ],
      },
    ],
    extension: [
      {
        url: MODEL_EXTENSION_URL,
        extension: [
          { url: 'name', valueString: m.name },
          { url: 'version', valueString: m.version },
          { url: 'sha256', valueString: m.sha256 },
          { url: 'quantization', valueString: m.quantization },
          { url: 'backend', valueString: m.backend },
        ],
      },
    ],
    identifier: [{ system: MESSAGE_ID_SYSTEM, value: msg.messageId }],
    status: 'preliminary',
    category: [{ coding: [{ system: 'http://terminology.hl7.org/CodeSystem/observation-category', code: 'exam', display: 'Exam' }] }],
    code: FINDING_CODE,
    effectiveDateTime: msg.frame.capturedAt,
    issued: msg.publishedAt,
    valueCodeableConcept: LABEL_CONCEPTS[label],
    note: [
      { text: SUBJECT_NOTE },
      {
        text:
          `Automated result of ${modelText}. Device ${msg.deviceId}, session ${msg.sessionId}, message seq ${msg.seq}, track ${msg.trackId ?? 'none'}, ` +
          `frame ${msg.frame.seq} (${msg.frame.width}x${msg.frame.height} px). Sizes are in image pixels, not millimetres.`,
      },
    ],
    method: { coding: [{ system: MODEL_SYSTEM, code: `${m.name}@${m.version}`, display: `${m.name} ${m.version}` }], text: modelText },
    device: { reference: '#device', display: `dermstream ${msg.deviceId}` },
    component: components,
  };
}

/** The dermstream message id an Observation was made from, or null. */
export function messageIdOfObservation(obs: unknown): string | null {
  const ids = (obs as { identifier?: unknown })?.identifier;
  if (!Array.isArray(ids)) return null;
  for (const id of ids) {
    if (id && typeof id === 'object' && (id as Identifier).system === MESSAGE_ID_SYSTEM && typeof (id as Identifier).value === 'string') return (id as Identifier).value;
  }
  return null;
}
