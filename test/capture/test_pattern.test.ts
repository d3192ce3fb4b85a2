import { describe, expect, it } from 'vitest';
import { idlePipelineCount, livePipelineCount, pipelinesBuilt } from '../../src/capture/gst_source.js';
import { openSource } from '../../src/capture/open_source.js';
import { eventTypes, record, sleep } from './helpers.js';

describe('test pattern (videotestsrc, real GStreamer)', () => {
  it('yields RGB frames of the requested size with increasing seq and capture times', async () => {
    const cap = openSource('test:smpte', { width: 320, height: 240, fps: 30 });
    const r = record(cap, { timeoutMs: 8000, until: (x) => x.frames.length >= 10 });
    expect(await r.done).toBe('stopped');
    expect(r.frames).toHaveLength(10);
    for (const [i, f] of r.frames.entries()) {
      expect(f).toMatchObject({ seq: i, width: 320, height: 240, format: 'RGB', source: 'test:smpte' });
      expect(f.data.length).toBe(320 * 240 * 3);
      // The whole of its own ArrayBuffer, so the pipeline can transfer it to an inference worker.
      expect([f.data.byteOffset, f.data.buffer.byteLength]).toEqual([0, f.data.length]);
      if (i > 0) {
        expect(f.capturedAt.monoMs).toBeGreaterThan(r.frames[i - 1]!.capturedAt.monoMs);
        expect(f.capturedAt.wallMs).toBeGreaterThanOrEqual(r.frames[i - 1]!.capturedAt.wallMs);
      }
    }
    expect(Math.abs(r.frames[0]!.capturedAt.wallMs - Date.now())).toBeLessThan(10_000);
    expect(eventTypes(r).slice(0, 3)).toEqual(['opening', 'opened', 'first-frame']);
    expect(cap.stats()).toMatchObject({ frames: 10, width: 320, height: 240, fps: 30, restarts: 0 });
  });

  it('delivers R, G, B in that order (a solid red pattern is red)', async () => {
    const cap = openSource('test:red', { width: 64, height: 48 });
    const r = record(cap, { timeoutMs: 8000, until: (x) => x.frames.length >= 1 });
    await r.done;
    const d = r.frames[0]!.data;
    const mid = (24 * 64 + 32) * 3;
    expect(d[mid]).toBeGreaterThan(230);
    expect(d[mid + 1]).toBeLessThan(25);
    expect(d[mid + 2]).toBeLessThan(25);
  });

  it('packs rows of widths that GStreamer pads (322 px = 966 bytes, stride 968)', async () => {
    const cap = openSource('test:smpte', { width: 322, height: 242 });
    const r = record(cap, { timeoutMs: 8000, until: (x) => x.frames.length >= 1 });
    await r.done;
    const f = r.frames[0]!;
    expect(f.data.length).toBe(322 * 242 * 3);
    expect(f.data.buffer.byteLength).toBe(f.data.length);
    // SMPTE bars are vertical: with correct packing every row of the top part starts with the same pixel;
    // with a 2-byte padding error the row starts would drift by 2 bytes per row.
    const px = (x: number, y: number) => Array.from(f.data.subarray((y * 322 + x) * 3, (y * 322 + x) * 3 + 3));
    expect(px(0, 100)).toEqual(px(0, 0));
    expect(px(321, 100)).toEqual(px(321, 0));
  });

  it('runs at the requested rate', async () => {
    const cap = openSource('test', { width: 640, height: 480, fps: 20 });
    const r = record(cap, { timeoutMs: 8000, until: (x) => x.frames.length >= 21 });
    await r.done;
    const seconds = (r.frames[20]!.capturedAt.monoMs - r.frames[0]!.capturedAt.monoMs) / 1000;
    expect(20 / seconds).toBeGreaterThan(16);
    expect(20 / seconds).toBeLessThan(24);
  });

  it('stops the pipeline on unsubscribe: nothing live, no frame afterwards, a closed event', async () => {
    const cap = openSource('test', { width: 160, height: 120, fps: 60 });
    let after = 0;
    let stopped = false;
    const events: string[] = [];
    cap.events$.subscribe((e) => events.push(e.type));
    const sub = cap.frames$.subscribe(() => {
      if (stopped) after++;
    });
    await sleep(300);
    expect(livePipelineCount()).toBe(1);
    sub.unsubscribe();
    stopped = true;
    expect(livePipelineCount()).toBe(0);
    await sleep(300);
    expect(after).toBe(0);
    expect(events.at(-1)).toBe('closed');
    expect(cap.stats().state).toBe('closed');
  });

  it('shares one pipeline between subscribers and keeps seq counting across re-subscriptions', async () => {
    const cap = openSource('test', { width: 64, height: 48, fps: 60 });
    const a: number[] = [];
    const b: number[] = [];
    const sa = cap.frames$.subscribe((f) => a.push(f.seq));
    const sb = cap.frames$.subscribe((f) => b.push(f.seq));
    await sleep(300);
    expect(livePipelineCount()).toBe(1);
    sa.unsubscribe();
    sb.unsubscribe();
    expect(a.length).toBeGreaterThan(3);
    expect(b.at(-1)).toBe(a.at(-1));
    const r = record(cap, { timeoutMs: 5000, until: (x) => x.frames.length >= 2 });
    await r.done;
    expect(r.frames[0]!.seq).toBeGreaterThan(a.at(-1)!);
    expect(livePipelineCount()).toBe(0);
  });

  it('re-plays a stopped camera-like pipeline instead of building (and leaking) a new one', async () => {
    const opts = { width: 96, height: 72, fps: 50 };
    const first = record(openSource('test:snow', opts), { timeoutMs: 5000, until: (x) => x.frames.length >= 2 });
    await first.done;
    const built = pipelinesBuilt();
    await sleep(50); // the stopped pipeline is parked once its pull and bus poll have come back
    expect(idlePipelineCount()).toBeGreaterThanOrEqual(1);
    for (let i = 0; i < 3; i++) {
      const again = record(openSource('test:snow', opts), { timeoutMs: 5000, until: (x) => x.frames.length >= 3 });
      expect(await again.done).toBe('stopped');
      expect(again.frames.map((f) => [f.width, f.height])).toEqual([
        [96, 72],
        [96, 72],
        [96, 72],
      ]);
      await sleep(20);
    }
    expect(pipelinesBuilt()).toBe(built);
    expect(livePipelineCount()).toBe(0);
  });
});
