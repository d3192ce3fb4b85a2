/**
 * The `session/set` command: the examination context (patient reference, body site) set from the display or
 * an EHR integration on the retained topic `<prefix>/<deviceId>/session/set`. Pure: payload in, context or a
 * reason out. The publisher applies a valid one to every following lesion/live message and ignores an invalid
 * one (logging why), so a bad command never clears a context in force.
 */
import { bodySiteByCode } from '../types/index.js';
import { validateSessionSetMessage } from './validate.js';
import { SESSION_SET_SCHEMA_ID, SESSION_SET_SCHEMA_VERSION, type SessionContext, type SessionSetMessage } from './wire_message.js';

export type SessionSetResult = { ok: true; session: SessionContext; cleared: boolean } | { ok: false; reason: string };

const MAX_BYTES = 4096;

export function parseSessionSet(payload: Uint8Array | string): SessionSetResult {
  const text = typeof payload === 'string' ? payload : Buffer.from(payload).toString('utf8');
  // A zero-length retained message is how MQTT deletes the retained command: the context is cleared.
  if (text.length === 0) return { ok: true, session: { patientRef: null, bodySite: null }, cleared: true };
  if (text.length > MAX_BYTES) return { ok: false, reason: `payload of ${text.length} bytes exceeds ${MAX_BYTES}` };
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    return { ok: false, reason: `not JSON (${(err as Error).message}); send {"schema":{"id":"${SESSION_SET_SCHEMA_ID}","version":"${SESSION_SET_SCHEMA_VERSION}"},"patientRef":…,"bodySite":…}` };
  }
  const v = validateSessionSetMessage(json);
  if (!v.ok) return { ok: false, reason: `does not match session-set.schema.json: ${v.errors.slice(0, 5).join('; ')}` };
  const msg = json as SessionSetMessage;
  if (msg.bodySite && !bodySiteByCode(msg.bodySite.code)) {
    // The schema accepts any SNOMED CT id; the device only records sites of its verified short list.
    return { ok: false, reason: `body site ${msg.bodySite.code} (${msg.bodySite.display}) is not in the device's list (src/types/body_sites.ts)` };
  }
  const site = msg.bodySite ? bodySiteByCode(msg.bodySite.code)! : null;
  return { ok: true, session: { patientRef: msg.patientRef, bodySite: site ? { ...site } : null }, cleared: msg.patientRef === null && site === null };
}

/** A `session/set` payload, for the display and tests. */
export function toSessionSetMessage(session: SessionContext): SessionSetMessage {
  return { schema: { id: SESSION_SET_SCHEMA_ID, version: SESSION_SET_SCHEMA_VERSION }, patientRef: session.patientRef, bodySite: session.bodySite ? { ...session.bodySite } : null };
}
