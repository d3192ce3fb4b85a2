/**
 * Compiled JSON Schema (draft 2020-12) validators for every message dermstream publishes. The producer's tests use
 * them, the publisher checks each outgoing message with them (counting failures; it still sends), and consumers
 * (the EHR bridge, the display) can import them: `validateLesionMessage(JSON.parse(payload))`.
 */
import { Ajv2020, type ErrorObject, type ValidateFunction } from 'ajv/dist/2020.js';
import ajvFormats from 'ajv-formats';
import lesionSchema from '../../schema/lesion-message.schema.json' with { type: 'json' };
import statusSchema from '../../schema/status-message.schema.json' with { type: 'json' };
import metricsSchema from '../../schema/metrics-message.schema.json' with { type: 'json' };
import snapshotSchema from '../../schema/snapshot-message.schema.json' with { type: 'json' };
import sessionSetSchema from '../../schema/session-set.schema.json' with { type: 'json' };
import type { LesionMessage, MetricsMessage, SessionSetMessage, SnapshotMessage, StatusMessage } from './wire_message.js';

export interface ValidationResult {
  ok: boolean;
  /** Human-readable errors (`/path message`), empty when ok. */
  errors: string[];
}

export const SCHEMAS = {
  lesion: lesionSchema,
  status: statusSchema,
  metrics: metricsSchema,
  snapshot: snapshotSchema,
  sessionSet: sessionSetSchema,
} as const;

// ajv-formats is CommonJS; under NodeNext its plugin is the `default` property of the module object.
const addFormats = (ajvFormats as unknown as { default: (ajv: Ajv2020) => Ajv2020 }).default;

let compiled:
  | {
      lesion: ValidateFunction<LesionMessage>;
      status: ValidateFunction<StatusMessage>;
      metrics: ValidateFunction<MetricsMessage>;
      snapshot: ValidateFunction<SnapshotMessage>;
      sessionSet: ValidateFunction<SessionSetMessage>;
    }
  | undefined;

/** Compiles once, on first use (about 50 ms), so importing this module stays cheap. */
function validators(): NonNullable<typeof compiled> {
  if (!compiled) {
    const ajv = new Ajv2020({ allErrors: true, strict: true, allowUnionTypes: true });
    addFormats(ajv);
    // contentEncoding/contentMediaType are annotations in 2020-12; ajv knows them as such.
    for (const s of Object.values(SCHEMAS)) ajv.addSchema(s);
    compiled = {
      lesion: ajv.getSchema<LesionMessage>(lesionSchema.$id)!,
      status: ajv.getSchema<StatusMessage>(statusSchema.$id)!,
      metrics: ajv.getSchema<MetricsMessage>(metricsSchema.$id)!,
      snapshot: ajv.getSchema<SnapshotMessage>(snapshotSchema.$id)!,
      sessionSet: ajv.getSchema<SessionSetMessage>(sessionSetSchema.$id)!,
    };
  }
  return compiled;
}

function formatErrors(errors: ErrorObject[] | null | undefined): string[] {
  return (errors ?? []).map((e) => `${e.instancePath || '/'} ${e.message ?? e.keyword}${
    e.keyword === 'additionalProperties' ? ` (${String((e.params as { additionalProperty?: string }).additionalProperty)})` : ''
  }`);
}

function run<T>(fn: ValidateFunction<T>, msg: unknown): ValidationResult {
  const ok = fn(msg) as boolean;
  return { ok, errors: ok ? [] : formatErrors(fn.errors) };
}

/** Validates a lesion or live message (already parsed from JSON) against `schema/lesion-message.schema.json`. */
export function validateLesionMessage(msg: unknown): ValidationResult {
  return run(validators().lesion, msg);
}

export function validateStatusMessage(msg: unknown): ValidationResult {
  return run(validators().status, msg);
}

export function validateMetricsMessage(msg: unknown): ValidationResult {
  return run(validators().metrics, msg);
}

export function validateSnapshotMessage(msg: unknown): ValidationResult {
  return run(validators().snapshot, msg);
}

/** Validates a `session/set` command payload against `schema/session-set.schema.json`. */
export function validateSessionSetMessage(msg: unknown): ValidationResult {
  return run(validators().sessionSet, msg);
}

/** Type guard form, for consumers. */
export function isLesionMessage(msg: unknown): msg is LesionMessage {
  return validators().lesion(msg) as boolean;
}
