/**
 * Which network produced a result: what goes on the wire as `model` and into the EHR record. Declared here, once,
 * because three rooms meet on it: src/model builds it when a model loads, src/publish puts it on every message,
 * src/bridge copies it into the Observation.
 */
export interface ModelIdentity {
  name: string;
  version: string;
  /** SHA-256 (lower-case hex) of the weight shards as loaded into memory, in model.json order. */
  sha256: string;
  quantization: 'float32' | 'float16' | 'uint8';
  backend: string;
  /** The operating point in force (lesion schema 1.1.0): from the model manifest unless a config key overrides it. */
  operatingPoint?: { threshold: number; margin: number; source: 'model' | 'config' };
}
