/**
 * The main job end to end, for real: GStreamer capture (videotestsrc, an images: folder, an MJPEG AVI
 * made with gst-launch), the real network in its worker thread, the real pipeline, a real Mosquitto,
 * and a subscriber that checks every message against the published JSON Schema.
 */
import { execFileSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import sharp from 'sharp';
import { readLabels, type LabelRow } from '../../src/model/dataset.js';
import { LesionModel } from '../../src/model/predictor.js';
import { validateLesionMessage, validateStatusMessage } from '../../src/publish/index.js';
import { startRun, type Logger, type RunOptions } from '../../src/service/run.js';
import { collect } from '../publish/helpers/mqtt_collector.js';
import { mosquittoAvailable, mosquittoSkipReason, startMosquitto, type Mosquitto } from '../publish/helpers/mosquitto.js';
import { HAVE_ISIC, ISIC_DIR, SKIP_ISIC_MESSAGE } from '../model/helpers.js';

const MODEL = resolve(__dirname, '../../models/default');
const quiet: Logger = { info: () => undefined, warn: () => undefined, error: () => undefined };

/**
 * The first full-resolution training image whose malignant score, on the frame the run will see (letterboxed to
 * width × height), lies at least 0.05 beyond the shipped model's uncertain band: the stream test is about the
 * stream, so it must not depend on which lesion one particular model hesitates on.
 */
async function confidentStill(width: number, height: number): Promise<LabelRow> {
  const model = await LesionModel.load(MODEL, 'wasm');
  try {
    const op = model.manifest.operatingPoint!;
    for (const row of readLabels(ISIC_DIR).filter((r) => r.resolution === 'full').slice(0, 30)) {
      const { data } = await sharp(join(ISIC_DIR, 'images', `${row.id}.jpg`))
        .resize(width, height, { fit: 'contain', background: { r: 0, g: 0, b: 0 } })
        .removeAlpha().raw().toBuffer({ resolveWithObject: true });
      const top = model.inferRgb(new Uint8Array(data), width, height).detections[0];
      if (top && Math.abs(top.probabilities.malignant - op.threshold) >= op.margin + 0.05) return row;
    }
  } finally {
    model.dispose();
  }
  throw new Error('none of the first 30 full-resolution images is scored clearly outside the model’s uncertain band');
}

function options(source: string, brokerUrl: string, stateDir: string, extra: Partial<RunOptions> = {}): RunOptions {
  return {
    source,
    capture: { width: 320, height: 240, fps: 15 },
    modelDir: MODEL,
    backend: 'wasm',
    pipeline: { qualityGate: false },
    brokerUrl,
    embedded: { host: '127.0.0.1', tcpPort: 0, wsPort: false },
    publisher: { prefix: 'it', rates: { liveMaxHz: 100, snapshotMaxHz: 0 } },
    deviceId: 'bedside-1',
    stateDir,
    summary: false,
    ...extra,
  };
}

if (!mosquittoAvailable) console.warn(mosquittoSkipReason);

describe.skipIf(!mosquittoAvailable)('dermstream run, end to end', () => {
  let broker: Mosquitto;
  const tmp = mkdtempSync(join(tmpdir(), 'dermstream-run-'));
  beforeAll(async () => {
    broker = await startMosquitto();
  });
  afterAll(async () => {
    await broker?.dispose();
    rmSync(tmp, { recursive: true, force: true });
  });

  it('videotestsrc → network → Mosquitto: status, live and lesion messages all valid', async () => {
    const sub = await collect(broker.url, 'it/bedside-1/#');
    const handle = await startRun(options('test', broker.url, join(tmp, 'a'), { maxFrames: 40 }), quiet);
    const summary = await handle.done;
    await sub.waitFor((m) => m.some((x) => x.topic.endsWith('/live')), 10_000, 'live messages');
    expect(summary.framesCaptured).toBe(40);
    expect(summary.processed).toBeGreaterThan(0);
    expect(summary.processed + summary.dropped + summary.rejected).toBeLessThanOrEqual(40);
    const live = sub.on('it/bedside-1/live');
    const lesion = sub.on('it/bedside-1/lesion');
    expect(live.length).toBeGreaterThan(0);
    expect(lesion.length).toBeGreaterThan(0);
    for (const m of [...live, ...lesion]) {
      const v = validateLesionMessage(m.json);
      expect(v.errors).toEqual([]);
      // The shipped model has ONNX graphs, so the default engine (auto) runs it on ONNX Runtime.
      expect(m.json.model.backend).toBe('onnxruntime-cpu');
      expect(m.json.frame.width).toBe(320);
    }
    // Live messages carry increasing sequence numbers within the session.
    const seqs = live.map((m) => m.json.seq);
    expect([...seqs].sort((a, b) => a - b)).toEqual(seqs);
    const status = sub.on('it/bedside-1/status').map((m) => m.json);
    expect(status.every((s) => validateStatusMessage(s).ok)).toBe(true);
    expect(status.some((s) => s.state === 'online')).toBe(true);
    // The publisher's close() leaves the retained status offline.
    await sub.waitFor((m) => m.some((x) => x.topic.endsWith('/status') && x.json.state === 'offline'), 5000, 'offline status');
    await sub.close();
  });

  it('an MJPEG AVI made with gst-launch plays to its end and the run completes by itself', async () => {
    const avi = join(tmp, 'clip.avi');
    execFileSync('gst-launch-1.0', ['-q', 'videotestsrc', 'num-buffers=30', 'pattern=ball', '!', 'video/x-raw,width=320,height=240,framerate=30/1', '!', 'jpegenc', '!', 'avimux', '!', 'filesink', `location=${avi}`]);
    const handle = await startRun(options(`file:${avi}`, broker.url, join(tmp, 'b'), { capture: { realtime: false } }), quiet);
    const summary = await handle.done;
    expect(summary.reason).toBe('source ended');
    expect(summary.framesCaptured).toBe(30);
    expect(summary.processed).toBeGreaterThan(0);
  });

  if (!HAVE_ISIC) console.warn(SKIP_ISIC_MESSAGE);
  it.skipIf(!HAVE_ISIC)('an images: folder of dermoscopy frames reaches a stable verdict with contours', async () => {
    const dir = join(tmp, 'frames');
    mkdirSync(dir);
    // One lesion held in view for ~3 s at 10 frames/s: the debouncer must settle on a stable verdict. The lesion
    // is one the shipped model scores clearly outside its uncertain band: inside it every vote is "uncertain" and
    // the right outcome is indeterminate, never stable (ISIC_0000000 under v2.0.0: p 0.196 against 0.20 ± 0.03).
    const row = await confidentStill(512, 384);
    for (let i = 0; i < 30; i++) copyFileSync(join(ISIC_DIR, 'images', `${row.id}.jpg`), join(dir, `f${String(i).padStart(3, '0')}.jpg`));
    const sub = await collect(broker.url, 'it/bedside-1/lesion');
    const handle = await startRun(options(`images:${dir}`, broker.url, join(tmp, 'c'), { capture: { fps: 10, width: 512, height: 384 } }), quiet);
    const summary = await handle.done;
    expect(summary.reason).toBe('source ended');
    await sub.waitFor((m) => m.some((x) => x.json.state === 'stable'), 10_000, 'a stable verdict');
    const msgs = sub.messages.map((m) => m.json);
    for (const m of msgs) expect(validateLesionMessage(m).errors).toEqual([]);
    const stable = msgs.find((m) => m.state === 'stable');
    expect(['benign', 'malignant']).toContain(stable.label);
    expect(stable.contours.length).toBeGreaterThan(0);
    expect(stable.contours[0].pixels.length).toBeGreaterThanOrEqual(3);
    for (const [x, y] of stable.contours[0].normalized) {
      expect(x).toBeGreaterThanOrEqual(0);
      expect(y).toBeLessThanOrEqual(1);
    }
    // Nothing becomes stable before the lesion has been seen for most of a window.
    const firstStable = msgs.findIndex((m) => m.state === 'stable');
    expect(msgs.slice(0, firstStable).some((m) => m.state === 'tracking')).toBe(true);
    await sub.close();
  });

  it('a camera that does not exist is reported and retried, the process stays up', async () => {
    if (!existsSync('/dev')) return;
    const events: string[] = [];
    const handle = await startRun(options('v4l2:/dev/video97', broker.url, join(tmp, 'd'), { durationS: 3, capture: { restart: { initialMs: 200, maxMs: 400 } } }), quiet, {
      onCaptureEvent: (e) => events.push(e.type === 'error' ? `error:${e.error.code}` : e.type),
    });
    const summary = await handle.done;
    expect(summary.reason).toMatch(/duration/);
    expect(events.filter((e) => e.startsWith('error:')).length).toBeGreaterThanOrEqual(2);
    expect(events).toContain('reopening');
  });
});
