/**
 * The bundled demo clip (8 ISIC lesions, 5 s each at 10 fps, the scope lifted between them) through the real
 * GStreamer capture, the shipped network and the real pipeline: one examination per lesion, none spanning two.
 * This is the recording of many lesions in a row that a new user plays first; its sixth lesion used to be split
 * in two when the network's mask shrank to the lesion's dark core (nested views, debounce.md).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { PipelineEvent } from '../../src/pipeline/index.js';
import { startRun, type Logger } from '../../src/service/run.js';

const ROOT = resolve(__dirname, '../..');
const CLIP = join(ROOT, 'assets/demo/dermatoscope-demo.avi');
const LESIONS = 8;
const FRAMES_PER_LESION = 50;
const quiet: Logger = { info: () => undefined, warn: () => undefined, error: () => undefined };

describe('episodes on the demo clip', () => {
  const tmp = mkdtempSync(join(tmpdir(), 'dermstream-demo-episodes-'));
  afterAll(() => rmSync(tmp, { recursive: true, force: true }));

  it('eight lesions give eight examinations, each inside one lesion\'s five seconds', async () => {
    const seqs = new Map<number, number[]>();
    const ended: PipelineEvent[] = [];
    const handle = await startRun(
      {
        source: `file:${CLIP}`,
        capture: {},
        modelDir: join(ROOT, 'models/default'),
        backend: 'wasm',
        pipeline: {},
        brokerUrl: '',
        embedded: { host: '127.0.0.1', tcpPort: 0, wsPort: false },
        publisher: { prefix: 'demo', rates: { liveMaxHz: 10, snapshotMaxHz: 0 } },
        deviceId: 'demo',
        stateDir: join(tmp, 'state'),
        summary: false,
      },
      quiet,
      {
        onEvent: (e) => {
          const ev = e as PipelineEvent;
          if (ev.state === 'ended') ended.push(ev);
          else if (ev.episodeIndex !== null && ev.stages.inferCallMs > 0) seqs.set(ev.episodeIndex, [...(seqs.get(ev.episodeIndex) ?? []), ev.frame.seq]);
        },
      },
    );
    const summary = await handle.done;
    expect(summary.reason).toBe('source ended');
    const story = ended.map((e) => {
      const s = seqs.get(e.episode!.index) ?? [];
      return `ep${e.episode!.index} ${e.episode!.endReason} ${e.episode!.verdict} seq ${Math.min(...s)}–${Math.max(...s)}`;
    });
    expect(ended.map((e) => e.episode!.endReason), story.join('\n')).toEqual([...Array<string>(LESIONS - 1).fill('lifted'), 'source-ended']);
    ended.forEach((e, k) => {
      const s = seqs.get(e.episode!.index)!;
      // Frames of an examination lie in its lesion's segment (the clip's frames are numbered from 0, none dropped at 10 fps).
      expect(Math.min(...s), story[k]).toBeGreaterThanOrEqual(k * FRAMES_PER_LESION);
      expect(Math.max(...s), story[k]).toBeLessThan((k + 1) * FRAMES_PER_LESION);
      expect(e.episode!.framesSeen, story[k]).toBeGreaterThanOrEqual(20);
    });
    console.log(`demo clip:\n${story.join('\n')}`);
  }, 120_000);
});
