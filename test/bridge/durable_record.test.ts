import { appendFile, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { BoundedSet, ClaimStore, NdjsonSink } from '../../src/bridge/index.js';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'rec-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('NdjsonSink', () => {
  it('appends whole lines and reads them back on open', async () => {
    const p = join(dir, 'sub', 'out.ndjson');
    const a = await NdjsonSink.open(p);
    await a.append('{"n":1}');
    await a.append('{"n":2}');
    await a.close();
    const seen: string[] = [];
    const b = await NdjsonSink.open(p, { onExistingLine: (l) => seen.push(l) });
    expect(seen).toEqual(['{"n":1}', '{"n":2}']);
    expect(b.info).toEqual({ tornBytes: 0, existingLines: 2, truncatedScan: false });
    await b.append('{"n":3}');
    await b.close();
    expect(await readFile(p, 'utf8')).toBe('{"n":1}\n{"n":2}\n{"n":3}\n');
    await expect(b.append('x')).rejects.toThrow(/closed/);
  });

  it('cuts a torn last line (crash mid-write) so the next line does not glue onto it', async () => {
    const p = join(dir, 'out.ndjson');
    await writeFile(p, '{"n":1}\n{"n":2}\n{"n":3, "partial');
    const seen: string[] = [];
    const s = await NdjsonSink.open(p, { onExistingLine: (l) => seen.push(l) });
    expect(s.info.tornBytes).toBe('{"n":3, "partial'.length);
    expect(seen).toEqual(['{"n":1}', '{"n":2}']);
    await s.append('{"n":3}');
    await s.close();
    expect(await readFile(p, 'utf8')).toBe('{"n":1}\n{"n":2}\n{"n":3}\n');
  });

  it('reads back only the last scanBytes of a long file, skipping the partial first line', async () => {
    const p = join(dir, 'out.ndjson');
    for (let i = 0; i < 1000; i++) await appendFile(p, `{"n":${i}}\n`);
    const seen: string[] = [];
    const s = await NdjsonSink.open(p, { scanBytes: 100, onExistingLine: (l) => seen.push(l) });
    expect(s.info.truncatedScan).toBe(true);
    expect(seen.at(-1)).toBe('{"n":999}');
    expect(seen.length).toBeGreaterThan(5);
    expect(seen.length).toBeLessThan(12);
    for (const l of seen) expect(() => JSON.parse(l)).not.toThrow();
    await s.close();
  });

  it('refuses a line with a newline in it', async () => {
    const s = await NdjsonSink.open(join(dir, 'x.ndjson'));
    await expect(s.append('a\nb')).rejects.toThrow(/newline/);
    await s.close();
  });
});

describe('ClaimStore (shared de-duplication)', () => {
  it('first claim wins; the other worker sees it taken once committed', async () => {
    const a = new ClaimStore(join(dir, 'claims'), 'worker-a');
    const b = new ClaimStore(join(dir, 'claims'), 'worker-b', { staleMs: 2000 });
    expect(await a.claim('m1')).toBe('new');
    const pending = b.claim('m1'); // waits: a has not committed yet
    await new Promise((r) => setTimeout(r, 100));
    await a.commit('m1');
    expect(await pending).toBe('taken');
    expect(await a.claim('m1')).toBe('mine');
  });

  it('a claim its owner never committed (crash) is taken over after staleMs', async () => {
    const a = new ClaimStore(join(dir, 'claims'), 'worker-a');
    const b = new ClaimStore(join(dir, 'claims'), 'worker-b', { staleMs: 150 });
    expect(await a.claim('m2')).toBe('new');
    const t0 = Date.now();
    expect(await b.claim('m2')).toBe('stolen');
    expect(Date.now() - t0).toBeGreaterThanOrEqual(140);
    await b.commit('m2');
    expect(await a.claim('m2')).toBe('taken');
  });

  it('concurrent claims of one id: exactly one new', async () => {
    const stores = Array.from({ length: 4 }, (_, i) => new ClaimStore(join(dir, 'claims'), `w${i}`, { staleMs: 5000 }));
    const results = await Promise.all(
      stores.map(async (s) => {
        const r = await s.claim('race');
        if (r === 'new') await s.commit('race');
        return r;
      }),
    );
    expect(results.filter((r) => r === 'new')).toHaveLength(1);
    expect(results.filter((r) => r === 'taken')).toHaveLength(3);
  });

  it('prunes claims older than the retention', async () => {
    let now = 1_000_000;
    const a = new ClaimStore(join(dir, 'claims'), 'a', { retentionMs: 1000, now: () => now });
    await a.claim('old');
    await a.commit('old');
    now = Date.now() + 10_000; // files' mtimes are real time
    expect(await a.prune()).toBe(1);
    expect(await a.claim('old')).toBe('new');
  });
});

describe('BoundedSet', () => {
  it('forgets the oldest beyond its capacity', () => {
    const s = new BoundedSet<number>(3);
    for (const v of [1, 2, 3, 2, 4]) s.add(v);
    expect([1, 2, 3, 4].map((v) => s.has(v))).toEqual([false, true, true, true]);
    expect(s.size).toBe(3);
  });
});
