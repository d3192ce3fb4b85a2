import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { open, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Outbox, type OutboxDurability, type OutboxLogger } from '../../src/publish/outbox.js';

/**
 * Issue 10, item 8, on a real full disk: a 256 KiB tmpfs (mount needs root; skipped with a message
 * otherwise), filled with a file until write() says ENOSPC. Before the fix: appends went to memory with
 * one log line and nothing else, and the ACKs that could not be written replayed as duplicates after a
 * restart (44 in the probe).
 */
const base = mkdtempSync(join(tmpdir(), 'outbox-full-'));
const mnt = join(base, 'mnt');
let mounted = false;
try {
  execFileSync('mkdir', ['-p', mnt]);
  execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=256k', 'tmpfs', mnt], { stdio: 'ignore' });
  mounted = true;
} catch {
  console.warn('cannot mount a tmpfs here (needs root): the full-disk outbox tests are skipped');
}

const quiet: OutboxLogger = { info() {}, warn() {}, error() {} };
const payload = (i: number) => JSON.stringify({ messageId: `d:s:lesion:${i}`, seq: i, pad: 'x'.repeat(200) });

/** Writes a filler until the file system is full; returns a function that frees it. */
async function fillDisk(dir: string): Promise<() => Promise<void>> {
  const file = join(dir, 'filler');
  const fh = await open(file, 'w');
  const chunk = Buffer.alloc(4096, 1);
  try {
    for (;;) {
      const { bytesWritten } = await fh.write(chunk);
      if (bytesWritten < chunk.length) break;
    }
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOSPC') throw err;
  } finally {
    await fh.close();
  }
  return () => rm(file);
}

function until(ob: Outbox, pred: (d: OutboxDurability) => boolean, ms = 10_000): Promise<OutboxDurability> {
  return new Promise((resolve, reject) => {
    if (pred(ob.durability())) return resolve(ob.durability());
    const t = setTimeout(() => reject(new Error(`durability did not change: ${JSON.stringify(ob.durability())}`)), ms);
    const off = ob.onDurability((d) => {
      if (!pred(d)) return;
      clearTimeout(t);
      off();
      resolve(d);
    });
  });
}

describe.skipIf(!mounted)('outbox on a full disk (real ENOSPC on a tmpfs)', () => {
  afterAll(() => {
    if (mounted) execFileSync('umount', [mnt]);
    rmSync(base, { recursive: true, force: true });
  });
  let n = 0;
  const freshDir = () => join(mnt, `ob${n++}`);
  beforeAll(() => undefined);

  it('says durability is gone (reason, memory-only count), writes everything once space returns, and nothing replays after a restart', async () => {
    const dir = freshDir();
    const ob = await Outbox.open({ dir, logger: quiet });
    const early = [0, 1, 2].map((i) => ob.append('t/lesion', `m${i}`, payload(i)));
    await Promise.all(early.map((a) => a.durable));
    expect(ob.durability()).toMatchObject({ durable: true, memoryOnly: 0, writeFailures: 0 });

    const free = await fillDisk(mnt);
    // The segment's last page may still take a record or two: append until the disk refuses one.
    let i = 3;
    const onDisk = [...early];
    for (; i < 60; i++) {
      const a = ob.append('t/lesion', `m${i}`, payload(i));
      if ((await a.durable.then(() => true, () => false)) === false) break;
      onDisk.push(a);
    }
    expect(i).toBeLessThan(60);
    const first = i;
    const late = [i + 1, i + 2, i + 3].map((k) => ob.append('t/lesion', `m${k}`, payload(k)));
    const results = await Promise.allSettled(late.map((a) => a.durable));
    expect(results.every((r) => r.status === 'rejected')).toBe(true);
    const lost = ob.durability();
    expect(lost.durable).toBe(false);
    expect(lost.reason).toMatch(/ENOSPC/);
    expect(lost.memoryOnly).toBe(4);
    // Still sendable from memory.
    expect([...ob.pending()].every((r) => r.durable)).toBe(true);
    // The broker acknowledges everything on disk and one kept in memory: the ACKs cannot be written either.
    for (const a of [...onDisk, late[0]!]) ob.ack(a.record.id);
    await new Promise((r) => setTimeout(r, 50));
    expect(ob.durability().unwrittenAcks).toBeGreaterThanOrEqual(onDisk.length);
    expect(ob.durability().memoryOnly).toBe(3);

    await free();
    const back = await until(ob, (d) => d.durable);
    expect(back).toMatchObject({ durable: true, memoryOnly: 0, unwrittenAcks: 0 });
    expect(back.writeFailures).toBeGreaterThanOrEqual(1);
    await ob.close();

    const again = await Outbox.open({ dir, logger: quiet });
    // Exactly the three never acknowledged: no duplicates of what the broker had, none of the memory-only ones lost.
    expect([...again.pending()].map((r) => r.messageId)).toEqual([`m${first}`, `m${first + 2}`, `m${first + 3}`]);
    await again.close();
  }, 30_000);

  it('a restart while the disk is still full replays at most the reported unwrittenAcks', async () => {
    const dir = freshDir();
    const ob = await Outbox.open({ dir, logger: quiet });
    const recs = [0, 1, 2, 3, 4].map((i) => ob.append('t/lesion', `m${i}`, payload(i)));
    await Promise.all(recs.map((a) => a.durable));
    const free = await fillDisk(mnt);
    for (const a of recs.slice(0, 4)) ob.ack(a.record.id);
    await new Promise((r) => setTimeout(r, 50));
    const d = ob.durability();
    await ob.close();
    const again = await Outbox.open({ dir, logger: quiet }).catch((e: unknown) => e as Error);
    await free();
    if (again instanceof Error) return; // could not even open: nothing replays
    const replayed = [...again.pending()].map((r) => r.messageId);
    await again.close();
    expect(replayed.length - 1).toBeLessThanOrEqual(d.unwrittenAcks);
    expect(replayed).toContain('m4');
  }, 30_000);
});
