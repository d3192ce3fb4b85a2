/**
 * An append-only NDJSON file written durably one line at a time: `append(line)` resolves only after the line is on
 * disk (`fdatasync`, which covers the data and the file size — what a reader needs after a crash — without the
 * inode timestamps that a full `fsync` would also flush). The bridge acknowledges an MQTT message only after that.
 *
 * On open it repairs a torn tail (a crash in the middle of a write leaves a last line without its newline: that line
 * was never acknowledged, so the broker sends the message again; the partial bytes are cut off so the next append
 * does not glue onto them) and reads back the last lines (bounded by `scanBytes`) so the caller can rebuild its
 * de-duplication record and find work left undone.
 */
import { open, stat, truncate, type FileHandle } from 'node:fs/promises';
import { dirname } from 'node:path';
import { mkdir } from 'node:fs/promises';

export interface NdjsonSinkOptions {
  /** How much of the end of an existing file to read back on open (default 64 MiB). */
  scanBytes?: number;
  /** Called with each complete line read back on open (oldest first). */
  onExistingLine?(line: string): void;
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
  ) {
    this.bytes = size;
  }

  static async open(path: string, opts: NdjsonSinkOptions = {}): Promise<NdjsonSink> {
    const scanBytes = opts.scanBytes ?? 64 * 1024 * 1024;
    await mkdir(dirname(path), { recursive: true });
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
    return new NdjsonSink(path, fh, size, info);
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
  }
}
