/**
 * One lesion examination (episode) → one FHIR R4 `Observation`. Pure: no clock, no I/O. Types from `@types/fhir`
 * (R4). Why each code: `observation.md` beside this file.
 *
 * The best frame: the snapshot nearest to it (when the bridge has one) as a contained `Media` in `derivedFrom`; the
 * frame seq always as the `best-frame-seq` component.
 *
 * Two sources, one resource (same `id`, same `identifier`):
 * - the episode's `ended` message → `status: final`, from the episode summary (mean probabilities and spread over
 *   the frames that saw the lesion, agreement, frames seen, duration, end reason, best frame);
 * - the last stable verdict of an episode whose `ended` never came (the device died mid-episode) →
 *   `status: preliminary`, from that message's smoothed window. When the `ended` arrives later, the final version
 *   replaces it (conditional update on the identifier; in the NDJSON file a later line with the same `id`).
 */
import { createHash } from 'node:crypto';
import type { CodeableConcept, Coding, Device, Extension, Media, Observation, ObservationComponent, Quantity, Reference } from 'fhir/r4.js';
import type { LesionLabel } from '../types/index.js';
import type { LesionMessage, SnapshotMessage } from '../publish/wire_message.js';
import { episodeIdOf, isEnded, operatingPointOf, sessionOf, summaryOf } from './episode_message.js';

export const EPISODE_ID_SYSTEM = 'urn:dermstream:episode';
export const DEVICE_ID_SYSTEM = 'urn:dermstream:device';
/** `<deviceId>:<sessionId>:frame:<frame seq>`: the frame a snapshot was made from. */
export const FRAME_ID_SYSTEM = 'urn:dermstream:frame';
/** For a `session.patientRef` that is not a FHIR reference (`Patient/<id>`): an identifier in this system unless configured. */
export const PATIENT_REF_SYSTEM = 'urn:dermstream:patient-ref';
export const COMPONENT_SYSTEM = 'https://dermstream.dev/fhir/CodeSystem/lesion-assessment';
export const MODEL_SYSTEM = 'https://dermstream.dev/fhir/CodeSystem/model';
export const MODEL_EXTENSION_URL = 'https://dermstream.dev/fhir/StructureDefinition/model-identity';
export const SNOMED = 'http://snomed.info/sct';
export const UCUM = 'http://unitsofmeasure.org';

export const FINDING_CODE: CodeableConcept = {
  coding: [{ system: SNOMED, code: '404684003', display: 'Clinical finding' }],
  text: 'Automated dermoscopic skin lesion classification (benign vs malignant), one examination of one lesion',
};

export const LABEL_CONCEPTS: Record<LesionLabel, CodeableConcept> = {
  benign: {
    coding: [{ system: SNOMED, code: '20376005', display: 'Benign neoplastic disease' }],
    text: 'Benign (automated classification)',
  },
  malignant: {
    coding: [{ system: SNOMED, code: '363346000', display: 'Malignant neoplastic disease' }],
    text: 'Malignant (automated classification)',
  },
};

/** The episode ended without a stable verdict: no value, and why (data-absent-reason). */
export const NO_VERDICT: CodeableConcept = {
  coding: [{ system: 'http://terminology.hl7.org/CodeSystem/data-absent-reason', code: 'unknown', display: 'Unknown' }],
  text: 'No stable verdict: the classification did not settle during this examination',
};

export const SUBJECT_NOTE =
  'Subject not set: no patient reference was set on the device for this session. The EHR integration must link this observation to the patient and encounter before it is used.';
export const REVIEW_NOTE = 'Automated result (AI asserted): a clinician must review it before any clinical decision.';

export type ObservationSource = 'ended' | 'last-stable';

export interface ObservationOptions {
  /** Identifier system for a `patientRef` that is not a FHIR reference (a site's MRN system); default `PATIENT_REF_SYSTEM`. */
  patientIdentifierSystem?: string;
}

/** The snapshot nearest to the episode's best frame (or to the verdict frame, for a preliminary), if the bridge has one. */
export interface ObservationExtras {
  snapshot?: SnapshotMessage | null;
}

/** The snapshot as a contained Media (`#best-frame`), for `derivedFrom`. */
function mediaOf(msg: LesionMessage, snap: SnapshotMessage, targetSeq: number | null, bodySite: CodeableConcept | undefined, subject: Reference | undefined): Media {
  const exact = targetSeq === null || snap.frame.seq === targetSeq;
  return {
    resourceType: 'Media',
    id: 'best-frame',
    identifier: [{ system: FRAME_ID_SYSTEM, value: `${snap.deviceId}:${snap.sessionId}:frame:${snap.frame.seq}` }],
    status: 'completed',
    type: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/media-type', code: 'image', display: 'Image' }] },
    ...(subject ? { subject } : {}),
    createdDateTime: snap.frame.capturedAt,
    device: { reference: '#device' },
    ...(bodySite ? { bodySite } : {}),
    height: snap.image.height,
    width: snap.image.width,
    frames: 1,
    content: {
      contentType: 'image/jpeg',
      data: snap.image.data,
      title: exact
        ? `Dermoscopic frame ${snap.frame.seq} (thumbnail ${snap.image.width}x${snap.image.height} of ${snap.frame.width}x${snap.frame.height})`
        : `Dermoscopic frame ${snap.frame.seq}, the snapshot nearest to the best frame ${targetSeq} (thumbnail ${snap.image.width}x${snap.image.height} of ${snap.frame.width}x${snap.frame.height})`,
    },
    note: [{ text: `Snapshot of device ${msg.deviceId}, session ${snap.sessionId}, frame seq ${snap.frame.seq}.` }],
  };
}

/** The resource id of an episode's Observation: the same for every version, so an NDJSON reader keeps the last. */
export function observationIdOf(episodeId: string): string {
  return `dermstream-ep-${createHash('sha256').update(episodeId).digest('hex').slice(0, 40)}`;
}

/** Why a message cannot become an episode Observation, or null. */
export function observationRejection(msg: LesionMessage): string | null {
  if (msg.kind !== 'lesion') return `kind is ${msg.kind}, only lesion messages become observations`;
  const id = episodeIdOf(msg);
  if (!id) return 'no episodeId (a lesion-message 1.0.0 device: episodes need schema 1.1.0)';
  if (isEnded(msg)) {
    if (!summaryOf(msg)) return 'ended message without an episode summary';
    return null;
  }
  if (msg.state !== 'stable') return `state is ${msg.state}: only an episode's ended message or its last stable verdict become observations`;
  if (msg.label === null || msg.probabilities === null) return 'stable message without a label or probabilities';
  return null;
}

const unitless = (value: number): Quantity => ({ value: round(value, 6), unit: '1', system: UCUM, code: '1' });
const frames = (value: number): Quantity => ({ value, unit: 'frames', system: UCUM, code: '{frame}' });

function round(v: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(v * f) / f;
}

function component(code: string, display: string, value: Omit<ObservationComponent, 'code'>): ObservationComponent {
  return { code: { coding: [{ system: COMPONENT_SYSTEM, code, display }], text: display }, ...value };
}

/** `Patient/123` (or an absolute URL / urn) is a reference; anything else is an identifier value. */
export function subjectOf(patientRef: string, opts: ObservationOptions = {}): Reference {
  if (/^(Patient|Group)\/[A-Za-z0-9\-.]{1,64}$/.test(patientRef) || /^(https?:\/\/|urn:uuid:|urn:oid:)/.test(patientRef)) return { reference: patientRef };
  return { identifier: { system: opts.patientIdentifierSystem ?? PATIENT_REF_SYSTEM, value: patientRef } };
}

function deviceOf(msg: LesionMessage): Device {
  const m = msg.model;
  return {
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
  };
}

function modelExtension(msg: LesionMessage): Extension {
  const m = msg.model;
  return {
    url: MODEL_EXTENSION_URL,
    extension: [
      { url: 'name', valueString: m.name },
      { url: 'version', valueString: m.version },
      { url: 'sha256', valueString: m.sha256 },
      { url: 'quantization', valueString: m.quantization },
      { url: 'backend', valueString: m.backend },
    ],
  };
}

function bodySiteOf(msg: LesionMessage): CodeableConcept | undefined {
  const site = sessionOf(msg).bodySite;
  if (!site) return undefined;
  const coding: Coding = { system: site.system, code: site.code, display: site.display };
  return { coding: [coding], text: site.display };
}

/**
 * The Observation for one episode, from its `ended` message (final) or from its last stable verdict (preliminary).
 * Throws with the reason when the message cannot be one (`observationRejection`).
 */
export function toObservation(msg: LesionMessage, opts: ObservationOptions = {}, extras: ObservationExtras = {}): Observation {
  const why = observationRejection(msg);
  if (why) throw new Error(`cannot map ${msg.messageId} to an Observation: ${why}`);
  const episodeId = episodeIdOf(msg)!;
  const ended = isEnded(msg);
  const m = msg.model;
  const op = operatingPointOf(msg);
  const session = sessionOf(msg);
  const modelText = `dermstream lesion model ${m.name} ${m.version} (weights sha256 ${m.sha256}, ${m.quantization}, backend ${m.backend})`;

  const components: ObservationComponent[] = [];
  let verdict: LesionLabel | null;
  let bestFrameSeq: number | null;
  let effective: Pick<Observation, 'effectivePeriod' | 'effectiveDateTime'>;
  const source: string[] = [];
  if (ended) {
    const ep = summaryOf(msg)!;
    verdict = ep.verdict;
    bestFrameSeq = ep.bestFrameSeq;
    effective = { effectivePeriod: { start: ep.startedAt, end: ep.endedAt } };
    if (ep.meanProbabilities) {
      components.push(
        component('probability-malignant', 'Probability of malignant: mean over the frames that saw the lesion', { valueQuantity: unitless(ep.meanProbabilities.malignant) }),
        component('probability-benign', 'Probability of benign: mean over the frames that saw the lesion', { valueQuantity: unitless(ep.meanProbabilities.benign) }),
      );
    }
    if (ep.spread) {
      components.push(
        component('probability-spread-malignant', 'Frame-to-frame variation (standard deviation) of the malignant probability', { valueQuantity: unitless(ep.spread.malignant) }),
      );
    }
    components.push(
      component('frames-seen', 'Frames that saw the lesion during the examination', { valueInteger: ep.framesSeen }),
      component('frame-agreement', 'Frames agreeing with the verdict / frames that saw the lesion', {
        valueRatio: { numerator: frames(ep.agreement.agreeing), denominator: frames(Math.max(1, ep.agreement.frames)) },
      }),
      component('examination-duration', 'Duration of the examination', { valueQuantity: { value: ep.durationMs, unit: 'ms', system: UCUM, code: 'ms' } }),
      component('end-reason', 'Why the examination ended', { valueString: ep.endReason }),
    );
    source.push(`Summary of episode ${episodeId} (ended: ${ep.endReason}).`);
  } else {
    verdict = msg.label;
    bestFrameSeq = null;
    effective = { effectiveDateTime: msg.frame.capturedAt };
    const p = msg.probabilities!;
    components.push(
      component('probability-malignant', 'Probability of malignant: smoothed over the debounce window of the last stable verdict', { valueQuantity: unitless(p.malignant) }),
      component('probability-benign', 'Probability of benign: smoothed over the debounce window of the last stable verdict', { valueQuantity: unitless(p.benign) }),
    );
    if (msg.spread) {
      components.push(component('probability-spread-malignant', 'Frame-to-frame variation (standard deviation) of the malignant probability over the window', { valueQuantity: unitless(msg.spread.malignant) }));
    }
    components.push(
      component('frame-agreement', 'Frames agreeing with the verdict / frames in the debounce window', {
        valueRatio: { numerator: frames(msg.agreement.agreeing), denominator: frames(Math.max(1, msg.agreement.window)) },
      }),
      component('verdict-frame-seq', 'Frame seq of the last stable verdict', { valueInteger: msg.frame.seq }),
    );
    source.push(
      `Preliminary: the device stopped reporting during episode ${episodeId} (no end of examination received); this is its last stable verdict (message ${msg.messageId}). It is replaced by the final result if the end arrives later.`,
    );
  }
  if (op) {
    components.push(
      component('operating-threshold', `Operating threshold on p(malignant) (from the ${op.source}); at or above it the verdict is malignant`, { valueQuantity: unitless(op.threshold) }),
      component('operating-margin', 'Hysteresis margin around the operating threshold', { valueQuantity: unitless(op.margin) }),
    );
  }
  if (bestFrameSeq !== null) {
    components.push(
      component('best-frame-seq', `Frame seq of the best frame (snapshot on <prefix>/${msg.deviceId}/snapshot, session ${msg.sessionId}, frame.seq ${bestFrameSeq})`, {
        valueInteger: bestFrameSeq,
      }),
    );
  }

  const notes = [REVIEW_NOTE];
  if (!session.patientRef) notes.push(SUBJECT_NOTE);
  notes.push(`${source.join(' ')} Model: ${modelText}. Device ${msg.deviceId}, session ${msg.sessionId}.`);

  const subject = session.patientRef ? subjectOf(session.patientRef, opts) : undefined;
  const site = bodySiteOf(msg);
  const media = extras.snapshot ? mediaOf(msg, extras.snapshot, ended ? bestFrameSeq : msg.frame.seq, site, subject) : null;
  const obs: Observation = {
    resourceType: 'Observation',
    id: observationIdOf(episodeId),
    meta: { security: [{ system: 'http://terminology.hl7.org/CodeSystem/v3-ObservationValue', code: 'AIAST', display: 'Artificial Intelligence asserted' }] },
    contained: media ? [deviceOf(msg), media] : [deviceOf(msg)],
    extension: [modelExtension(msg)],
    identifier: [{ system: EPISODE_ID_SYSTEM, value: episodeId }],
    status: ended ? 'final' : 'preliminary',
    category: [{ coding: [{ system: 'http://terminology.hl7.org/CodeSystem/observation-category', code: 'exam', display: 'Exam' }] }],
    code: FINDING_CODE,
    ...(subject ? { subject } : {}),
    ...effective,
    issued: msg.publishedAt,
    ...(verdict ? { valueCodeableConcept: LABEL_CONCEPTS[verdict] } : { dataAbsentReason: NO_VERDICT }),
    note: notes.map((text) => ({ text })),
    ...(site ? { bodySite: site } : {}),
    method: { coding: [{ system: MODEL_SYSTEM, code: `${m.name}@${m.version}`, display: `${m.name} ${m.version}` }], text: modelText },
    device: { reference: '#device', display: `dermstream ${msg.deviceId}` },
    ...(media ? { derivedFrom: [{ reference: '#best-frame', display: media.content.title }] } : {}),
    component: components,
  };
  return obs;
}

/** The episode id an Observation was made for, or null. */
export function episodeIdOfObservation(obs: unknown): string | null {
  const ids = (obs as { identifier?: unknown })?.identifier;
  if (!Array.isArray(ids)) return null;
  for (const id of ids) {
    if (id && typeof id === 'object' && id.system === EPISODE_ID_SYSTEM && typeof id.value === 'string') return id.value as string;
  }
  return null;
}

export function statusOfObservation(obs: unknown): 'final' | 'preliminary' | null {
  const s = (obs as { status?: unknown })?.status;
  return s === 'final' || s === 'preliminary' ? s : null;
}
