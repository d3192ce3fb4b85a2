import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { EDGE_CONFIG, type ModelConfig } from '../../src/model/config.js';

/** A network small enough to build, save and train in a test within seconds. */
export const TINY_CONFIG: ModelConfig = {
  ...EDGE_CONFIG,
  name: 'tiny-test',
  inputSize: 64,
  backbone: { depth: 18, widthMultiplier: 0.125 },
  fpnChannels: 16,
  rpn: { ...EDGE_CONFIG.rpn, channels: 16, preNmsTopK: 50, postNmsTopK: 8 },
  roi: { ...EDGE_CONFIG.roi, sampledRois: 8 },
  heads: { fcDim: 32, maskChannels: 16, maskConvs: 2 },
  detection: { ...EDGE_CONFIG.detection, scoreThreshold: 0 },
};

/** ../shared/data/isic2017-train beside the repository, when this machine has it. */
export const ISIC_DIR = resolve(__dirname, '../../../shared/data/isic2017-train');
export const HAVE_ISIC = existsSync(join(ISIC_DIR, 'labels.csv'));
export const SKIP_ISIC_MESSAGE = `ISIC 2017 training data not found at ${ISIC_DIR}: tests that need it are skipped`;

/** The shipped default model's folder. */
export const SHIPPED_MODEL_DIR = resolve(__dirname, '../../models/default');

/** The shipped manifest's operating point, read as raw JSON (not through the code under test), so tests follow
 *  a re-shipped model instead of pinning one model's numbers. */
export function shippedOperatingPoint(): { threshold: number; margin: number; sensitivity: number; specificity: number; fittedOn: string } {
  return JSON.parse(readFileSync(join(SHIPPED_MODEL_DIR, 'manifest.json'), 'utf8')).operatingPoint;
}
