/**
 * The examination of one lesion as the unit of report, end to end: a recording made here from ISIC images
 * (several lesions, each held a few seconds with drift; lifts between; two lesions in a row at the same place
 * with no lift), played at its own frame rate through real GStreamer, the shipped network on wasm, the real
 * pipeline and a real Mosquitto. One episode and one `ended` message per lesion, none spanning two lesions,
 * the last lesion of the file analysed, every message valid against the schema.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { connectAsync } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { toSessionSetMessage, validateLesionMessage } from '../../src/publish/index.js';
import { startRun, type Logger } from '../../src/service/run.js';
import { bodySiteByCode } from '../../src/types/index.js';
import { HAVE_ISIC, ISIC_DIR, SKIP_ISIC_MESSAGE } from '../model/helpers.js';
import { collect } from '../publish/helpers/mqtt_collector.js';
import { mosquittoAvailable, mosquittoSkipReason, startMosquitto, type Mosquitto } from '../publish/helpers/mosquitto.js';
import { lesionRanges, makeExaminationClip, type ClipPlan } from './helpers/examination_clip.js';

const MODEL = resolve(__dirname, '../../models/default');
const quiet: Logger = { info: () => undefined, warn: () => undefined, error: () => undefined };

// 18 s at 10 fps: A, lift, B, lift, C then D at the same place with no lift, D to the end of the file.
// C and D differ in colour by ΔE ≈ 34 (expert masks, 320×240): well past the 8 of the appearance rule.
const PLAN: ClipPlan = {
  width: 320,
  height: 240,
  fps: 10,
  segments: [
    { lesion: 'ISIC_0000179', frames: 40 },
    { lesion: null, frames: 10 },
    { lesion: 'ISIC_0000030', frames: 40 },
    { lesion: null, frames: 10 },
    { lesion: 'ISIC_0000329', frames: 40 },
    { lesion: 'ISIC_0000298', frames: 40 },
  ],
};

if (!mosquittoAvailable) console.warn(mosquittoSkipReason);
if (!HAVE_ISIC) console.warn(SKIP_ISIC_MESSAGE);

describe.skipIf(!mosquittoAvailable || !HAVE_ISIC)('episodes on a recorded examination', () => {
  let broker: Mosquitto;
  const tmp = mkdtempSync(join(tmpdir(), 'dermstream-episodes-'));
  beforeAll(async () => {
    broker = await startMosquitto();
  });
  afterAll(async () => {
    await broker?.dispose();
    rmSync(tmp, { recursive: true, force: true });
  });

  it('one episode and one ended message per lesion, none spanning two, the last lesion analysed', async () => {
    const avi = join(tmp, 'exam.avi');
    const total = await makeExaminationClip(ISIC_DIR, PLAN, avi);
    const ranges = lesionRanges(PLAN);
    expect(total).toBe(180);

    // The examination context is set before the device starts (retained), as the display would.
    const site = bodySiteByCode('77568009')!;
    const cmd = await connectAsync(broker.url);
    await cmd.publishAsync('it/exam-1/session/set', JSON.stringify(toSessionSetMessage({ patientRef: 'Patient/it-1', bodySite: site })), { qos: 1, retain: true });
    await cmd.endAsync();

    const sub = await collect(broker.url, ['it/exam-1/lesion', 'it/exam-1/live']);
    // Which clip frame an episode's capture times name: the delivered frame with that capture time has a seq,
    // and the clip index lies in [seq, seq + frames the appsink dropped] (seq = index when none was dropped).
    const wallOf = new Map<number, number>();
    const seqsAt = new Map<number, number[]>();
    const inferred: number[] = [];
    const handle = await startRun(
      {
        source: `file:${avi}`,
        capture: {},
        modelDir: MODEL,
        backend: 'wasm',
        pipeline: { qualityGate: true, debounceParams: { malignantThreshold: 0.15, uncertainMargin: 0.03 } },
        brokerUrl: broker.url,
        embedded: { host: '127.0.0.1', tcpPort: 0, wsPort: false },
        publisher: { prefix: 'it', rates: { liveMaxHz: 100, snapshotMaxHz: 0 } },
        deviceId: 'exam-1',
        stateDir: join(tmp, 'state'),
        summary: false,
      },
      quiet,
      {
        onFrame: (f) => {
          wallOf.set(f.seq, f.capturedAt.wallMs);
          seqsAt.set(f.capturedAt.wallMs, [...(seqsAt.get(f.capturedAt.wallMs) ?? []), f.seq]);
        },
        onEvent: (e) => {
          if (e.stages.inferCallMs > 0) inferred.push(e.frame.seq);
        },
      },
    );
    const summary = await handle.done;
    expect(summary.reason).toBe('source ended');
    const dropped = total - summary.framesCaptured;
    const seqOf = (iso: string, pick: 'first' | 'last') => {
      const seqs = seqsAt.get(Date.parse(iso));
      if (!seqs) throw new Error(`no delivered frame was captured at ${iso}`);
      return pick === 'first' ? Math.min(...seqs) : Math.max(...seqs);
    };

    const lesion = sub.on('it/exam-1/lesion').map((m) => m.json);
    const live = sub.on('it/exam-1/live').map((m) => m.json);
    for (const m of [...lesion, ...live]) expect(validateLesionMessage(m).errors).toEqual([]);
    // Every message carries the session context set on the retained topic.
    for (const m of lesion) expect(m.session).toEqual({ patientRef: 'Patient/it-1', bodySite: site });

    const ended = lesion.filter((m) => m.state === 'ended');
    const story = ended.map((m) => `${m.episode.id.split(':').pop()} ${m.episode.endReason} ${m.episode.verdict} seq ${seqOf(m.episode.startedAt, 'first')}–${seqOf(m.episode.endedAt, 'last')} seen ${m.episode.framesSeen} (${dropped} dropped)`);
    // One ended message per lesion, for the reason the script gives.
    expect(story.length, story.join('\n')).toBe(ranges.length);
    expect(ended.map((m) => m.episode.endReason), story.join('\n')).toEqual(['lifted', 'lifted', 'new-lesion', 'source-ended']);
    expect(new Set(ended.map((m) => m.episodeId)).size).toBe(ended.length);

    // No episode spans two lesions: its first and last frames lie in one lesion's segment.
    ended.forEach((m, k) => {
      const r = ranges[k]!;
      expect(seqOf(m.episode.startedAt, 'first') + dropped, story[k]).toBeGreaterThanOrEqual(r.first);
      expect(seqOf(m.episode.endedAt, 'last'), story[k]).toBeLessThanOrEqual(r.last);
      expect(m.episode.framesSeen, story[k]).toBeGreaterThanOrEqual(3);
      expect(m.episode.meanProbabilities).not.toBeNull();
      expect(m.episode.bestFrameSeq).not.toBeNull();
    });

    // Every lesion message of an episode carries its id, and only messages inside its lesion's time.
    const ids = new Set(ended.map((m) => m.episodeId));
    for (const m of lesion) if (m.episodeId !== null) expect(ids.has(m.episodeId)).toBe(true);
    // The verdict of one lesion never shows under another episode's id.
    for (const m of ended) {
      const own = lesion.filter((x) => x.episodeId === m.episodeId && x.state !== 'ended');
      expect(own.length).toBeGreaterThan(0);
      if (m.episode.verdict) expect(own.some((x) => x.state === 'stable' && x.label === m.episode.verdict)).toBe(true);
    }

    // The last lesion of the file was analysed, to its last frame (the appsink never drops the newest frame,
    // and latest-only infers the frame waiting when the source ends).
    const lastSeq = Math.max(...wallOf.keys());
    expect(lastSeq).toBe(summary.framesCaptured - 1);
    expect(inferred).toContain(lastSeq);
    const lastEp = ended[ended.length - 1]!;
    expect(seqOf(lastEp.episode.endedAt, 'last')).toBe(lastSeq);
    console.log(`episodes:\n${story.join('\n')}\nframes delivered ${summary.framesCaptured}/${total}, inferred ${inferred.length}, rejected ${summary.rejected}`);
    await sub.close();
  }, 120_000);
});
