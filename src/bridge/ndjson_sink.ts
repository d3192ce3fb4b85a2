/**
 * An append-only NDJSON file written durably one line at a time: `append(line)` resolves only after the line is on
 * disk (`fdatasync`, which covers the data and the file size — what a reader needs after a crash — without the
 * inode timestamps that a full `fsync` would also flush). The bridge acknowledges an MQTT message only after that.
 *
 * On open it repairs a torn tail (a crash in the middle of a write leaves a last line without its newline: that line
 * was never acknowledged, so the broker sends the message again; the partial bytes are cut off so the next append
 * does not glue onto them) and reads back the last lines (bounded by `scanBytes`) so the caller can rebuild its
 * de-duplication record and find work left undone.
 *
 * One writer per file: open takes `<file>.lock` (proper-lockfile, the library the episode ledger already uses: a
 * directory created atomically, refreshed while held, taken over when stale) and close releases it. A second bridge
 * started on the same file would cut what it takes for a torn tail out of the first one's write in progress, and,
 * with the client id derived from host and file, share one MQTT session with it. Seen here: a second bridge started
 * on the first one's file beside the demo clip wrote 3 of its 8 examinations (the cause inside the broker not isolated).
 */
import { open, stat, truncate, type FileHandle } from 'node:fs/promises';
import { dirname } from 'node:path';
import { mkdir } from 'node:fs/promises';
import { lock } from 'proper-lockfile';

export interface NdjsonSinkOptions {
  /** How much of the end of an existing file to read back on open (default 64 MiB). */
  scanBytes?: number;
  /** Called with each complete line read back on open (oldest first). */
  onExistingLine?(line: string): void;
  /** The writer's lock, refreshed while open, counts as abandoned (a killed process) after this long (default 5 s). */
  lockStaleMs?: number;
  /** How long open waits for a held lock before refusing (default 8 s: a restart right after a kill -9 waits out the
   *  dead holder's lock instead of failing; a live holder keeps it fresh and the open is refused). */
  lockWaitMs?: number;
}

/** The error for a file another live writer holds. */
export class SinkLockedError extends Error {
  constructor(readonly path: string) {
    super(
      `${path} is already being written by another process (it holds ${path}.lock): two bridges must not share an output file. ` +
        'fix: stop the other bridge, or give this one its own --out (each worker of a --group writes its own file); ' +
        `if no bridge is running, the lock is freed by itself within seconds of the holder's death`,
    );
    this.name = 'SinkLockedError';
  }
}

async function lockWriter(path: string, staleMs: number, waitMs: number): Promise<() => Promise<void>> {
  const step = 250;
  try {
    // The file may not exist yet, so lock the path itself (realpath: false).
    return await lock(path, {
      realpath: false,
      stale: Math.max(2000, staleMs),
      retries: { retries: Math.ceil(Math.max(0, waitMs) / step), factor: 1, minTimeout: step, maxTimeout: step },
      onCompromised: () => undefined,
    });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ELOCKED') throw new SinkLockedError(path);
    throw err;
  }
}

export interface NdjsonSinkInfo {
  /** Bytes of a partial last line removed on open. */
  tornBytes: number;
  /** Complete lines read back on open. */
  existingLines: number;
  /** True if the file was longer than `scanBytes` (older lines were not read back). */
  truncatedScan: boolean;
}

async function fsyncDir(dir: string): Promise<void> {
  let fh: FileHandle | undefined;
  try {
    fh = await open(dir, 'r');
    await fh.sync();
  } catch {
    /* not supported on every platform/filesystem */
  } finally {
    await fh?.close();
  }
}

/** Reads `[start, end)` of a file. */
async function readRange(fh: FileHandle, start: number, end: number): Promise<Buffer> {
  const buf = Buffer.alloc(end - start);
  let off = 0;
  while (off < buf.length) {
    const { bytesRead } = await fh.read(buf, off, buf.length - off, start + off);
    if (bytesRead === 0) break;
    off += bytesRead;
  }
  return buf.subarray(0, off);
}

export class NdjsonSink {
  private chain: Promise<void> = Promise.resolve();
  private closed = false;
  private bytes: number;

  private constructor(
    readonly path: string,
    private readonly fh: FileHandle,
    size: number,
    readonly info: NdjsonSinkInfo,
    private readonly release: () => Promise<void>,
  ) {
    this.bytes = size;
  }

  static async open(path: string, opts: NdjsonSinkOptions = {}): Promise<NdjsonSink> {
    await mkdir(dirname(path), { recursive: true });
    const release = await lockWriter(path, opts.lockStaleMs ?? 5000, opts.lockWaitMs ?? 8000);
    try {
      return await NdjsonSink.openLocked(path, opts, release);
    } catch (err) {
      await release().catch(() => undefined);
      throw err;
    }
  }

  private static async openLocked(path: string, opts: NdjsonSinkOptions, release: () => Promise<void>): Promise<NdjsonSink> {
    const scanBytes = opts.scanBytes ?? 64 * 1024 * 1024;
    let size = 0;
    let existed = true;
    try {
      size = (await stat(path)).size;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
      existed = false;
    }
    const info: NdjsonSinkInfo = { tornBytes: 0, existingLines: 0, truncatedScan: false };
    if (size > 0) {
      const rfh = await open(path, 'r');
      try {
        // Find the end of the last complete line.
        let end = size;
        const last = await readRange(rfh, size - 1, size);
        if (last[0] !== 0x0a) {
          let pos = size;
          let found = -1;
          while (pos > 0 && found < 0) {
            const start = Math.max(0, pos - 65536);
            const chunk = await readRange(rfh, start, pos);
            const i = chunk.lastIndexOf(0x0a);
            if (i >= 0) found = start + i;
            pos = start;
          }
          end = found + 1; // 0 when there is no newline at all
        }
        if (end < size) info.tornBytes = size - end;
        const start = Math.max(0, end - scanBytes);
        info.truncatedScan = start > 0;
        const text = (await readRange(rfh, start, end)).toString('utf8');
        const lines = text.split('\n');
        lines.pop(); // after the final newline
        if (start > 0) lines.shift(); // probably partial
        for (const line of lines) {
          if (line.length === 0) continue;
          info.existingLines++;
          opts.onExistingLine?.(line);
        }
        size = end;
      } finally {
        await rfh.close();
      }
      if (info.tornBytes > 0) await truncate(path, size);
    }
    const fh = await open(path, 'a');
    if (!existed) {
      await fh.datasync();
      await fsyncDir(dirname(path));
    }
    return new NdjsonSink(path, fh, size, info, release);
  }

  /** Current size in bytes. */
  get size(): number {
    return this.bytes;
  }

  /** Appends one line (a newline is added; the text must not contain one) and waits until it is on disk. */
  append(line: string): Promise<void> {
    if (line.includes('\n')) return Promise.reject(new Error('NDJSON line contains a newline'));
    const run = this.chain.then(async () => {
      if (this.closed) throw new Error(`${this.path} is closed`);
      const buf = Buffer.from(`${line}\n`, 'utf8');
      try {
        let off = 0;
        while (off < buf.length) {
          const { bytesWritten } = await this.fh.write(buf, off, buf.length - off);
          off += bytesWritten;
        }
        await this.fh.datasync();
      } catch (err) {
        // E.g. ENOSPC half-way: cut the partial line off so the file stays line-complete, then report.
        await this.fh.truncate(this.bytes).catch(() => undefined);
        throw err;
      }
      this.bytes += buf.length;
    });
    this.chain = run.catch(() => undefined);
    return run;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    await this.chain;
    this.closed = true;
    await this.fh.close();
    await this.release().catch(() => undefined); // already taken over as stale: nothing left to give back
  }
}
