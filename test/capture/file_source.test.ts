import { existsSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkElements } from '../../src/capture/check_elements.js';
import type { CaptureError } from '../../src/capture/errors.js';
import { livePipelineCount } from '../../src/capture/gst_source.js';
import { openSource } from '../../src/capture/open_source.js';
import { eventTypes, makeMjpegAvi, record, tempDir } from './helpers.js';

describe('file: (MJPEG AVI written by gst-launch-1.0)', () => {
  const tmp = tempDir();
  let avi: string;
  beforeAll(() => {
    // 30 frames at 30 fps: one second of video. The name has a space and a quote to test quoting.
    avi = makeMjpegAvi(path.join(tmp.dir, 'clip "one".avi'), { frames: 30, fps: 30, width: 320, height: 240 });
  });
  afterAll(() => tmp.remove());

  it('plays to the end at its own frame rate and completes', async () => {
    const cap = openSource(`file:${avi}`);
    const t0 = performance.now();
    const r = record(cap, { timeoutMs: 8000 });
    expect(await r.done).toBe('complete');
    const elapsed = performance.now() - t0;
    expect(r.frames.length).toBeGreaterThanOrEqual(28); // real time may drop a frame on a busy machine
    expect(r.frames.length).toBeLessThanOrEqual(30);
    expect(elapsed).toBeGreaterThan(800);
    expect(r.frames.every((f) => f.width === 320 && f.height === 240 && f.data.length === 320 * 240 * 3)).toBe(true);
    expect(r.frames.map((f) => f.seq)).toEqual(r.frames.map((_, i) => i));
    expect(eventTypes(r).slice(-2)).toEqual(['eos', 'closed']);
    expect(r.events.at(-1)).toMatchObject({ type: 'closed', reason: 'completed' });
    expect(livePipelineCount()).toBe(0);
  });

  it('plays as fast as possible, every frame, on request', async () => {
    const cap = openSource(`file:${avi}`, { realtime: false });
    const t0 = performance.now();
    const r = record(cap, { timeoutMs: 8000 });
    expect(await r.done).toBe('complete');
    expect(performance.now() - t0).toBeLessThan(600);
    expect(r.frames).toHaveLength(30);
  });

  it('scales to a requested size, letterboxing rather than stretching', async () => {
    const cap = openSource(`file:${avi}`, { realtime: false, width: 320, height: 320 });
    const r = record(cap, { timeoutMs: 8000, until: (x) => x.frames.length >= 1 });
    await r.done;
    const f = r.frames[0]!;
    expect([f.width, f.height]).toEqual([320, 320]);
    const px = (x: number, y: number) => Array.from(f.data.subarray((y * 320 + x) * 3, (y * 320 + x) * 3 + 3));
    // Border above the 4:3 picture. videoscale pads in the source's YUV with video-range black (Y=16),
    // which a full-range MJPEG source turns into RGB 16: dark, if not quite 0 (scaling before the RGB
    // conversion is 4x cheaper than after it, so we accept that).
    expect(Math.max(...px(160, 5))).toBeLessThanOrEqual(16);
    expect(px(5, 160).some((v) => v > 100)).toBe(true); // picture in the middle (SMPTE grey/white bar)
  });

  it('loops with loop, seq still increasing', async () => {
    const cap = openSource(`file:${avi}`, { realtime: false, loop: true });
    const r = record(cap, { timeoutMs: 8000, until: (x) => x.frames.length >= 75 });
    expect(await r.done).toBe('stopped');
    const seqs = r.frames.map((f) => f.seq);
    expect(seqs).toEqual(seqs.map((_, i) => i));
    const loops = r.events.filter((e) => e.type === 'eos');
    expect(loops.length).toBeGreaterThanOrEqual(2);
    expect(loops.every((e) => e.type === 'eos' && e.action === 'loop')).toBe(true);
    expect(livePipelineCount()).toBe(0);
  });

  it('says a missing file is missing, without trying to reopen it', async () => {
    const cap = openSource(`file:${path.join(tmp.dir, 'nope.avi')}`);
    const r = record(cap, { timeoutMs: 5000 });
    expect(await r.done).toBe('error');
    expect((r.error as CaptureError).code).toBe('NOT_FOUND');
    expect(eventTypes(r)).toEqual(['opening', 'error', 'closed']);
  });

  it('names the missing H.264 decoder and its package (or plays, if gstreamer1.0-libav is installed)', async () => {
    const mp4 = path.resolve('node_modules/gstreamer-superficial/examples/loop/samplevideo.mp4');
    if (!existsSync(mp4)) return; // the sample ships with the addon; nothing to test without it
    const [avdec] = checkElements(['avdec_h264']);
    const cap = openSource(`file:${mp4}`, { realtime: false });
    const r = record(cap, { timeoutMs: 8000, until: (x) => x.frames.length >= 1 });
    const how = await r.done;
    if (avdec!.present) {
      expect(how).toBe('stopped');
      expect(r.frames[0]!.width).toBeGreaterThan(0);
    } else {
      expect(how).toBe('error');
      const err = r.error as CaptureError;
      expect(err.code).toBe('MISSING_PLUGIN');
      expect(err.element).toBe('avdec_h264');
      expect(err.hint).toContain('gstreamer1.0-libav');
      expect(err.message).toContain('H.264');
    }
  });
});
