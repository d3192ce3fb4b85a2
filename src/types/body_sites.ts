/**
 * The body sites a lesion examination can name: a short list of SNOMED CT body-structure concepts (issue 8
 * contract), coarse enough to choose on a touch screen and each a real concept (codes checked against published
 * SNOMED CT value sets: e.g. 40983000 is the *upper arm*, not the whole limb, so the limb is 53120007; 39937001 is
 * skin structure, so the scalp is 41695006). `display` is the concept's preferred term. Short and correct rather
 * than long: laterality and finer sites belong to the EHR's own form.
 */
export const SNOMED_CT = 'http://snomed.info/sct' as const;

export interface BodySite {
  system: typeof SNOMED_CT;
  code: string;
  display: string;
}

const site = (code: string, display: string): BodySite => ({ system: SNOMED_CT, code, display });

export const BODY_SITES: readonly BodySite[] = [
  site('41695006', 'Scalp structure'),
  site('89545001', 'Face structure'),
  site('45048000', 'Neck structure'),
  site('302551006', 'Entire thorax'),
  site('818983003', 'Abdomen'),
  site('77568009', 'Structure of back of trunk'),
  site('53120007', 'Upper limb structure'),
  site('85562004', 'Hand structure'),
  site('61685007', 'Lower limb structure'),
  site('56459004', 'Foot structure'),
];

/** The site with this code from the list, or undefined. */
export function bodySiteByCode(code: string): BodySite | undefined {
  return BODY_SITES.find((s) => s.code === code);
}
