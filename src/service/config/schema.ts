/**
 * The shape of the configuration: every key, its type, its range and its default, as strict zod objects (an
 * unknown key is an error, never silently ignored). Each leaf has a description that doubles as the
 * "allowed" text of an error. Cross-key rules (snapshot rate ≤ live rate, ports distinct, files readable)
 * are in rules.ts; defaults that depend on the machine (host name, package folder, writable state dir) are
 * filled in by load.ts after validation.
 */
import { z } from 'zod';
import { DEFAULT_DEBOUNCE_PARAMS } from '../../pipeline/debounce.js';
import { DEFAULT_QUALITY_THRESHOLDS } from '../../pipeline/quality_gate.js';
import { DEFAULT_CONTOUR_OPTIONS } from '../../pipeline/contours.js';
import { DEFAULT_EPISODE_PARAMS } from '../../pipeline/episode_params.js';
import { QUALITY_REASONS } from '../../pipeline/quality_gate.js';

const int = (min: number, max: number, what: string) =>
  z.number().int().min(min).max(max).describe(`${what}: a whole number, ${min}–${max}`);
const num = (min: number, max: number, what: string) =>
  z.number().min(min).max(max).describe(`${what}: a number, ${min}–${max}`);
/** (0, 1] */
const fraction = (what: string) => z.number().gt(0).max(1).describe(`${what}: a number above 0 and at most 1`);
const port = (what: string) => z.number().int().min(1).max(65535).describe(`${what}: a TCP port, 1–65535`);
const file = (what: string) => z.string().min(1).describe(`${what}: path of a readable file`);

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export const BACKENDS = ['auto', 'tensorflow', 'wasm', 'cpu'] as const;
export const ENGINES = ['auto', 'tfjs', 'onnx'] as const;
/** Only cpu ships in onnxruntime-node and is tested; cuda/tensorrt need an ORT build with those providers (GPU machines). */
export const ONNX_PROVIDERS = ['cpu', 'cuda', 'tensorrt'] as const;
export const BROKER_SCHEMES = ['mqtt:', 'mqtts:', 'ws:', 'wss:'] as const;
/** A topic level (deviceId) as the publisher requires it. */
export const DEVICE_ID_RE = /^[A-Za-z0-9._-]{1,64}$/;

const q = DEFAULT_QUALITY_THRESHOLDS;
const d = DEFAULT_DEBOUNCE_PARAMS;

export const captureSchema = z.strictObject({
  width: int(2, 16384, 'output width in pixels (give height too)').optional(),
  height: int(2, 16384, 'output height in pixels (give width too)').optional(),
  fps: num(1, 240, 'frame rate to ask of the camera').optional(),
  formats: z
    .array(z.enum(['mjpeg', 'yuy2', 'auto']))
    .min(1)
    .describe('camera formats to try in order: a list of mjpeg, yuy2, auto')
    .optional(),
  stallTimeoutMs: int(100, 600_000, 'no frame for this long = stalled camera, re-open it (ms)').default(2000),
  backoff: z
    .strictObject({
      initialMs: int(0, 600_000, 'delay before the first re-open (ms)').default(500),
      maxMs: int(1, 3_600_000, 'longest delay between re-opens (ms)').default(10_000),
    })
    .prefault({}),
  loop: z.boolean().describe('recorded sources start again at the end: true or false').default(false),
  realtime: z.boolean().describe('recorded sources play at their own rate (true) or as fast as they decode (false)').default(true),
  maxImageSide: int(16, 16384, 'images: longer side of a decoded still, shrunk on load (pixels)').default(1920),
  maxImagePixels: int(1, 1_000_000_000, 'images: stills with more pixels than this are skipped with a warning').default(100_000_000),
  isolate: z.boolean().describe('run GStreamer in a child process per session, so a blocked source cannot freeze the service and pipelines do not leak: true or false').default(true),
});

export const modelSchema = z.strictObject({
  path: z.string().min(1).describe('model folder (model.json, manifest.json, shards); default: the shipped models/default').optional(),
  backend: z.enum(BACKENDS).describe(`inference backend: one of ${BACKENDS.join(', ')}`).default('auto'),
  trustedKeys: z
    .array(z.string().min(1))
    .describe('Ed25519 public keys whose signature on a model manifest is accepted: a list of PEM file paths or PEM texts')
    .default([]),
  requireSignature: z.boolean().describe('refuse a model not signed by one of model.trustedKeys: true or false').default(false),
  engine: z.enum(ENGINES).describe(`inference engine: one of ${ENGINES.join(', ')} (auto: onnx when the model has ONNX graphs and ONNX Runtime loads, else tfjs)`).default('auto'),
  onnx: z
    .strictObject({
      threads: int(0, 256, 'ONNX Runtime intra-op threads; 0 = all cores but one').default(0),
      providers: z
        .array(z.enum(ONNX_PROVIDERS))
        .min(1)
        .describe(`ONNX Runtime execution providers in order of preference: a list of ${ONNX_PROVIDERS.join(', ')} (cuda/tensorrt untested, GPU machines only)`)
        .default(['cpu']),
    })
    .prefault({}),
});

export const pipelineSchema = z.strictObject({
  qualityGate: z.boolean().describe('reject dark/overexposed/uniform/blurry frames before inference: true or false').default(true),
  quality: z
    .strictObject({
      analysisWidth: int(16, 4096, 'width of the grey analysis copy').default(q.analysisWidth),
      roi: fraction('centred fraction of the frame assessed').default(q.roi),
      darkLuma: int(0, 255, 'luma below which a pixel is dark').default(q.darkLuma),
      maxDarkFraction: num(0, 1, 'largest dark fraction accepted').default(q.maxDarkFraction),
      brightLuma: int(0, 255, 'luma at or above which a pixel is clipped').default(q.brightLuma),
      maxBrightFraction: num(0, 1, 'largest clipped fraction accepted').default(q.maxBrightFraction),
      minStdDev: num(0, 255, 'smallest luma standard deviation accepted').default(q.minStdDev),
      minLaplacianVariance: num(0, 1e9, 'smallest Laplacian variance (focus) accepted').default(q.minLaplacianVariance),
    })
    .prefault({}),
  debounce: z
    .strictObject({
      windowSize: int(1, 1000, 'model outputs in the agreement window').default(d.windowSize),
      stableAgreement: z.number().gt(0.5).max(1).describe('fraction of the window that must agree for a stable verdict: above 0.5, at most 1').default(d.stableAgreement),
      disagreeFraction: fraction('fraction voting against the leader that makes a track indeterminate').default(d.disagreeFraction),
      contradictFraction: fraction('fraction voting against a stable verdict that drops it').default(d.contradictFraction),
      holdFraction: fraction('fraction of votes that keeps a stable verdict (≤ stableAgreement)').default(d.holdFraction),
      probation: int(1, 1000, 'matched observations before a track is reported').default(d.probation),
      minScore: num(0, 1, 'detections below this score are ignored').default(d.minScore),
      iouThreshold: fraction('IoU with the track that keeps a detection in it').default(d.iouThreshold),
      containThreshold: fraction("share of the smaller box inside the larger (track's or detection's) that also keeps a detection in the track: a part of the lesion, or the whole after a part").default(d.containThreshold),
      jumpConfirm: int(1, 1000, 'misses while another lesion is seen before the track jumps to it').default(d.jumpConfirm),
      lostAfterMs: int(1, 3_600_000, 'a track is lost after this long unseen (ms)').default(d.lostAfterMs),
      maxConsecutiveMisses: int(1, 100_000, 'a track is lost after this many misses in a row').default(d.maxConsecutiveMisses),
      boxAlpha: fraction('EMA weight of the newest box (1 = no smoothing)').default(d.boxAlpha),
      // No default: the operating point belongs to the model (its manifest's operatingPoint, fitted to its
      // calibration: 0.20 ± 0.03 for v2.0.0, where 0.5 flags 11 % of melanomas). Set only to override.
      malignantThreshold: z.number().gt(0).lt(1).describe("p(malignant) at which a frame votes malignant, above 0 and below 1; default: the model's operating point").optional(),
      uncertainMargin: z.number().min(0).lt(0.5).describe('margin around the threshold voting "uncertain", 0 up to (not including) 0.5; default: the model\'s').optional(),
    })
    .prefault({}),
  // Episodes (the examination of one lesion; see src/pipeline/debounce.md, "Episodes").
  episode: z
    .strictObject({
      liftMs: int(1, 60_000, 'a run of lift rejections this long ends the episode: the scope was lifted (ms)').default(DEFAULT_EPISODE_PARAMS.liftMs),
      liftReasons: z
        .array(z.enum(QUALITY_REASONS as [string, ...string[]]))
        .min(1)
        .describe(`quality-gate reasons that mean the scope is off the skin: a list of ${QUALITY_REASONS.join(', ')}`)
        .default([...DEFAULT_EPISODE_PARAMS.liftReasons]),
      appearance: z
        .strictObject({
          lesionDeltaE: num(0.1, 100, 'lesion colour change (CIE76 ΔE) that means a different lesion').default(DEFAULT_EPISODE_PARAMS.appearance.lesionDeltaE),
          textureDelta: num(0.1, 100, 'change of the lesion colour spread (L*a*b* std) that means a different lesion').default(DEFAULT_EPISODE_PARAMS.appearance.textureDelta),
          areaRatio: z.number().gt(1).max(1000).describe('mask area change factor that means a different lesion: above 1, at most 1000').default(DEFAULT_EPISODE_PARAMS.appearance.areaRatio),
          confirm: int(1, 1000, 'model outputs in a row that must look different before a new episode').default(DEFAULT_EPISODE_PARAMS.appearance.confirm),
          alpha: fraction('EMA weight of each output in the episode reference appearance').default(DEFAULT_EPISODE_PARAMS.appearance.alpha),
          nestedContainment: fraction('share of the smaller view inside the larger for the two to be one lesion at two extents (mask shrank to the core)').default(DEFAULT_EPISODE_PARAMS.appearance.nestedContainment),
          nestedZ: num(0.1, 100, "distance, in the larger view's lesion colour std, within which the part's colour counts as one of the lesion's").default(DEFAULT_EPISODE_PARAMS.appearance.nestedZ),
          nestedRing: fraction("where the part's surroundings must lie from the larger view's skin (0) to its lesion (1)").default(DEFAULT_EPISODE_PARAMS.appearance.nestedRing),
          nestedDeepRing: num(0, 10, "surroundings at least this far toward the lesion (1 = the whole's mean colour) mark a deep core, allowed nestedDeepZ").default(DEFAULT_EPISODE_PARAMS.appearance.nestedDeepRing),
          nestedDeepZ: num(0.1, 100, "colour distance, in the whole's lesion std, allowed to a deep core").default(DEFAULT_EPISODE_PARAMS.appearance.nestedDeepZ),
        })
        .prefault({}),
    })
    .prefault({}),
  contourTolerancePx: num(0, 100, 'contour simplification tolerance in frame pixels').default(DEFAULT_CONTOUR_OPTIONS.tolerance),
});

export const tlsSchema = z.strictObject({
  ca: file('CA certificate (PEM) that signed the broker').optional(),
  cert: file('client certificate (PEM), with key').optional(),
  key: file('client private key (PEM), with cert').optional(),
  keyPassphrase: z.string().describe('passphrase of the client key (prefer keyPassphraseFile)').optional(),
  keyPassphraseFile: file('file holding the passphrase of the client key').optional(),
  rejectUnauthorized: z.boolean().describe('verify the broker certificate: true (default) or false (needs allowInsecureTls: true)').default(true),
  allowInsecureTls: z.boolean().describe('accept rejectUnauthorized: false, i.e. any broker certificate (testing only; warned at start and in the status topic): true or false').default(false),
  servername: z.string().min(1).describe('TLS server name (SNI) when it differs from the URL host').optional(),
});

export const mqttSchema = z.strictObject({
  brokerUrl: z
    .string()
    .describe('broker URL: mqtt://, mqtts://, ws:// or wss:// host[:port]; empty = start the embedded broker')
    .default(''),
  topicPrefix: z
    .string()
    .regex(/^(?!\/)(?!.*\/$)(?!.*\/\/)[^#+\u0000$][^#+\u0000]*$/)
    .max(128)
    .describe('topic prefix: MQTT topic levels without wildcards (+, #), no leading/trailing /, not starting with $')
    .default('dermstream'),
  username: z.string().min(1).describe('broker user name').optional(),
  password: z.string().describe('broker password (prefer passwordFile)').optional(),
  passwordFile: file('file holding the broker password').optional(),
  tls: tlsSchema.prefault({}),
  clientId: z.string().min(1).max(128).describe('MQTT client id, 1–128 characters; default dermstream-<deviceId>').optional(),
  keepaliveS: int(0, 65535, 'MQTT keep-alive (s)').default(30),
  liveMaxHz: num(0, 120, 'highest rate of live messages (0 = off)').default(10),
  snapshot: z
    .strictObject({
      enabled: z.boolean().describe('publish JPEG thumbnails: true or false').default(false),
      maxHz: z.number().gt(0).max(30).describe('highest snapshot rate: above 0, at most 30, and at most liveMaxHz').default(2),
      width: int(32, 4096, 'snapshot width in pixels').default(320),
    })
    .prefault({}),
  heartbeatMs: int(100, 3_600_000, 'spacing of the lesion heartbeat (ms)').default(1000),
  metricsIntervalMs: int(0, 3_600_000, 'spacing of metrics messages (ms, 0 = off)').default(0),
  embedded: z
    .strictObject({
      host: z.string().min(1).describe('interface the embedded broker binds: 127.0.0.1 (default) or 0.0.0.0 for a display elsewhere').default('127.0.0.1'),
      port: port('embedded broker TCP port').default(1883),
      wsPort: z
        .union([z.number().int().min(1).max(65535), z.literal(false)])
        .describe('embedded broker WebSocket port, 1–65535, or false for none')
        .default(9001),
    })
    .prefault({}),
});

export const outboxSchema = z.strictObject({
  stateDir: z.string().min(1).describe('folder for the outbox and other state; default /var/lib/dermstream').optional(),
  maxBytes: int(1024 * 1024, 64 * 1024 * 1024 * 1024, 'outbox size bound in bytes (1 MiB – 64 GiB)').default(64 * 1024 * 1024),
  maxAgeHours: num(0.01, 24 * 365, 'undelivered lesion messages older than this are dropped (hours)').default(168),
});

export const configSchema = z.strictObject({
  deviceId: z
    .string()
    .regex(DEVICE_ID_RE)
    .describe('device id (an MQTT topic level): 1–64 of A–Z a–z 0–9 . _ -; default: the host name')
    .optional(),
  source: z
    .string()
    .min(1)
    .describe('v4l2:/dev/video0, file:<video>, images:<folder>, test[:<pattern>], gst:<launch description>; default: the bundled demo clip')
    .optional(),
  capture: captureSchema.prefault({}),
  model: modelSchema.prefault({}),
  pipeline: pipelineSchema.prefault({}),
  mqtt: mqttSchema.prefault({}),
  outbox: outboxSchema.prefault({}),
  http: z
    .strictObject({
      enabled: z.boolean().describe('serve /healthz, /livez, /readyz, /metrics: true or false').default(true),
      host: z.string().min(1).describe('interface to bind: 127.0.0.1 (default), or 0.0.0.0 for a Prometheus elsewhere').default('127.0.0.1'),
      port: port('health/metrics HTTP port').default(9464),
    })
    .prefault({}),
  display: z
    .strictObject({
      enabled: z.boolean().describe('serve the bedside display page: true or false').default(false),
      port: port('display HTTP port').default(8080),
    })
    .prefault({}),
  log: z
    .strictObject({
      level: z.enum(LOG_LEVELS).describe(`log level: one of ${LOG_LEVELS.join(', ')}`).default('info'),
      pretty: z
        .union([z.boolean(), z.literal('auto')])
        .describe('human-readable logs: true, false, or auto (when stdout is a terminal)')
        .default('auto'),
    })
    .prefault({}),
  run: z
    .strictObject({
      maxFrames: int(1, Number.MAX_SAFE_INTEGER, 'stop after this many frames').optional(),
      durationS: z.number().gt(0).describe('stop after this many seconds: a number above 0').optional(),
    })
    .prefault({}),
});

/** What the schema accepts (as written in a file). */
export type ConfigInput = z.input<typeof configSchema>;
type Parsed = z.output<typeof configSchema>;

/** The effective configuration: validated, defaults applied, machine defaults and secrets resolved. */
export type DermstreamConfig = Omit<Parsed, 'deviceId' | 'source' | 'model' | 'outbox'> & {
  deviceId: string;
  source: string;
  model: Parsed['model'] & { path: string };
  outbox: Parsed['outbox'] & { stateDir: string };
};
export type ParsedConfig = Parsed;

/** Keys whose values are never printed or logged. */
export const SECRET_KEYS: ReadonlySet<string> = new Set(['mqtt.password', 'mqtt.tls.keyPassphrase']);
