/**
 * Checks an Observation against the FHIR R4 subset schema (`fhir_observation.schema.json`) plus the rules a JSON
 * Schema cannot say: FHIR JSON has no nulls, empty strings, arrays or objects; a contained resource must be referenced
 * from the resource (dom-3); a component's code must differ from the Observation's code when it has a value (obs-7).
 */
import { Ajv2020, type ValidateFunction } from 'ajv/dist/2020.js';
import schema from './fhir_observation.schema.json' with { type: 'json' };

export interface ObservationCheck {
  ok: boolean;
  errors: string[];
}

let compiled: ValidateFunction | undefined;
function validator(): ValidateFunction {
  compiled ??= new Ajv2020({ allErrors: true, strict: true, strictRequired: false, allowUnionTypes: true }).compile(schema);
  // strictRequired off: the value[x]/obs-6 rules name properties inside `not`/`anyOf`, which is intended.
  return compiled;
}

export const FHIR_OBSERVATION_SCHEMA = schema;

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
  for (const c of ((cc as { coding?: { system?: string; code?: string }[] })?.coding ?? [])) out.add(`${c.system}|${c.code}`);
  return out;
}

export function validateObservation(obs: unknown): ObservationCheck {
  const fn = validator();
  const errors: string[] = [];
  if (!fn(obs)) {
    for (const e of fn.errors ?? []) {
      const extra = e.keyword === 'additionalProperties' ? ` (${String((e.params as { additionalProperty?: string }).additionalProperty)})` : '';
      errors.push(`${e.instancePath || '/'} ${e.message ?? e.keyword}${extra}`);
    }
  }
  walkEmpty(obs, '', errors);
  if (obs && typeof obs === 'object') {
    const o = obs as Record<string, unknown>;
    const text = JSON.stringify(o);
    for (const c of (Array.isArray(o.contained) ? o.contained : []) as { id?: string }[]) {
      if (c?.id && !text.includes(`"reference":"#${c.id}"`)) errors.push(`/contained ${c.id} is not referenced (dom-3)`);
    }
    const own = codingKeys(o.code);
    for (const [i, comp] of ((Array.isArray(o.component) ? o.component : []) as Record<string, unknown>[]).entries()) {
      const hasValue = Object.keys(comp ?? {}).some((k) => k.startsWith('value'));
      if (hasValue && [...codingKeys(comp.code)].some((k) => own.has(k))) errors.push(`/component/${i} repeats the Observation code with a value (obs-7)`);
    }
  }
  return { ok: errors.length === 0, errors };
}
