/**
 * Browser side, pure: the examination context the touch screen sets, as the retained `session/set` command of the
 * issue 8 contract (`{ schema, patientRef, bodySite }`, validated by schema/session-set.schema.json on the device).
 * The form's input is checked here first, so a bad reference is refused with the reason on the screen and nothing
 * is published; an empty reference or no site means "none" (null), which is how a session is cleared.
 */
import { BODY_SITES, bodySiteByCode } from '../../types/body_sites.js';
import { SESSION_SET_SCHEMA_ID, SESSION_SET_SCHEMA_VERSION, type SessionContext, type SessionSetCommand } from './contract.js';

/** A patient reference: an identifier (MRN, study id), not a name; 1–64 printable characters once trimmed. */
export const PATIENT_REF_MAX = 64;
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/;

export type SessionCommandResult = { ok: true; command: SessionSetCommand } | { ok: false; error: string };

export function sessionSetTopic(prefix: string, deviceId: string): string {
  return `${prefix}/${deviceId}/session/set`;
}

/** The command for what the form holds: the typed reference and the chosen site code (null = none). */
export function sessionSetCommand(patientRefInput: string, siteCode: string | null): SessionCommandResult {
  const ref = patientRefInput.trim();
  if (ref.length > PATIENT_REF_MAX) return { ok: false, error: `Patient reference is ${ref.length} characters; at most ${PATIENT_REF_MAX}` };
  if (CONTROL.test(ref)) return { ok: false, error: 'Patient reference contains a control character (tab, newline…); type it again' };
  let bodySite: SessionContext['bodySite'] = null;
  if (siteCode !== null) {
    const site = bodySiteByCode(siteCode);
    if (!site) return { ok: false, error: `Unknown body site ${siteCode}; choose one of the ${BODY_SITES.length} listed` };
    bodySite = { system: site.system, code: site.code, display: site.display };
  }
  return {
    ok: true,
    command: { schema: { id: SESSION_SET_SCHEMA_ID, version: SESSION_SET_SCHEMA_VERSION }, patientRef: ref === '' ? null : ref, bodySite },
  };
}

const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** A received `session/set` payload as a context, or null when it is not one. */
export function asSessionCommand(v: unknown): SessionContext | null {
  if (!isObj(v) || !isObj(v.schema) || v.schema.id !== SESSION_SET_SCHEMA_ID) return null;
  if (v.patientRef !== null && typeof v.patientRef !== 'string') return null;
  const b = v.bodySite;
  if (b !== null && !(isObj(b) && b.system === 'http://snomed.info/sct' && typeof b.code === 'string' && typeof b.display === 'string')) return null;
  return { patientRef: v.patientRef as string | null, bodySite: b as SessionContext['bodySite'] };
}
