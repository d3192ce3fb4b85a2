/**
 * The operating point in force: `pipeline.debounce.malignantThreshold` / `uncertainMargin` come from the model
 * folder's manifest (`operatingPoint`, fitted to that model's calibration) unless the configuration sets them
 * explicitly. A model that declares none and a configuration that sets none is an error: a threshold only means
 * something for the calibration it was fitted to (0.5 gave 0 of 30 stable malignant verdicts with the shipped model,
 * its own 0.15 gave 28 of 30), so there is no model-independent default to fall back on.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { OperatingPointError, readOperatingPoint } from '../../model/operating_point.js';
import type { ConfigProblem, ConfigSource } from './errors.js';

export const THRESHOLD_KEY = 'pipeline.debounce.malignantThreshold';
export const MARGIN_KEY = 'pipeline.debounce.uncertainMargin';

/** What goes on the wire as `model.operatingPoint` (contract of issue 8). */
export interface OperatingPointInForce {
  threshold: number;
  margin: number;
  source: 'model' | 'config';
}

export interface ResolvedOperatingPoint {
  threshold?: number;
  margin?: number;
  /** Keys filled from the model, with the manifest as their source. */
  fromModel: Map<string, ConfigSource>;
  problems: ConfigProblem[];
}

/**
 * Fills the keys the configuration left unset from `<modelPath>/manifest.json`. A missing manifest is left to the
 * model loader (it names the fix); a manifest without an operating point, or a malformed one, is a problem here.
 */
export function resolveOperatingPoint(debounce: { malignantThreshold?: number; uncertainMargin?: number }, modelPath: string): ResolvedOperatingPoint {
  const out: ResolvedOperatingPoint = { threshold: debounce.malignantThreshold, margin: debounce.uncertainMargin, fromModel: new Map(), problems: [] };
  if (out.threshold !== undefined && out.margin !== undefined) return out;
  const manifest = path.join(modelPath, 'manifest.json');
  if (!existsSync(manifest)) return out;
  const key = out.threshold === undefined ? THRESHOLD_KEY : MARGIN_KEY;
  try {
    const op = readOperatingPoint(modelPath);
    if (!op) {
      out.problems.push({
        path: key,
        message: `not set, and the model declares no operating point (${manifest} has no operatingPoint)`,
        allowed: `set ${THRESHOLD_KEY} and ${MARGIN_KEY} to the threshold fitted to this model's calibration, or re-ship the model with \`dermstream quantize --calibrate --target-sensitivity 0.75 --data … --ids …\``,
      });
      return out;
    }
    const source: ConfigSource = { kind: 'model', file: manifest };
    if (out.threshold === undefined) {
      out.threshold = op.threshold;
      out.fromModel.set(THRESHOLD_KEY, source);
    }
    if (out.margin === undefined) {
      out.margin = op.margin;
      out.fromModel.set(MARGIN_KEY, source);
    }
  } catch (err) {
    if (!(err instanceof OperatingPointError)) throw err;
    out.problems.push({ path: key, message: err.message.split('\n')[0]!, allowed: err.hint });
  }
  return out;
}

/** The operating point for the wire, from the effective keys and where they came from. */
export function operatingPointInForce(debounce: { malignantThreshold?: number; uncertainMargin?: number }, sources: Record<string, ConfigSource>): OperatingPointInForce | undefined {
  const { malignantThreshold: threshold, uncertainMargin: margin } = debounce;
  if (threshold === undefined || margin === undefined) return undefined;
  const fromModel = [THRESHOLD_KEY, MARGIN_KEY].every((k) => sources[k]?.kind === 'model');
  return { threshold, margin, source: fromModel ? 'model' : 'config' };
}

/**
 * For `startRun` called with hand-built options (tests, embedders): the operating point for the keys left unset,
 * from the model. Throws with the fix when there is none.
 */
export function operatingPointForRun(debounce: { malignantThreshold?: number; uncertainMargin?: number } | undefined, modelDir: string): OperatingPointInForce {
  const r = resolveOperatingPoint(debounce ?? {}, modelDir);
  if (r.problems.length > 0) throw new Error(`${r.problems[0]!.path}: ${r.problems[0]!.message}; fix: ${r.problems[0]!.allowed}`);
  if (r.threshold === undefined || r.margin === undefined) throw new Error(`${THRESHOLD_KEY}: not set and ${modelDir} has no manifest.json to take the model's operating point from`);
  return { threshold: r.threshold, margin: r.margin, source: r.fromModel.size === 2 ? 'model' : 'config' };
}
