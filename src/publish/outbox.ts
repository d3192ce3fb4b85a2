/**
 * Durable outbox for `lesion` messages: the source of truth for "no verdict lost".
 *
 * A message is appended (and fdatasync'ed) *before* it is published, and removed when the broker acknowledges it
 * (PUBACK). After `kill -9` or a power cut, `Outbox.open` reads back what was not acknowledged, in order, and the
 * publisher sends it again with its original payload (same `messageId`, so consumers drop duplicates).
 *
 * ## On-disk format
 * `<dir>/seg-<20-digit index>.log`: append-only segment files of records
 *
 *     offset 0  u32 LE  magic 0x424F5344 ("DSOB")
 *            4  u8      type: 1 APPEND, 2 ACK, 3 DROP
 *            5  u8[3]   reserved (0)
 *            8  u32 LE  body length
 *           12  u32 LE  CRC-32 of bytes 4..11 and the body
 *           16  body
 *     APPEND body: u64 LE id, f64 LE enqueuedAt (wall ms), u16 LE topic length, topic (UTF-8),
 *                  u16 LE messageId length, messageId (UTF-8), payload (the rest)
 *     ACK body:    u64 LE id
 *     DROP body:   u64 LE id, u8 reason (1 size, 2 age)
 *
 * Ids are increasing across segments. Appends are group-committed: all records queued while a write+fdatasync is in
 * flight go out in the next single write+fdatasync. ACK/DROP records are written without their own fsync (losing one
 * in a crash only means a duplicate later, which the messageId covers).
 *
 * Reading: a record with a bad magic, an impossible length or a CRC mismatch (a torn write after a power cut, or
 * corruption) is counted in `torn`, and reading resynchronises on the next valid record; a torn tail is truncated away.
 * A process always starts a fresh active segment, so old segments are never appended to.
 *
 * Reclaiming space: segments are deleted from the oldest on, once every APPEND in them (and every older segment) is
 * acknowledged or dropped; if an old unacknowledged message pins many dead segments, a compaction writes all live
 * records to a new segment (temp file, fsync, rename, fsync of the directory) and deletes the older ones. Reading
 * skips an APPEND whose id it has seen, so a crash halfway through a compaction only leaves duplicates on disk.
 *
 * Bounds: `maxBytes` (sum of live records) drops the oldest messages when exceeded; `maxAgeMs` drops messages older
 * than that (checked at open, on each append and on a timer). Every drop is logged and counted by reason.
 */
import { closeSync, fsyncSync, openSync } from 'node:fs';
import { mkdir, open, readdir, readFile, rename, rm, truncate, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { backoffDelayMs, backoffPolicy } from '../shared/backoff.js';
import { crc32 } from './crc32.js';
import type { Logger } from '../types/logger.js';

export type OutboxLogger = Logger;

/** Retry of writes the disk refused: 0.5 s doubling to 30 s (a disk freed by hand should be used soon). */
const WRITE_RETRY = backoffPolicy({ initialMs: 500, maxMs: 30_000, jitter: 0.1 });

export const silentLogger: OutboxLogger = { info() {}, warn() {}, error() {} };

export interface OutboxOptions {
  dir: string;
  /** Upper bound on the bytes of unacknowledged records (default 64 MiB); the oldest are dropped beyond it. */
  maxBytes?: number;
  /** Messages older than this (wall clock, ms) are dropped (default 7 days). */
  maxAgeMs?: number;
  /** Roll the active segment beyond this size (default 4 MiB). */
  segmentBytes?: number;
  /** How often to apply `maxAgeMs` while running (default min(maxAgeMs / 10, 60 s)). */
  ageCheckIntervalMs?: number;
  /** Skip fdatasync (tests of bounds only; never in production). Default true. */
  fsync?: boolean;
  logger?: OutboxLogger;
  /** Wall clock, for tests. */
  now?: () => number;
}

export interface OutboxRecord {
  /** Outbox-internal, increasing id. */
  readonly id: number;
  readonly topic: string;
  readonly messageId: string;
  readonly payload: Buffer;
  /** Wall ms when appended. */
  readonly enqueuedAt: number;
  /** True once written and fdatasync'ed: only durable records may be sent. */
  durable: boolean;
  /** Came from disk at open (a previous process). */
  readonly recovered: boolean;
  /** Segment index holding the APPEND. */
  segment: number;
  /** On-disk size of the APPEND record. */
  readonly size: number;
}

export type DropReason = 'size' | 'age';

export interface OutboxStats {
  depth: number;
  bytes: number;
  appended: number;
  acked: number;
  recovered: number;
  dropped: { size: number; age: number };
  torn: number;
  tornBytes: number;
  segments: number;
  diskBytes: number;
  compactions: number;
  fsyncs: number;
  appendLatencyMs: { last: number; max: number; mean: number };
}

/**
 * Whether what the outbox holds survives a restart. When the disk refuses a write (full, read-only, gone)
 * the records are still sent from memory, but they are not durable until a retry gets them onto disk; the
 * ACK/DROP records that could not be written are retried too, so a restart does not replay what the broker
 * already has (measured before this: 44 duplicates after a full-disk episode).
 */
export interface OutboxDurability {
  /** False from the first failed write until a retry has written everything that was kept back. */
  durable: boolean;
  /** Why not (the OS error, e.g. "ENOSPC: no space left on device"), while not durable. */
  reason?: string;
  /** Wall ms of the last change. */
  since: number;
  /** Unacknowledged messages held in memory only: lost if the process stops now. */
  memoryOnly: number;
  /** ACK/DROP records not yet on disk: each is one duplicate at the next start if the process stops now. */
  unwrittenAcks: number;
  /** Writes (batches) that failed since open. */
  writeFailures: number;
}

const MAGIC = 0x424f5344;
const HEADER = 16;
const T_APPEND = 1;
const T_ACK = 2;
const T_DROP = 3;
const MAX_BODY = 256 * 1024 * 1024;
const SEG_RE = /^seg-(\d{20})\.log$/;
/** 2020-01-01: a wall clock before this has not been set (no RTC, no NTP yet). */
const CLOCK_SET_AFTER = Date.UTC(2020, 0, 1);

const segName = (index: number): string => `seg-${String(index).padStart(20, '0')}.log`;

function encodeRecord(type: number, body: Buffer): Buffer {
  const buf = Buffer.allocUnsafe(HEADER + body.length);
  buf.writeUInt32LE(MAGIC, 0);
  buf.writeUInt8(type, 4);
  buf.writeUInt8(0, 5);
  buf.writeUInt16LE(0, 6);
  buf.writeUInt32LE(body.length, 8);
  body.copy(buf, HEADER);
  buf.writeUInt32LE(crc32(body, crc32(buf.subarray(4, 12))), 12);
  return buf;
}

function appendBody(id: number, enqueuedAt: number, topic: string, messageId: string, payload: Buffer): Buffer {
  const t = Buffer.from(topic, 'utf8');
  const m = Buffer.from(messageId, 'utf8');
  if (t.length > 0xffff || m.length > 0xffff) throw new Error('outbox: topic or messageId too long');
  const body = Buffer.allocUnsafe(8 + 8 + 2 + t.length + 2 + m.length + payload.length);
  let o = body.writeBigUInt64LE(BigInt(id), 0);
  o = body.writeDoubleLE(enqueuedAt, o);
  o = body.writeUInt16LE(t.length, o);
  o += t.copy(body, o);
  o = body.writeUInt16LE(m.length, o);
  o += m.copy(body, o);
  payload.copy(body, o);
  return body;
}

function idBody(id: number, reason?: number): Buffer {
  const body = Buffer.alloc(reason === undefined ? 8 : 9);
  body.writeBigUInt64LE(BigInt(id), 0);
  if (reason !== undefined) body.writeUInt8(reason, 8);
  return body;
}

export interface ParsedRecord {
  type: number;
  body: Buffer;
  /** Offset of the record and of the byte after it. */
  start: number;
  end: number;
}

export interface ParseResult {
  records: ParsedRecord[];
  /** Number of corrupt regions skipped. */
  torn: number;
  tornBytes: number;
  /** End of the last valid record (the file can be truncated here when it ends in garbage). */
  validEnd: number;
}

function validAt(buf: Buffer, pos: number): ParsedRecord | null {
  if (pos + HEADER > buf.length) return null;
  if (buf.readUInt32LE(pos) !== MAGIC) return null;
  const type = buf.readUInt8(pos + 4);
  if (type !== T_APPEND && type !== T_ACK && type !== T_DROP) return null;
  const len = buf.readUInt32LE(pos + 8);
  if (len > MAX_BODY || pos + HEADER + len > buf.length) return null;
  const body = buf.subarray(pos + HEADER, pos + HEADER + len);
  if (crc32(body, crc32(buf.subarray(pos + 4, pos + 12))) !== buf.readUInt32LE(pos + 12)) return null;
  return { type, body, start: pos, end: pos + HEADER + len };
}

/** Parses a segment; skips (and counts) corrupt regions, resynchronising on the next valid record. */
export function parseSegment(buf: Buffer): ParseResult {
  const records: ParsedRecord[] = [];
  let torn = 0;
  let tornBytes = 0;
  let pos = 0;
  let validEnd = 0;
  while (pos < buf.length) {
    const rec = validAt(buf, pos);
    if (rec) {
      records.push(rec);
      pos = rec.end;
      validEnd = pos;
      continue;
    }
    // Corrupt or torn: scan for the next record that validates.
    let next = pos + 1;
    for (; next < buf.length; next++) {
      if (buf[next] === 0x44 && validAt(buf, next)) break;
    }
    torn++;
    tornBytes += next - pos;
    pos = next;
  }
  return { records, torn, tornBytes, validEnd };
}

interface Segment {
  index: number;
  /** Live APPENDs in it. */
  live: number;
  bytes: number;
}

type WriteOp =
  | { kind: 'append'; rec: OutboxRecord; buf: Buffer; resolve: () => void; reject: (e: Error) => void; t0: number; retried?: boolean }
  | { kind: 'meta'; buf: Buffer };

export class Outbox {
  private readonly dir: string;
  private readonly maxBytes: number;
  private readonly maxAgeMs: number;
  private readonly segmentBytes: number;
  private readonly doFsync: boolean;
  private readonly log: OutboxLogger;
  private readonly now: () => number;

  /** Live records in id order (Map keeps insertion order; ids are appended in increasing order). */
  private readonly records = new Map<number, OutboxRecord>();
  private readonly segments: Segment[] = [];
  private active!: { index: number; fh: FileHandle; size: number };
  private nextId = 1;
  private liveBytes = 0;

  private queue: WriteOp[] = [];
  private writing: Promise<void> | null = null;
  private closed = false;
  private ageTimer: NodeJS.Timeout | null = null;
  private reclaimWanted = true;
  private readonly listeners = new Set<(rec: OutboxRecord) => void>();
  /** Writes the disk refused, in order, waiting for a retry. */
  private unwritten: WriteOp[] = [];
  private retryTimer: NodeJS.Timeout | null = null;
  private consecutiveFailures = 0;
  private durabilityState: { durable: boolean; reason?: string; since: number; writeFailures: number } = { durable: true, since: Date.now(), writeFailures: 0 };
  private readonly durabilityListeners = new Set<(d: OutboxDurability) => void>();
  private readonly dropListeners = new Set<(rec: OutboxRecord, reason: DropReason) => void>();

  private readonly counters = {
    appended: 0,
    acked: 0,
    recovered: 0,
    droppedSize: 0,
    droppedAge: 0,
    torn: 0,
    tornBytes: 0,
    compactions: 0,
    fsyncs: 0,
    latLast: 0,
    latMax: 0,
    latSum: 0,
    latN: 0,
  };

  private constructor(opts: OutboxOptions) {
    this.dir = opts.dir;
    this.maxBytes = opts.maxBytes ?? 64 * 1024 * 1024;
    this.maxAgeMs = opts.maxAgeMs ?? 7 * 24 * 3600 * 1000;
    this.segmentBytes = opts.segmentBytes ?? 4 * 1024 * 1024;
    this.doFsync = opts.fsync ?? true;
    this.log = opts.logger ?? silentLogger;
    this.now = opts.now ?? Date.now;
  }

  /** Opens (creating) the outbox in `opts.dir`, recovering every unacknowledged record in order. */
  static async open(opts: OutboxOptions): Promise<Outbox> {
    const ob = new Outbox(opts);
    await ob.recover();
    const interval = opts.ageCheckIntervalMs ?? Math.max(1000, Math.min(ob.maxAgeMs / 10, 60_000));
    ob.ageTimer = setInterval(() => ob.enforceAge(), interval);
    ob.ageTimer.unref();
    return ob;
  }

  private async recover(): Promise<void> {
    await mkdir(this.dir, { recursive: true });
    const names = await readdir(this.dir);
    for (const n of names) {
      if (n.endsWith('.tmp')) await rm(join(this.dir, n), { force: true }); // an interrupted compaction
    }
    const indices = names
      .map((n) => SEG_RE.exec(n))
      .filter((m): m is RegExpExecArray => m !== null)
      .map((m) => Number(m[1]))
      .sort((a, b) => a - b);
    let maxId = 0;
    for (const index of indices) {
      const path = join(this.dir, segName(index));
      const buf = await readFile(path);
      const parsed = parseSegment(buf);
      const seg: Segment = { index, live: 0, bytes: buf.length };
      if (parsed.torn > 0) {
        this.counters.torn += parsed.torn;
        this.counters.tornBytes += parsed.tornBytes;
        this.log.warn(
          { segment: segName(index), torn: parsed.torn, tornBytes: parsed.tornBytes, truncatedTo: parsed.validEnd < buf.length ? parsed.validEnd : undefined },
          'outbox: skipped torn/corrupt records',
        );
        if (parsed.validEnd < buf.length) {
          await truncate(path, parsed.validEnd);
          seg.bytes = parsed.validEnd;
        }
      }
      for (const r of parsed.records) {
        const id = Number(r.body.readBigUInt64LE(0));
        maxId = Math.max(maxId, id);
        if (r.type === T_APPEND) {
          if (this.records.has(id)) continue; // duplicate left by an interrupted compaction
          let o = 8;
          const enqueuedAt = r.body.readDoubleLE(o);
          o += 8;
          const tl = r.body.readUInt16LE(o);
          o += 2;
          const topic = r.body.toString('utf8', o, o + tl);
          o += tl;
          const ml = r.body.readUInt16LE(o);
          o += 2;
          const messageId = r.body.toString('utf8', o, o + ml);
          o += ml;
          const payload = Buffer.from(r.body.subarray(o));
          this.records.set(id, { id, topic, messageId, payload, enqueuedAt, durable: true, recovered: true, segment: index, size: r.end - r.start });
        } else {
          this.records.delete(id);
        }
      }
      this.segments.push(seg);
    }
    // Re-establish id order (a compacted segment may hold ids older than a segment before it only as duplicates,
    // which were skipped, so insertion order already is id order; sort anyway for safety).
    const sorted = [...this.records.values()].sort((a, b) => a.id - b.id);
    this.records.clear();
    for (const r of sorted) {
      this.records.set(r.id, r);
      this.liveBytes += r.size;
      const seg = this.segments.find((s) => s.index === r.segment);
      if (seg) seg.live++;
    }
    this.counters.recovered = this.records.size;
    this.nextId = maxId + 1;
    const activeIndex = (indices.length ? indices[indices.length - 1] : 0) + 1;
    await this.openActive(activeIndex);
    if (this.records.size > 0 || indices.length > 0) {
      this.log.info({ recovered: this.records.size, bytes: this.liveBytes, segments: indices.length, torn: this.counters.torn }, 'outbox: opened');
    }
    this.enforceAge();
    this.enforceSize();
    this.reclaimWanted = true;
    this.kick();
    await this.flushed();
  }

  private async openActive(index: number): Promise<void> {
    const fh = await open(join(this.dir, segName(index)), 'a');
    this.active = { index, fh, size: 0 };
    this.segments.push({ index, live: 0, bytes: 0 });
    this.fsyncDir();
  }

  private fsyncDir(): void {
    if (!this.doFsync) return;
    try {
      const fd = openSync(this.dir, 'r');
      try {
        fsyncSync(fd);
      } finally {
        closeSync(fd);
      }
    } catch {
      /* not supported on this platform */
    }
  }

  /** Called for each record once it is durable (written and synced), in id order. */
  onDurable(listener: (rec: OutboxRecord) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Called for each record dropped by a bound. */
  onDrop(listener: (rec: OutboxRecord, reason: DropReason) => void): () => void {
    this.dropListeners.add(listener);
    return () => this.dropListeners.delete(listener);
  }

  /**
   * Appends a message. The record is placed in order synchronously; the promise resolves once it is on disk
   * (fdatasync'ed), and only then is it offered to `onDurable` listeners / `pending()`.
   */
  append(topic: string, messageId: string, payload: Buffer | string): { record: OutboxRecord; durable: Promise<void> } {
    if (this.closed) throw new Error('outbox: closed');
    const id = this.nextId++;
    const enqueuedAt = this.now();
    const pl = typeof payload === 'string' ? Buffer.from(payload, 'utf8') : payload;
    const buf = encodeRecord(T_APPEND, appendBody(id, enqueuedAt, topic, messageId, pl));
    const rec: OutboxRecord = { id, topic, messageId, payload: pl, enqueuedAt, durable: false, recovered: false, segment: -1, size: buf.length };
    this.records.set(id, rec);
    this.liveBytes += rec.size;
    this.counters.appended++;
    this.enforceAge();
    let resolve!: () => void;
    let reject!: (e: Error) => void;
    const durable = new Promise<void>((res, rej) => {
      resolve = res;
      reject = rej;
    });
    this.queue.push({ kind: 'append', rec, buf, resolve, reject, t0: performance.now() });
    this.enforceSize();
    this.kick();
    return { record: rec, durable };
  }

  /** The broker acknowledged it: forget it. Unknown ids (already dropped) are ignored. */
  ack(id: number): void {
    this.remove(id, null);
  }

  /** Live records in order (durable and not). */
  *pending(): IterableIterator<OutboxRecord> {
    yield* this.records.values();
  }

  get(id: number): OutboxRecord | undefined {
    return this.records.get(id);
  }

  get depth(): number {
    return this.records.size;
  }

  private remove(id: number, reason: DropReason | null): void {
    const rec = this.records.get(id);
    if (!rec) return;
    this.records.delete(id);
    this.liveBytes -= rec.size;
    if (reason === null) this.counters.acked++;
    else if (reason === 'size') this.counters.droppedSize++;
    else this.counters.droppedAge++;
    const removal = (): WriteOp => ({
      kind: 'meta',
      buf: encodeRecord(reason === null ? T_ACK : T_DROP, idBody(id, reason === null ? undefined : reason === 'size' ? 1 : 2)),
    });
    if (rec.durable) {
      const seg = this.segments.find((s) => s.index === rec.segment);
      if (seg && --seg.live === 0) this.reclaimWanted = true;
      if (!this.closed) {
        this.queue.push(removal());
        this.kick();
      }
    } else {
      // Not written yet: take it out of the write queue (its durable promise resolves: nothing to wait for). If it is
      // being written right now, record its removal after it.
      const i = this.queue.findIndex((op) => op.kind === 'append' && op.rec === rec);
      if (i >= 0) {
        const op = this.queue[i] as Extract<WriteOp, { kind: 'append' }>;
        this.queue.splice(i, 1);
        op.resolve();
      } else if (!this.closed) {
        this.queue.push(removal());
        this.kick();
      }
    }
    if (reason !== null) {
      this.log.warn(
        { messageId: rec.messageId, topic: rec.topic, reason, ageMs: this.now() - rec.enqueuedAt, droppedSize: this.counters.droppedSize, droppedAge: this.counters.droppedAge },
        `outbox: dropped an unacknowledged message (${reason === 'size' ? `outbox over ${this.maxBytes} bytes` : `older than ${this.maxAgeMs} ms`})`,
      );
      for (const l of this.dropListeners) l(rec, reason);
    }
  }

  private enforceSize(): void {
    while (this.liveBytes > this.maxBytes && this.records.size > 1) {
      const oldest = this.records.values().next().value as OutboxRecord;
      this.remove(oldest.id, 'size');
    }
  }

  /**
   * Drops records older than `maxAgeMs`. Returns how many. A record stamped before 2020 was appended while the wall
   * clock was not set yet (a device without an RTC battery boots in 1970): its age is unknown, so it is kept.
   */
  enforceAge(): number {
    const now = this.now();
    if (now < CLOCK_SET_AFTER) return 0; // our own clock is not set: no ages can be trusted
    const limit = now - this.maxAgeMs;
    let n = 0;
    for (const rec of this.records.values()) {
      if (rec.enqueuedAt < CLOCK_SET_AFTER) continue;
      if (rec.enqueuedAt >= limit) break; // in order of enqueue time
      this.remove(rec.id, 'age');
      n++;
    }
    return n;
  }

  private kick(): void {
    if (this.writing || this.closed || (this.queue.length === 0 && !this.reclaimWanted)) return;
    this.writing = this.drain()
      .catch((err: unknown) => this.log.error({ err }, 'outbox: writer failed'))
      .finally(() => {
        this.writing = null;
        if (this.queue.length > 0) this.kick();
      });
  }

  /** The single writer: group-commits everything queued, then reclaims space. */
  private async drain(): Promise<void> {
    while (this.queue.length > 0) {
      const batch = this.queue;
      this.queue = [];
      const appends = batch.filter((op): op is Extract<WriteOp, { kind: 'append' }> => op.kind === 'append');
      const buf = Buffer.concat(batch.map((op) => op.buf));
      try {
        const { bytesWritten } = await this.active.fh.write(buf, 0, buf.length, null);
        if (bytesWritten < buf.length) {
          // A nearly full disk takes part of the batch: cut the torn tail off so the retry appends whole records.
          await this.active.fh.truncate(this.active.size).catch(() => undefined);
          throw Object.assign(new Error(`ENOSPC: no space left on device, short write (${bytesWritten} of ${buf.length} bytes)`), { code: 'ENOSPC' });
        }
        if (appends.length > 0 && this.doFsync) {
          await this.active.fh.datasync();
          this.counters.fsyncs++;
        }
      } catch (err) {
        // The disk refused (full, read-only). Keep the records in memory and send them anyway: better than nothing,
        // but they will not survive a restart until a retry writes them. Said loudly, once per episode, and
        // reported by durability() (health, status, metrics).
        this.onWriteFailed(err as Error, batch);
        for (const op of appends) {
          if (op.rec.segment !== -1 || op.rec.durable) continue; // a retried record: already sendable
          op.rec.durable = true;
          op.rec.segment = -1;
          op.reject(err as Error);
        }
        for (const op of appends) if (this.records.get(op.rec.id) === op.rec) for (const l of this.listeners) l(op.rec);
        // The rest of the queue would only fail the same way (and must stay behind what failed): retry later.
        this.unwritten.push(...this.queue);
        this.queue = [];
        return;
      }
      if (this.unwritten.length === 0 && !this.durabilityState.durable) this.onWriteRecovered();
      const seg = this.segments[this.segments.length - 1];
      this.active.size += buf.length;
      seg.bytes += buf.length;
      const t1 = performance.now();
      for (const op of appends) {
        // A retried record's latency is the outage, not the disk's: keep it out of the statistics.
        const lat = op.retried ? this.counters.latLast : t1 - op.t0;
        this.counters.latLast = lat;
        this.counters.latMax = Math.max(this.counters.latMax, lat);
        this.counters.latSum += lat;
        this.counters.latN++;
        op.rec.segment = this.active.index;
        if (this.records.get(op.rec.id) === op.rec) {
          op.rec.durable = true;
          seg.live++;
        }
        op.resolve();
      }
      for (const op of appends) {
        if (op.rec.durable && !op.retried) for (const l of this.listeners) l(op.rec);
      }
      if (this.active.size >= this.segmentBytes) await this.roll();
    }
    if (this.reclaimWanted) {
      this.reclaimWanted = false;
      await this.reclaim();
    }
  }

  private async roll(): Promise<void> {
    await this.active.fh.close();
    await this.openActive(this.active.index + 1);
    this.reclaimWanted = true;
  }

  /** Deletes dead segments from the oldest on; compacts when old live records pin too much dead space. */
  private async reclaim(): Promise<void> {
    while (this.segments.length > 1 && this.segments[0].live === 0 && this.segments[0].index !== this.active.index) {
      const seg = this.segments.shift()!;
      await rm(join(this.dir, segName(seg.index)), { force: true });
    }
    const disk = this.segments.reduce((s, g) => s + g.bytes, 0);
    if (this.segments.length > 2 && disk > Math.max(2 * this.liveBytes, 2 * this.segmentBytes)) await this.compact();
  }

  /** Rewrites every live durable record into one new segment and deletes all older ones. */
  private async compact(): Promise<void> {
    const live = [...this.records.values()].filter((r) => r.durable);
    const index = this.active.index + 1;
    const tmp = join(this.dir, `${segName(index)}.tmp`);
    const fh = await open(tmp, 'w');
    let size = 0;
    try {
      const bufs = live.map((r) => encodeRecord(T_APPEND, appendBody(r.id, r.enqueuedAt, r.topic, r.messageId, r.payload)));
      const all = Buffer.concat(bufs);
      await fh.write(all, 0, all.length, 0);
      size = all.length;
      if (this.doFsync) await fh.sync();
    } finally {
      await fh.close();
    }
    await rename(tmp, join(this.dir, segName(index)));
    this.fsyncDir();
    const old = this.segments.splice(0);
    await this.active.fh.close();
    for (const seg of old) await rm(join(this.dir, segName(seg.index)), { force: true });
    for (const r of live) r.segment = index;
    // Acks that arrived while compacting already left `records`.
    this.segments.push({ index, live: live.filter((r) => this.records.get(r.id) === r).length, bytes: size });
    const fhActive = await open(join(this.dir, segName(index)), 'a');
    this.active = { index, fh: fhActive, size };
    this.counters.compactions++;
    this.log.info({ live: live.length, bytes: size, removedSegments: old.length }, 'outbox: compacted');
  }

  private onWriteFailed(err: Error, batch: WriteOp[]): void {
    this.durabilityState.writeFailures++;
    this.consecutiveFailures++;
    for (const op of batch) if (op.kind === 'append') op.retried = true;
    this.unwritten.push(...batch);
    const reason = err.message;
    if (this.durabilityState.durable || this.durabilityState.reason !== reason) {
      this.durabilityState = { ...this.durabilityState, durable: false, reason, since: this.now() };
      this.log.error({ err, dir: this.dir, memoryOnly: this.memoryOnlyCount() }, `outbox: cannot write to ${this.dir} (${reason}); lesion messages are kept in memory only and are lost if the service stops now; free space there`);
      this.notifyDurability();
    }
    this.scheduleRetry();
  }

  private onWriteRecovered(): void {
    this.consecutiveFailures = 0;
    this.durabilityState = { ...this.durabilityState, durable: true, since: this.now() };
    delete this.durabilityState.reason;
    this.log.info({ dir: this.dir }, 'outbox: writes succeed again; every message is on disk');
    this.notifyDurability();
  }

  private scheduleRetry(): void {
    if (this.retryTimer || this.closed) return;
    this.retryTimer = setTimeout(() => {
      this.retryTimer = null;
      this.retryUnwritten();
    }, backoffDelayMs(this.consecutiveFailures, WRITE_RETRY));
    this.retryTimer.unref();
  }

  /** Puts what the disk refused back at the head of the queue. APPENDs of records acked or dropped since are left out. */
  private retryUnwritten(): void {
    if (this.unwritten.length === 0) return;
    const again = this.unwritten.filter((op) => op.kind === 'meta' || this.records.get(op.rec.id) === op.rec);
    this.unwritten = [];
    this.queue = [...again, ...this.queue];
    this.kick();
  }

  private memoryOnlyCount(): number {
    let n = 0;
    for (const op of this.unwritten) if (op.kind === 'append' && this.records.get(op.rec.id) === op.rec) n++;
    return n;
  }

  /** See OutboxDurability. */
  durability(): OutboxDurability {
    const { durable, reason, since, writeFailures } = this.durabilityState;
    return {
      durable,
      ...(reason !== undefined && { reason }),
      since,
      memoryOnly: this.memoryOnlyCount(),
      unwrittenAcks: this.unwritten.filter((op) => op.kind === 'meta').length,
      writeFailures,
    };
  }

  /** Called when durability is lost or regained. */
  onDurability(listener: (d: OutboxDurability) => void): () => void {
    this.durabilityListeners.add(listener);
    return () => this.durabilityListeners.delete(listener);
  }

  private notifyDurability(): void {
    const d = this.durability();
    for (const l of this.durabilityListeners) l(d);
  }

  stats(): OutboxStats {
    const c = this.counters;
    return {
      depth: this.records.size,
      bytes: this.liveBytes,
      appended: c.appended,
      acked: c.acked,
      recovered: c.recovered,
      dropped: { size: c.droppedSize, age: c.droppedAge },
      torn: c.torn,
      tornBytes: c.tornBytes,
      segments: this.segments.length,
      diskBytes: this.segments.reduce((s, g) => s + g.bytes, 0),
      compactions: c.compactions,
      fsyncs: c.fsyncs,
      appendLatencyMs: { last: c.latLast, max: c.latMax, mean: c.latN ? c.latSum / c.latN : 0 },
    };
  }

  /** Waits until everything queued so far is on disk. */
  async flushed(): Promise<void> {
    while (this.writing || (this.queue.length > 0 && !this.closed)) {
      this.kick();
      await this.writing;
    }
  }

  /** Writes what is queued (appends durable, acks recorded) and closes the files. Records stay on disk. */
  async close(): Promise<void> {
    if (this.closed) return;
    if (this.ageTimer) clearInterval(this.ageTimer);
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.retryTimer = null;
    // One last try for what the disk refused: every ACK written now is one duplicate less at the next start.
    this.retryUnwritten();
    await this.flushed();
    this.unwritten = [];
    this.closed = true;
    if (this.doFsync) await this.active.fh.datasync().catch((err: unknown) => this.log.error({ err }, 'outbox: final sync failed')); // the unsynced ACK records
    await this.active.fh.close();
  }
}
