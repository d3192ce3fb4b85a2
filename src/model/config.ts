import { readFileSync } from 'node:fs';
import { z } from 'zod';

/**
 * The architecture of the multi-task network, chosen by configuration so the same code builds the
 * paper's ResNet-50/FPN-256/1024 px network and the small edge network a CPU can run at video rate.
 */
export const ModelConfigSchema = z
  .object({
    name: z.string().min(1),
    inputSize: z.number().int().min(64).max(2048).refine((v) => v % 32 === 0, 'must be a multiple of 32 (five stride-2 stages)'),
    backbone: z.union([
      z
        .object({
          depth: z.union([z.literal(18), z.literal(34), z.literal(50), z.literal(101)]),
          widthMultiplier: z.number().min(0.125).max(2),
        })
        .strict(),
      // Keras MobileNetV2 α 1.0 with nsfwjs's pretrained weights (MIT), taps feeding the FPN (MODEL.md).
      z
        .object({
          type: z.literal('mobilenetv2'),
          trainFromBlock: z.number().int().min(0).max(17).default(3),
          pretrained: z.boolean().default(true),
        })
        .strict(),
    ]),
    fpnChannels: z.number().int().min(8).max(512),
    anchors: z
      .object({
        /** Anchor side per pyramid level P2..P5, as a fraction of the input size. */
        sizes: z.array(z.number().positive().max(2)).length(4),
        /** Extra scales per level (multiplying `sizes`). */
        scales: z.array(z.number().positive()).min(1),
        /** Height/width ratios. */
        ratios: z.array(z.number().positive()).min(1),
      })
      .strict(),
    rpn: z
      .object({
        channels: z.number().int().min(8).max(512),
        positiveIoU: z.number().min(0).max(1),
        negativeIoU: z.number().min(0).max(1),
        sampledAnchors: z.number().int().min(16),
        preNmsTopK: z.number().int().min(1),
        postNmsTopK: z.number().int().min(1),
        nmsIoU: z.number().min(0).max(1),
      })
      .strict(),
    roi: z
      .object({
        boxPool: z.number().int().min(2).max(14),
        maskPool: z.number().int().min(4).max(28),
        samplingRatio: z.number().int().min(1).max(4),
        sampledRois: z.number().int().min(2),
        positiveFraction: z.number().min(0).max(1),
      })
      .strict(),
    heads: z
      .object({
        fcDim: z.number().int().min(16).max(2048),
        maskChannels: z.number().int().min(8).max(512),
        maskConvs: z.number().int().min(1).max(8),
      })
      .strict(),
    detection: z
      .object({
        scoreThreshold: z.number().min(0).max(1),
        nmsIoU: z.number().min(0).max(1),
        maxDetections: z.number().int().min(1).max(100),
        maskThreshold: z.number().min(0).max(1),
        /** Coarse-to-fine: re-run the network on a crop around each detection (see refine.ts). */
        refine: z
          .object({
            enabled: z.boolean(),
            margin: z.number().min(0).max(2).default(0.25),
            classify: z.enum(['coarse', 'crop', 'mean']).default('coarse'),
            mode: z.enum(['box', 'redetect']).default('box'),
            flip: z.boolean().default(false),
          })
          .strict()
          .optional(),
      })
      .strict(),
    classes: z.tuple([z.literal('benign'), z.literal('malignant')]),
    /**
     * Platt scaling of the malignant probability, p' = σ(a·logit(p) + b), fitted on the validation split:
     * the focal loss leaves the raw probabilities compressed around 0.5 (rank intact, AUC unchanged).
     */
    calibration: z.object({ a: z.number(), b: z.number(), fittedOn: z.string().optional() }).strict().optional(),
    /** Per-channel RGB mean subtracted from the letterboxed input, as in the paper. */
    channelMeans: z.tuple([z.number(), z.number(), z.number()]),
  })
  .strict();

export type ModelConfig = z.infer<typeof ModelConfigSchema>;

const common = {
  classes: ['benign', 'malignant'] as ['benign', 'malignant'],
  // Mean R, G, B of the ISIC 2017 training images after letterboxing (dermoscopy is reddish-brown).
  channelMeans: [180.0, 150.0, 140.0] as [number, number, number],
};

/** The default: small enough for ≥ 10 frames/s on a 2-core CPU with the wasm backend. */
export const EDGE_CONFIG: ModelConfig = {
  name: 'edge-r18w050-fpn64-160',
  inputSize: 160,
  backbone: { depth: 18, widthMultiplier: 0.5 },
  fpnChannels: 64,
  anchors: { sizes: [0.1, 0.2, 0.4, 0.8], scales: [1, 1.41], ratios: [0.5, 1, 2] },
  rpn: { channels: 64, positiveIoU: 0.7, negativeIoU: 0.3, sampledAnchors: 256, preNmsTopK: 200, postNmsTopK: 16, nmsIoU: 0.7 },
  roi: { boxPool: 7, maskPool: 14, samplingRatio: 2, sampledRois: 16, positiveFraction: 0.5 },
  heads: { fcDim: 256, maskChannels: 64, maskConvs: 4 },
  // A dermatoscope frames one lesion (and every ISIC image has one): keeping only the most confident
  // detection scored JA 0.80 on our validation split against 0.70 for up to three (see README).
  detection: { scoreThreshold: 0.5, nmsIoU: 0.3, maxDetections: 1, maskThreshold: 0.5 },
  ...common,
};

/** The seed paper's configuration: ResNet-50, FPN 256, 1024×1024. Builds and runs; far too slow for a CPU. */
export const PAPER_CONFIG: ModelConfig = {
  name: 'paper-r50-fpn256-1024',
  inputSize: 1024,
  backbone: { depth: 50, widthMultiplier: 1 },
  fpnChannels: 256,
  anchors: { sizes: [32 / 1024, 64 / 1024, 128 / 1024, 256 / 1024], scales: [1, 2, 4], ratios: [0.5, 1, 2] },
  rpn: { channels: 256, positiveIoU: 0.7, negativeIoU: 0.3, sampledAnchors: 256, preNmsTopK: 1000, postNmsTopK: 100, nmsIoU: 0.7 },
  roi: { boxPool: 7, maskPool: 14, samplingRatio: 2, sampledRois: 64, positiveFraction: 0.25 },
  heads: { fcDim: 1024, maskChannels: 256, maskConvs: 4 },
  detection: { scoreThreshold: 0.5, nmsIoU: 0.5, maxDetections: 10, maskThreshold: 0.5 },
  ...common,
};

/**
 * The edge network on a pretrained MobileNetV2 (nsfwjs): stem to block_2 frozen (a third of the step,
 * MODEL.md), batch norm in inference mode throughout the backbone.
 */
export const MOBILENET_CONFIG: ModelConfig = {
  ...EDGE_CONFIG,
  name: 'edge-mnv2-fpn64-160',
  backbone: { type: 'mobilenetv2', trainFromBlock: 3, pretrained: true },
};

export type ResNetBackbone = Extract<ModelConfig['backbone'], { depth: number }>;

export function isResNet(b: ModelConfig['backbone']): b is ResNetBackbone {
  return 'depth' in b;
}

export const PRESETS: Record<string, ModelConfig> = { edge: EDGE_CONFIG, paper: PAPER_CONFIG, 'edge-mnv2': MOBILENET_CONFIG };

export class ModelConfigError extends Error {}

export function parseModelConfig(raw: unknown, origin = 'model config'): ModelConfig {
  const r = ModelConfigSchema.safeParse(raw);
  if (!r.success) {
    const issues = r.error.issues.map((i) => `  ${i.path.join('.') || '(root)'}: ${i.message}`).join('\n');
    throw new ModelConfigError(`${origin} is invalid:\n${issues}\nSee configs/model/edge.json for a valid example.`);
  }
  return r.data;
}

/** A preset name (`edge`, `paper`) or a JSON file; a file may set `"extends": "<preset>"` and override keys. */
export function loadModelConfig(nameOrPath: string): ModelConfig {
  if (PRESETS[nameOrPath]) return PRESETS[nameOrPath];
  let raw: Record<string, unknown>;
  try {
    raw = JSON.parse(readFileSync(nameOrPath, 'utf8')) as Record<string, unknown>;
  } catch (err) {
    throw new ModelConfigError(
      `cannot read model config ${nameOrPath}: ${(err as Error).message}. Give a preset (${Object.keys(PRESETS).join(', ')}) or a JSON file.`,
    );
  }
  const base = typeof raw.extends === 'string' ? PRESETS[raw.extends] : undefined;
  if (typeof raw.extends === 'string' && !base) throw new ModelConfigError(`${nameOrPath}: unknown preset in "extends": ${raw.extends}`);
  const { extends: _ignored, ...rest } = raw;
  return parseModelConfig(base ? deepMerge(base, rest) : rest, nameOrPath);
}

function deepMerge<T>(base: T, over: Record<string, unknown>): T {
  const out: Record<string, unknown> = { ...(base as Record<string, unknown>) };
  for (const [k, v] of Object.entries(over)) {
    const b = out[k];
    out[k] = v && typeof v === 'object' && !Array.isArray(v) && b && typeof b === 'object' ? deepMerge(b, v as Record<string, unknown>) : v;
  }
  return out as T;
}
