/**
 * What the workers of one bridge group know about each episode, on disk so it survives restarts: one JSON record
 * per episode id, changed only under that episode's lock (`proper-lockfile`: a lock directory created atomically,
 * its mtime refreshed while held, taken over when stale — a worker that dies holding it blocks the episode for
 * `staleMs`, not forever).
 *
 * Why shared and not per worker: a shared subscription hands each *message* to one member, so the stable verdicts
 * of one episode and its `ended` message land on different workers. Which Observation to write, and whether one was
 * written already, can only be decided from what all of them saw: the last stable verdict (for a preliminary
 * Observation when the device dies), when anything of the episode was last seen, and what was written (none →
 * preliminary → final; never backwards, so a late preliminary cannot overwrite a final).
 *
 * The writer holds the lock while it appends the Observation to its NDJSON file and fdatasyncs it, then records
 * what it wrote; a crash between the two is repaired from the worker's NDJSON at its next start (`bridge.ts`).
 * Records of episodes not yet written have a marker in `open/`, which the timeout scan lists (it stays small:
 * only episodes in progress). All workers of a group must see the same directory (one host, or a shared
 * filesystem with working mkdir atomicity).
 */
import { createHash } from 'node:crypto';
import { mkdir, readFile, readdir, rename, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { lock } from 'proper-lockfile';
import type { LesionMessage } from '../publish/wire_message.js';

export type Written = 'none' | 'preliminary' | 'final';
export const WRITTEN_RANK: Record<Written, number> = { none: 0, preliminary: 1, final: 2 };

export interface EpisodeRecord {
  episodeId: string;
  deviceId: string;
  /** The newest stable verdict any worker saw (by seq), the source of a preliminary Observation. */
  lastStable: LesionMessage | null;
  /** Bridge wall clock (ms) when any worker last saw a message of this episode. */
  lastSeenAt: number;
  written: Written;
  writtenBy: string | null;
  writtenAt: number | null;
}

export interface EpisodeLedgerOptions {
  /** A lock older than this (not refreshed) belongs to a dead worker and is taken over (default 10 000 ms, min 2000). */
  staleMs?: number;
  /** Records older than this are pruned (default 30 days). */
  retentionMs?: number;
  now?: () => number;
}

export function newRecord(msg: LesionMessage, episodeId: string, now: number): EpisodeRecord {
  return { episodeId, deviceId: msg.deviceId, lastStable: null, lastSeenAt: now, written: 'none', writtenBy: null, writtenAt: null };
}

export class EpisodeLedger {
  private readonly staleMs: number;
  readonly retentionMs: number;
  private readonly now: () => number;
  private tmpSeq = 0;

  constructor(
    readonly dir: string,
    readonly owner: string,
    opts: EpisodeLedgerOptions = {},
  ) {
    this.staleMs = Math.max(2000, opts.staleMs ?? 10_000);
    this.retentionMs = opts.retentionMs ?? 30 * 24 * 3600 * 1000;
    this.now = opts.now ?? Date.now;
  }

  private hashOf(episodeId: string): string {
    return createHash('sha256').update(episodeId).digest('hex');
  }

  private pathOf(episodeId: string): { sub: string; file: string; open: string } {
    const h = this.hashOf(episodeId);
    const sub = join(this.dir, 'episodes', h.slice(0, 2));
    return { sub, file: join(sub, `${h}.json`), open: join(this.dir, 'open', h) };
  }

  /** The record as last written (no lock: for scans; decide again under the lock). */
  async peek(episodeId: string): Promise<EpisodeRecord | null> {
    return this.readFile(this.pathOf(episodeId).file);
  }

  private async readFile(file: string): Promise<EpisodeRecord | null> {
    try {
      return JSON.parse(await readFile(file, 'utf8')) as EpisodeRecord;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw new Error(`episode ledger: unreadable record ${file} (${(err as Error).message}); remove it to start that episode afresh`);
    }
  }

  /**
   * Runs `fn` with the episode's record (null if none) under its lock; `fn` may do I/O (the NDJSON write) and
   * returns the record to store (or undefined to leave it as it is). A throwing `fn` stores nothing.
   */
  async withEpisode<T>(episodeId: string, fn: (rec: EpisodeRecord | null) => Promise<{ next?: EpisodeRecord; result: T }>): Promise<T> {
    const { sub, file, open } = this.pathOf(episodeId);
    await mkdir(sub, { recursive: true });
    const release = await lock(file, {
      realpath: false,
      stale: this.staleMs,
      retries: { retries: 200, factor: 1.3, minTimeout: 5, maxTimeout: 100 },
      onCompromised: () => undefined, // taken over after a stall longer than staleMs: the record's rank rule still holds
    });
    try {
      const rec = await this.readFile(file);
      const { next, result } = await fn(rec);
      if (next) {
        if (rec && WRITTEN_RANK[next.written] < WRITTEN_RANK[rec.written]) throw new Error(`episode ledger: ${episodeId} would go from ${rec.written} back to ${next.written}`);
        const tmp = `${file}.${process.pid}.${this.tmpSeq++}.tmp`;
        await writeFile(tmp, JSON.stringify(next));
        await rename(tmp, file);
        const wasOpen = rec !== null && rec.written === 'none' && rec.lastStable !== null;
        const isOpen = next.written === 'none' && next.lastStable !== null;
        if (isOpen && !wasOpen) {
          await mkdir(join(this.dir, 'open'), { recursive: true });
          await writeFile(open, episodeId);
        } else if (!isOpen && wasOpen) await rm(open, { force: true });
      }
      return result;
    } finally {
      await release().catch(() => undefined);
    }
  }

  /** Episodes with a stable verdict and nothing written yet (candidates for a preliminary Observation). */
  async openEpisodes(): Promise<string[]> {
    const dir = join(this.dir, 'open');
    let names: string[];
    try {
      names = await readdir(dir);
    } catch {
      return [];
    }
    const out: string[] = [];
    for (const n of names) {
      try {
        out.push(await readFile(join(dir, n), 'utf8'));
      } catch {
        /* closed meanwhile */
      }
    }
    return out.filter((s) => s.length > 0);
  }

  /** Drops the open marker (the episode is no longer a candidate), keeping the record. */
  async forget(episodeId: string): Promise<void> {
    await rm(this.pathOf(episodeId).open, { force: true });
  }

  /** Removes records (and markers, temp files) older than the retention; returns how many. */
  async prune(): Promise<number> {
    const cutoff = this.now() - this.retentionMs;
    let removed = 0;
    const base = join(this.dir, 'episodes');
    let subs: string[] = [];
    try {
      subs = await readdir(base);
    } catch {
      return 0;
    }
    for (const s of subs) {
      let files: string[] = [];
      try {
        files = await readdir(join(base, s));
      } catch {
        continue;
      }
      for (const f of files) {
        const p = join(base, s, f);
        try {
          if ((await stat(p)).mtimeMs < cutoff) {
            await rm(p, { recursive: true, force: true });
            if (f.endsWith('.json')) await rm(join(this.dir, 'open', f.slice(0, -5)), { force: true });
            removed++;
          }
        } catch {
          /* raced with another worker's prune */
        }
      }
    }
    return removed;
  }
}
