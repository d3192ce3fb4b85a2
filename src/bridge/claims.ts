/**
 * De-duplication shared by the workers of one bridge group: a directory of claim files, one per message id.
 *
 * Why: with a shared subscription the broker hands each *publish* to one member of the group, so two copies of the
 * same message (a device re-sending after a lost PUBACK, a replay after a restart) can land on two different
 * workers. Each worker's own record cannot see the other's; a claim in a directory both can reach can.
 *
 * Protocol for a message id (key):
 *  1. `claim(key)` creates `<dir>/<h[0..2]>/<sha256(key)>.json` exclusively (`O_EXCL`) with `{owner, state: claimed}`:
 *     - created → `new`: this worker writes the verdict.
 *     - exists, owner is this worker → `mine` (a re-delivery after this worker crashed before it finished): write it
 *       unless the worker's own NDJSON already has it.
 *     - exists and `committed` by another worker → `taken`: a duplicate, drop it.
 *     - exists, `claimed` by another worker and not committed: that worker is writing it right now, or died doing so.
 *       Wait (polling) up to `staleMs`; committed meanwhile → `taken`; still not → take it over (`stolen`) and write
 *       it, so a worker that died between claim and write cannot make a verdict disappear. The cost of a wrong guess
 *       (a worker stalled for longer than `staleMs`) is a duplicate line, which the EHR's conditional create
 *       (`If-None-Exist`) still catches — a duplicate rather than a loss.
 *  2. `commit(key)` marks the claim committed after the verdict is durably written.
 *
 * The owner id must be stable across restarts of one worker and unique within the group (the bridge uses its MQTT
 * client id). Claims older than `retentionMs` are pruned (`prune`), which bounds the directory; a duplicate that
 * arrives later than that is no longer recognised here (the worker's NDJSON record and the EHR's conditional create
 * remain). Claim files are not fsync'ed: after a power cut a claim may be lost, which can only cause a duplicate,
 * never a loss. Workers on different hosts need the directory on a shared filesystem; otherwise give each host its own
 * and rely on the conditional create for cross-host duplicates.
 */
import { createHash } from 'node:crypto';
import { mkdir, open, readFile, readdir, rename, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

export type ClaimResult = 'new' | 'mine' | 'taken' | 'stolen';

interface ClaimFile {
  key: string;
  owner: string;
  state: 'claimed' | 'committed';
  at: number;
}

export interface ClaimStoreOptions {
  /** How long another worker's un-committed claim is waited for before it is taken over (default 5000 ms). */
  staleMs?: number;
  pollMs?: number;
  /** Claims older than this are pruned (default 7 days). */
  retentionMs?: number;
  now?: () => number;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export class ClaimStore {
  private readonly staleMs: number;
  private readonly pollMs: number;
  readonly retentionMs: number;
  private readonly now: () => number;
  private tmpSeq = 0;

  constructor(
    readonly dir: string,
    readonly owner: string,
    opts: ClaimStoreOptions = {},
  ) {
    this.staleMs = opts.staleMs ?? 5000;
    this.pollMs = opts.pollMs ?? 25;
    this.retentionMs = opts.retentionMs ?? 7 * 24 * 3600 * 1000;
    this.now = opts.now ?? Date.now;
  }

  private pathOf(key: string): { sub: string; file: string } {
    const h = createHash('sha256').update(key).digest('hex');
    const sub = join(this.dir, h.slice(0, 2));
    return { sub, file: join(sub, `${h}.json`) };
  }

  private async read(file: string): Promise<ClaimFile | null> {
    try {
      const text = await readFile(file, 'utf8');
      if (text.length === 0) return null; // created, not yet written
      return JSON.parse(text) as ClaimFile;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw err;
      return null; // partially written
    }
  }

  private async replace(file: string, content: ClaimFile): Promise<void> {
    const tmp = `${file}.${process.pid}.${this.tmpSeq++}.tmp`;
    await writeFile(tmp, JSON.stringify(content));
    await rename(tmp, file);
  }

  async claim(key: string): Promise<ClaimResult> {
    const { sub, file } = this.pathOf(key);
    await mkdir(sub, { recursive: true });
    const deadline = this.now() + this.staleMs;
    for (;;) {
      try {
        const fh = await open(file, 'wx');
        try {
          await fh.writeFile(JSON.stringify({ key, owner: this.owner, state: 'claimed', at: this.now() } satisfies ClaimFile));
        } finally {
          await fh.close();
        }
        return 'new';
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      }
      let c: ClaimFile | null;
      try {
        c = await this.read(file);
      } catch {
        continue; // pruned between open and read: try to create it again
      }
      if (c && c.owner === this.owner) return 'mine';
      if (c && c.state === 'committed') return 'taken';
      if (this.now() >= deadline || (c !== null && this.now() - c.at > this.staleMs)) {
        await this.replace(file, { key, owner: this.owner, state: 'claimed', at: this.now() });
        return 'stolen';
      }
      await sleep(this.pollMs);
    }
  }

  async commit(key: string): Promise<void> {
    const { file } = this.pathOf(key);
    await this.replace(file, { key, owner: this.owner, state: 'committed', at: this.now() });
  }

  /** Removes claims (and stray temp files) older than the retention; returns how many. */
  async prune(): Promise<number> {
    const cutoff = this.now() - this.retentionMs;
    let removed = 0;
    let subs: string[];
    try {
      subs = await readdir(this.dir);
    } catch {
      return 0;
    }
    for (const s of subs) {
      let files: string[];
      try {
        files = await readdir(join(this.dir, s));
      } catch {
        continue;
      }
      for (const f of files) {
        const p = join(this.dir, s, f);
        try {
          if ((await stat(p)).mtimeMs < cutoff) {
            await rm(p, { force: true });
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

/** An insertion-ordered set that forgets its oldest entries beyond `capacity`. */
export class BoundedSet<T> {
  private readonly set = new Set<T>();
  constructor(readonly capacity: number) {}
  has(v: T): boolean {
    return this.set.has(v);
  }
  add(v: T): void {
    if (this.set.has(v)) return;
    this.set.add(v);
    while (this.set.size > this.capacity) {
      const first = this.set.values().next().value as T;
      this.set.delete(first);
    }
  }
  get size(): number {
    return this.set.size;
  }
}
