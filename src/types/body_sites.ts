/**
 * The body sites a clinician can pick for an examination: a short list of SNOMED CT body-structure concepts,
 * coarse enough to choose on a touch screen, each a real concept of the International Edition (code and its
 * preferred term / FSN without the semantic tag). Shared by the device (session/set validation, lesion
 * messages), the display (its picker) and the EHR bridge (Observation.bodySite).
 *
 * Checked against DICOM PS3.16 CID 4031 / 4042 and FHIR implementation guides that use the same concepts.
 * Deliberately not used: 39937001 (Skin structure: not a site), 302551006 (Entire thorax: an "entire"
 * concept, where body sites use "structure"), 818983003 (its FSN is the abdominopelvic cavity, not the skin
 * surface of the abdomen), 40983000 (Upper arm structure: narrower than the limb).
 */

export const SNOMED_CT = 'http://snomed.info/sct' as const;

export interface BodySite {
  system: typeof SNOMED_CT;
  code: string;
  display: string;
}

const site = (code: string, display: string): BodySite => ({ system: SNOMED_CT, code, display });

export const BODY_SITES: readonly BodySite[] = Object.freeze([
  site('41695006', 'Scalp structure'),
  site('89545001', 'Face structure'),
  site('69536005', 'Head structure'),
  site('45048000', 'Neck structure'),
  site('51185008', 'Thoracic structure'),
  site('113345001', 'Abdominal structure'),
  site('77568009', 'Structure of back of trunk'),
  site('53120007', 'Upper limb structure'),
  site('85562004', 'Hand structure'),
  site('61685007', 'Lower limb structure'),
  site('56459004', 'Foot structure'),
]);

/** The list's entry for `code`, or undefined. */
export function bodySiteByCode(code: string): BodySite | undefined {
  return BODY_SITES.find((s) => s.code === code);
}
