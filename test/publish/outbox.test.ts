import { appendFile, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { crc32, crc32Js } from '../../src/publish/crc32.js';
import { Outbox, parseSegment, type OutboxLogger } from '../../src/publish/outbox.js';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'outbox-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

const payloadOf = (i: number) => JSON.stringify({ messageId: `d:s:lesion:${i}`, seq: i });
const ids = (ob: Outbox) => [...ob.pending()].map((r) => r.messageId);

function memLogger() {
  const lines: { level: string; obj: object; msg?: string }[] = [];
  const logger: OutboxLogger = {
    info: (obj, msg) => lines.push({ level: 'info', obj, msg }),
    warn: (obj, msg) => lines.push({ level: 'warn', obj, msg }),
    error: (obj, msg) => lines.push({ level: 'error', obj, msg }),
  };
  return { lines, logger };
}

describe('crc32', () => {
  it('matches the table-driven fallback and the known check value', () => {
    const data = Buffer.from('123456789');
    expect(crc32Js(data)).toBe(0xcbf43926);
    expect(crc32(data)).toBe(0xcbf43926);
    expect(crc32(Buffer.from('6789'), crc32(Buffer.from('12345')))).toBe(0xcbf43926);
  });
});

describe('Outbox', () => {
  it('recovers unacknowledged records in order after reopening, with their payloads', async () => {
    const ob = await Outbox.open({ dir });
    for (let i = 0; i < 10; i++) await ob.append('p/d/lesion', `d:s:lesion:${i}`, payloadOf(i)).durable;
    for (const id of [1, 2, 5]) ob.ack(id); // outbox ids start at 1: messages 0, 1 and 4
    await ob.close();

    const ob2 = await Outbox.open({ dir });
    expect(ids(ob2)).toEqual([2, 3, 5, 6, 7, 8, 9].map((i) => `d:s:lesion:${i}`));
    const first = [...ob2.pending()][0];
    expect(first.payload.toString()).toBe(payloadOf(2));
    expect(first.topic).toBe('p/d/lesion');
    expect(first.recovered).toBe(true);
    expect(ob2.stats().recovered).toBe(7);
    // New ids continue after the old ones.
    const { record } = ob2.append('p/d/lesion', 'd:s2:lesion:0', 'x');
    expect(record.id).toBe(11);
    await ob2.close();
  });

  it('sees records that were appended but never closed (kill -9: no close, no flush beyond the fsync)', async () => {
    const ob = await Outbox.open({ dir });
    for (let i = 0; i < 5; i++) await ob.append('t', `m${i}`, payloadOf(i)).durable;
    // Do not close: read the directory as a new process would.
    const ob2 = await Outbox.open({ dir: dir });
    expect(ids(ob2)).toEqual(['m0', 'm1', 'm2', 'm3', 'm4']);
    await ob2.close();
    await ob.close();
  });

  it('skips a torn trailing record and truncates it, without crashing', async () => {
    const ob = await Outbox.open({ dir });
    for (let i = 0; i < 3; i++) await ob.append('t', `m${i}`, payloadOf(i)).durable;
    await ob.close();
    const seg = (await readdir(dir)).filter((n) => n.startsWith('seg-')).sort();
    const withData = [];
    for (const n of seg) if ((await stat(join(dir, n))).size > 0) withData.push(n);
    const path = join(dir, withData[withData.length - 1]);
    const full = await readFile(path);
    // A power cut in the middle of the last record: keep its first 20 bytes.
    const parsed = parseSegment(full);
    const last = parsed.records[parsed.records.length - 1];
    await writeFile(path, full.subarray(0, last.start + 20));

    const { lines, logger } = memLogger();
    const ob2 = await Outbox.open({ dir, logger });
    expect(ids(ob2)).toEqual(['m0', 'm1']);
    expect(ob2.stats().torn).toBe(1);
    expect(lines.some((l) => l.level === 'warn' && /torn/.test(l.msg ?? ''))).toBe(true);
    expect((await stat(path)).size).toBe(last.start); // truncated to the last good record
    await ob2.close();
    // Reported once: the next open finds nothing torn.
    const ob3 = await Outbox.open({ dir });
    expect(ob3.stats().torn).toBe(0);
    expect(ids(ob3)).toEqual(['m0', 'm1']);
    await ob3.close();
  });

  it('resynchronises after corruption in the middle of a segment', async () => {
    const ob = await Outbox.open({ dir });
    for (let i = 0; i < 5; i++) await ob.append('t', `m${i}`, payloadOf(i)).durable;
    await ob.close();
    const names = (await readdir(dir)).filter((n) => n.startsWith('seg-')).sort();
    let path = '';
    for (const n of names) if ((await stat(join(dir, n))).size > 0) path = join(dir, n);
    const buf = await readFile(path);
    const recs = parseSegment(buf).records;
    buf[recs[2].start + 30] ^= 0xff; // flip a byte inside m2's body
    await writeFile(path, buf);
    const ob2 = await Outbox.open({ dir });
    expect(ids(ob2)).toEqual(['m0', 'm1', 'm3', 'm4']);
    expect(ob2.stats().torn).toBe(1);
    await ob2.close();
  });

  it('ignores garbage appended after the last record and a half-written header', async () => {
    const ob = await Outbox.open({ dir });
    await ob.append('t', 'm0', 'a').durable;
    await ob.close();
    const names = (await readdir(dir)).filter((n) => n.startsWith('seg-')).sort();
    let path = '';
    for (const n of names) if ((await stat(join(dir, n))).size > 0) path = join(dir, n);
    await appendFile(path, Buffer.from([0x44, 0x53, 0x4f])); // 3 bytes of a header
    const ob2 = await Outbox.open({ dir });
    expect(ids(ob2)).toEqual(['m0']);
    expect(ob2.stats().torn).toBe(1);
    await ob2.close();
  });

  it('drops the oldest records beyond maxBytes, counts and logs it, and the drop survives a restart', async () => {
    const { lines, logger } = memLogger();
    const payload = 'x'.repeat(200);
    const ob = await Outbox.open({ dir, maxBytes: 2500, logger });
    for (let i = 0; i < 20; i++) ob.append('t', `m${i}`, payload);
    await ob.flushed();
    const st = ob.stats();
    expect(st.bytes).toBeLessThanOrEqual(2500);
    expect(st.dropped.size).toBe(20 - st.depth);
    expect(st.depth).toBeGreaterThan(5);
    const kept = ids(ob);
    expect(kept[kept.length - 1]).toBe('m19');
    expect(kept[0]).toBe(`m${20 - st.depth}`);
    expect(lines.filter((l) => l.level === 'warn' && (l.obj as { reason?: string }).reason === 'size').length).toBe(st.dropped.size);
    await ob.close();
    const ob2 = await Outbox.open({ dir, maxBytes: 2500 });
    expect(ids(ob2)).toEqual(kept);
    await ob2.close();
  });

  it('drops records older than maxAgeMs at open and while running', async () => {
    let now = Date.UTC(2026, 0, 1);
    const ob = await Outbox.open({ dir, maxAgeMs: 10_000, now: () => now });
    await ob.append('t', 'old', 'a').durable;
    now += 5_000;
    await ob.append('t', 'mid', 'b').durable;
    now += 6_000; // 'old' is 11 s old
    expect(ob.enforceAge()).toBe(1);
    expect(ids(ob)).toEqual(['mid']);
    expect(ob.stats().dropped.age).toBe(1);
    await ob.close();
    now += 10_000;
    const ob2 = await Outbox.open({ dir, maxAgeMs: 10_000, now: () => now });
    expect(ids(ob2)).toEqual([]);
    expect(ob2.stats().dropped.age).toBe(1);
    await ob2.close();
  });

  it('keeps records stamped while the wall clock was not set (booted in 1970), whatever their apparent age', async () => {
    let now = 5_000; // 1970
    const ob = await Outbox.open({ dir, maxAgeMs: 10_000, now: () => now });
    await ob.append('t', 'boot', 'a').durable;
    now = Date.UTC(2026, 0, 1); // NTP sets the clock
    await ob.append('t', 'later', 'b').durable;
    expect(ob.enforceAge()).toBe(0);
    now += 20_000;
    expect(ob.enforceAge()).toBe(1);
    expect(ids(ob)).toEqual(['boot']);
    await ob.close();
  });

  it('rolls segments, deletes acknowledged ones, and compacts when an old record pins dead segments', async () => {
    const ob = await Outbox.open({ dir, segmentBytes: 1024 });
    const payload = 'y'.repeat(100);
    await ob.append('t', 'pinned', payload).durable; // never acked
    for (let i = 0; i < 200; i++) {
      const { record, durable } = ob.append('t', `m${i}`, payload);
      await durable;
      ob.ack(record.id);
    }
    await ob.flushed();
    const st = ob.stats();
    expect(st.depth).toBe(1);
    expect(st.compactions).toBeGreaterThan(0);
    expect(st.diskBytes).toBeLessThan(4 * 1024 + 200);
    expect((await readdir(dir)).length).toBeLessThanOrEqual(4);
    await ob.close();
    const ob2 = await Outbox.open({ dir, segmentBytes: 1024 });
    expect(ids(ob2)).toEqual(['pinned']);
    await ob2.close();
  });

  it('removes every segment file but the fresh active one once all is acknowledged', async () => {
    const ob = await Outbox.open({ dir, segmentBytes: 512 });
    const recs = [];
    for (let i = 0; i < 30; i++) recs.push(ob.append('t', `m${i}`, 'z'.repeat(64)));
    await ob.flushed();
    for (const r of recs) ob.ack(r.record.id);
    await ob.flushed();
    await ob.close();
    const ob2 = await Outbox.open({ dir, segmentBytes: 512 });
    expect(ob2.depth).toBe(0);
    await ob2.close();
    expect((await readdir(dir)).filter((n) => n.startsWith('seg-')).length).toBeLessThanOrEqual(3);
  });

  it('group-commits concurrent appends and reports fsync latency', async () => {
    const ob = await Outbox.open({ dir });
    const t0 = performance.now();
    const n = 200;
    const all = [];
    for (let i = 0; i < n; i++) all.push(ob.append('t', `m${i}`, payloadOf(i)).durable);
    await Promise.all(all);
    const dt = performance.now() - t0;
    const st = ob.stats();
    expect(st.fsyncs).toBeLessThan(n);
    // Sequential (one fsync each) for the latency of a single append.
    const t1 = performance.now();
    for (let i = 0; i < 20; i++) await ob.append('t', `s${i}`, payloadOf(i)).durable;
    const seq = (performance.now() - t1) / 20;
    console.log(
      `outbox: ${n} concurrent appends in ${dt.toFixed(1)} ms (${((n / dt) * 1000).toFixed(0)}/s, ${st.fsyncs} fsyncs); ` +
        `sequential append+fdatasync ${seq.toFixed(2)} ms each; stats mean ${ob.stats().appendLatencyMs.mean.toFixed(2)} ms`,
    );
    await ob.close();
  });

  it('a record dropped before it reaches the disk does not come back', async () => {
    const ob = await Outbox.open({ dir, maxBytes: 300 });
    ob.append('t', 'a', 'x'.repeat(100));
    ob.append('t', 'b', 'x'.repeat(100));
    ob.append('t', 'c', 'x'.repeat(100));
    await ob.flushed();
    const kept = ids(ob);
    await ob.close();
    const ob2 = await Outbox.open({ dir, maxBytes: 300 });
    expect(ids(ob2)).toEqual(kept);
    await ob2.close();
  });
});
