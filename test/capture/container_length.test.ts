import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { fileTruncation, findTruncation } from '../../src/capture/container_length.js';
import type { CaptureEvent } from '../../src/capture/events.js';
import { openSource } from '../../src/capture/open_source.js';
import { makeMjpegAvi, record, tempDir } from './helpers.js';

const reader = (buf: Buffer) => (offset: number, length: number) => buf.subarray(offset, offset + length);

describe('findTruncation (container length fields)', () => {
  it('RIFF: declared size beyond the file is a cut; equal is complete; 0 (streamed) is unknown', () => {
    const riff = (declared: number, actual: number) => {
      const b = Buffer.alloc(actual);
      b.write('RIFF', 0, 'latin1');
      b.writeUInt32LE(declared - 8, 4);
      b.write('AVI ', 8, 'latin1');
      return b;
    };
    expect(findTruncation(reader(riff(1000, 1000)), 1000)).toBeUndefined();
    expect(findTruncation(reader(riff(1000, 600)), 600)).toEqual({ declaredBytes: 1000, actualBytes: 600, format: 'RIFF' });
    const streamed = riff(1000, 600);
    streamed.writeUInt32LE(0, 4);
    expect(findTruncation(reader(streamed), 600)).toBeUndefined();
  });

  it('ISO BMFF: top-level boxes must fit in the file', () => {
    const box = (type: string, len: number) => {
      const b = Buffer.alloc(len);
      b.writeUInt32BE(len, 0);
      b.write(type, 4, 'latin1');
      return b;
    };
    const mp4 = Buffer.concat([box('ftyp', 24), box('moov', 100), box('mdat', 400)]);
    expect(findTruncation(reader(mp4), mp4.length)).toBeUndefined();
    const cut = mp4.subarray(0, 300);
    expect(findTruncation(reader(cut), cut.length)).toEqual({ declaredBytes: 524, actualBytes: 300, format: 'ISO BMFF' });
    expect(findTruncation(reader(Buffer.from('not a container at all')), 22)).toBeUndefined();
  });
});

describe('a cut recording says it was cut (issue 10, item 6)', () => {
  const tmp = tempDir();
  afterAll(() => tmp.remove());

  it('a complete AVI ends plainly; the same AVI cut in half ends with `truncated` naming both sizes', async () => {
    const full = makeMjpegAvi(path.join(tmp.dir, 'full.avi'), { frames: 30, width: 160, height: 120 });
    const bytes = readFileSync(full);
    const cutFile = path.join(tmp.dir, 'cut.avi');
    writeFileSync(cutFile, bytes.subarray(0, Math.floor(bytes.length / 2)));
    expect(fileTruncation(full)).toBeUndefined();
    expect(fileTruncation(cutFile)?.actualBytes).toBe(Math.floor(bytes.length / 2));

    const eosOf = async (file: string) => {
      const r = record(openSource(`file:${file}`, { realtime: false }), { timeoutMs: 10_000 });
      expect(await r.done).toBe('complete');
      return { frames: r.frames.length, eos: r.events.find((e): e is Extract<CaptureEvent, { type: 'eos' }> => e.type === 'eos')! };
    };
    const whole = await eosOf(full);
    expect(whole.eos.truncated).toBeUndefined();
    const cut = await eosOf(cutFile);
    expect(cut.frames).toBeGreaterThan(0);
    expect(cut.frames).toBeLessThan(whole.frames);
    expect(cut.eos.truncated).toMatch(new RegExp(`cut\\.avi is cut short: its RIFF header declares ${bytes.length} bytes but the file has ${Math.floor(bytes.length / 2)}`));
  });
});
