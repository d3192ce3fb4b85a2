/**
 * CONTRACT-8 (lesion-message 1.1.0) for the bridge's tests while the schema file is still 1.0.0 on this branch:
 * extends the loaded schema object in place — before anything compiles it (`validate.ts` compiles on first use) —
 * with exactly the additions the contract names (state `ended`, optional `episodeId`, `session`, `episode`,
 * `model.operatingPoint`). Once the device side's 1.1.0 schema is merged this finds `ended` already there and does
 * nothing, so the tests then run against the real file. Import it first in every test file (and child) that needs it.
 */
import lesionSchema from '../../../schema/lesion-message.schema.json' with { type: 'json' };

const s = lesionSchema as unknown as {
  properties: Record<string, unknown> & { state: { enum: string[] } };
  $defs: { model: { properties: Record<string, unknown> } };
};

const probabilities = { $ref: '#/$defs/probabilities' };
const nullable = (x: object) => ({ oneOf: [{ type: 'null' }, x] });
const snomed = {
  type: 'object',
  additionalProperties: false,
  required: ['system', 'code', 'display'],
  properties: { system: { const: 'http://snomed.info/sct' }, code: { type: 'string', pattern: '^[0-9]{6,18}$' }, display: { type: 'string', minLength: 1 } },
};

export const CONTRACT_APPLIED = !s.properties.state.enum.includes('ended');
if (CONTRACT_APPLIED) {
  s.properties.state.enum.push('ended');
  s.properties.episodeId = nullable({ type: 'string', minLength: 1, maxLength: 200 });
  s.properties.session = nullable({
    type: 'object',
    additionalProperties: false,
    required: ['patientRef', 'bodySite'],
    properties: { patientRef: nullable({ type: 'string', minLength: 1, maxLength: 256 }), bodySite: nullable(snomed) },
  });
  s.properties.episode = nullable({
    type: 'object',
    additionalProperties: false,
    required: ['id', 'startedAt', 'endedAt', 'durationMs', 'endReason', 'verdict', 'meanProbabilities', 'spread', 'agreement', 'framesSeen', 'bestFrameSeq'],
    properties: {
      id: { type: 'string', minLength: 1 },
      startedAt: { type: 'string', format: 'date-time' },
      endedAt: { type: 'string', format: 'date-time' },
      durationMs: { type: 'number', minimum: 0 },
      endReason: { enum: ['lifted', 'new-lesion', 'lost', 'source-ended', 'shutdown'] },
      verdict: { enum: ['benign', 'malignant', null] },
      meanProbabilities: nullable(probabilities),
      spread: nullable(probabilities),
      agreement: { type: 'object', required: ['agreeing', 'frames'], properties: { agreeing: { type: 'integer', minimum: 0 }, frames: { type: 'integer', minimum: 0 } } },
      framesSeen: { type: 'integer', minimum: 0 },
      bestFrameSeq: nullable({ type: 'integer', minimum: 0 }),
    },
  });
  s.$defs.model.properties.operatingPoint = {
    type: 'object',
    additionalProperties: false,
    required: ['threshold', 'margin', 'source'],
    properties: { threshold: { type: 'number', minimum: 0, maximum: 1 }, margin: { type: 'number', minimum: 0, maximum: 1 }, source: { enum: ['model', 'config'] } },
  };
}
