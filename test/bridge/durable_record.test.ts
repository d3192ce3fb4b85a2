import { appendFile, mkdir, mkdtemp, readFile, rm, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { BoundedSet, EpisodeLedger, NdjsonSink, preliminaryDue, SinkLockedError, type EpisodeRecord } from '../../src/bridge/index.js';

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

  it('one writer per file: a second open is refused, naming the file and the fix, until the first closes', async () => {
    const p = join(dir, 'out.ndjson');
    const a = await NdjsonSink.open(p);
    await a.append('{"n":1}');
    const second = NdjsonSink.open(p, { lockWaitMs: 600 });
    await expect(second).rejects.toBeInstanceOf(SinkLockedError);
    await expect(NdjsonSink.open(p, { lockWaitMs: 0 })).rejects.toThrow(/out\.ndjson is already being written by another process .*fix: stop the other bridge, or give this one its own --out/);
    // The refused open touched nothing: the first writer's line is whole and it goes on appending.
    await a.append('{"n":2}');
    expect(await readFile(p, 'utf8')).toBe('{"n":1}\n{"n":2}\n');
    await a.close();
    const b = await NdjsonSink.open(p);
    expect(b.info.existingLines).toBe(2);
    await b.close();
  });

  it('a lock left by a dead writer (not refreshed) is taken over after lockStaleMs', async () => {
    const p = join(dir, 'out.ndjson');
    await mkdir(`${p}.lock`); // what proper-lockfile leaves when its holder is killed
    const old = new Date(Date.now() - 60_000);
    await utimes(`${p}.lock`, old, old);
    const s = await NdjsonSink.open(p, { lockStaleMs: 2000, lockWaitMs: 0 });
    await s.append('{"n":1}');
    await s.close();
  });

  it('refuses a line with a newline in it', async () => {
    const s = await NdjsonSink.open(join(dir, 'x.ndjson'));
    await expect(s.append('a\nb')).rejects.toThrow(/newline/);
    await s.close();
  });
});

describe('BoundedSet', () => {
  it('forgets the oldest beyond its capacity', () => {
    const s = new BoundedSet<number>(3);
    for (const v of [1, 2, 3, 4]) s.add(v);
    expect([s.has(1), s.has(2), s.has(4), s.size]).toEqual([false, true, true, 3]);
  });
});

const stable = { seq: 5, sessionId: 's1' } as unknown as EpisodeRecord['lastStable'];
const rec = (o: Partial<EpisodeRecord> = {}): EpisodeRecord => ({ episodeId: 'd:s:ep0', deviceId: 'd', lastStable: stable, lastSeenAt: 1000, written: 'none', writtenBy: null, writtenAt: null, ...o });

describe('EpisodeLedger (the group\'s shared episode state)', () => {
  it('read-modify-write under the episode lock: 4 workers × 25 increments of one record lose none', async () => {
    const ledgers = Array.from({ length: 4 }, (_, i) => new EpisodeLedger(join(dir, 'l'), `w${i}`));
    await Promise.all(
      ledgers.map(async (l) => {
        for (let i = 0; i < 25; i++) {
          await l.withEpisode('d:s:ep0', async (r) => {
            const base = r ?? rec({ lastSeenAt: 0 });
            await new Promise((res) => setTimeout(res, Math.random() * 2)); // widen the race window
            return { next: { ...base, lastSeenAt: base.lastSeenAt + 1 }, result: undefined };
          });
        }
      }),
    );
    expect((await ledgers[0]!.peek('d:s:ep0'))!.lastSeenAt).toBe(100);
  });

  it('lists an episode as open while it has a stable verdict and nothing written; never goes back from final', async () => {
    const l = new EpisodeLedger(join(dir, 'l'), 'w');
    await l.withEpisode('d:s:ep1', async () => ({ next: rec({ episodeId: 'd:s:ep1', lastStable: null }), result: 0 }));
    expect(await l.openEpisodes()).toEqual([]);
    await l.withEpisode('d:s:ep1', async (r) => ({ next: { ...r!, lastStable: stable }, result: 0 }));
    expect(await l.openEpisodes()).toEqual(['d:s:ep1']);
    await l.withEpisode('d:s:ep1', async (r) => ({ next: { ...r!, written: 'final' }, result: 0 }));
    expect(await l.openEpisodes()).toEqual([]);
    await expect(l.withEpisode('d:s:ep1', async (r) => ({ next: { ...r!, written: 'preliminary' }, result: 0 }))).rejects.toThrow(/from final back to preliminary/);
    expect((await l.peek('d:s:ep1'))!.written).toBe('final');
  });

  it('a throwing writer stores nothing and releases the lock', async () => {
    const l = new EpisodeLedger(join(dir, 'l'), 'w');
    await expect(l.withEpisode('d:s:ep2', async () => Promise.reject(new Error('disk full')))).rejects.toThrow(/disk full/);
    expect(await l.peek('d:s:ep2')).toBeNull();
    expect(await l.withEpisode('d:s:ep2', async (r) => ({ result: r }))).toBeNull();
  });

  it('prunes records older than the retention', async () => {
    let now = Date.now();
    const l = new EpisodeLedger(join(dir, 'l'), 'w', { retentionMs: 1000, now: () => now });
    await l.withEpisode('d:s:ep3', async () => ({ next: rec({ episodeId: 'd:s:ep3' }), result: 0 }));
    expect(await l.prune()).toBe(0);
    now += 5000;
    expect(await l.prune()).toBe(1);
    expect(await l.peek('d:s:ep3')).toBeNull();
    expect(await l.openEpisodes()).toEqual([]);
  });
});

describe('preliminaryDue', () => {
  const t = { provisionalAfterMs: 15_000, offlineGraceMs: 2000 };
  it('after the silence, not before; never once something is written or without a stable verdict', () => {
    expect(preliminaryDue(rec(), 1000 + 14_999, null, t).due).toBe(false);
    expect(preliminaryDue(rec(), 1000 + 15_000, null, t)).toEqual({ due: true, why: 'silence' });
    expect(preliminaryDue(rec({ written: 'preliminary' }), 1e9, null, t).due).toBe(false);
    expect(preliminaryDue(rec({ written: 'final' }), 1e9, null, t).due).toBe(false);
    expect(preliminaryDue(rec({ lastStable: null }), 1e9, null, t).due).toBe(false);
  });
  it('sooner when the device went offline after the episode\'s last message, after the grace', () => {
    expect(preliminaryDue(rec(), 3000, 1500, t).due).toBe(false);
    expect(preliminaryDue(rec(), 3500, 1500, t)).toEqual({ due: true, why: 'offline' });
    // offline reported before the episode's last message (the device came back): the silence rule only
    expect(preliminaryDue(rec(), 5000, 500, t).due).toBe(false);
  });
});
