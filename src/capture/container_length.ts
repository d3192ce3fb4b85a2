/**
 * Whether a recording is shorter than its container says: a cut AVI (a copy interrupted, a recorder that
 * lost power) plays in GStreamer up to the cut and then ends like a complete file — avidemux only logs
 * "Short read … (truncated file?)" at debug level, nothing reaches the bus — so the run said "source
 * ended". The container's own length fields tell: RIFF (AVI) stores its size in bytes 4–7; ISO BMFF
 * (MP4/MOV) is a chain of top-level boxes whose sizes must add up to the file. Formats without such a
 * field (Matroska written live, MPEG-TS) give `undefined`: unknown, not "complete".
 */
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';

export interface Truncation {
  /** Bytes the container declares. */
  declaredBytes: number;
  /** Bytes the file has. */
  actualBytes: number;
  format: 'RIFF' | 'ISO BMFF';
}

/** Pure: from a reader of bytes at an offset and the file size. */
export function findTruncation(read: (offset: number, length: number) => Buffer, size: number): Truncation | undefined {
  const head = read(0, 12);
  if (head.length < 12) return undefined;
  if (head.toString('latin1', 0, 4) === 'RIFF') {
    const riff = head.readUInt32LE(4);
    // 0 / 0xFFFFFFFF: a muxer that never came back to fill it in (streamed); RIFF is also capped at 4 GiB.
    if (riff === 0 || riff === 0xffffffff) return undefined;
    const declared = riff + 8;
    return declared > size ? { declaredBytes: declared, actualBytes: size, format: 'RIFF' } : undefined;
  }
  if (head.toString('latin1', 4, 8) === 'ftyp') {
    let at = 0;
    while (at + 8 <= size) {
      const box = read(at, 16);
      if (box.length < 8) break;
      let len = box.readUInt32BE(0);
      if (len === 1) {
        if (box.length < 16) return { declaredBytes: at + 16, actualBytes: size, format: 'ISO BMFF' };
        len = Number(box.readBigUInt64BE(8));
      } else if (len === 0) return undefined; // "to the end of the file"
      if (len < 8) return undefined; // not a box chain we understand
      if (at + len > size) return { declaredBytes: at + len, actualBytes: size, format: 'ISO BMFF' };
      at += len;
    }
    return undefined;
  }
  return undefined;
}

/** Reads the file's container header; undefined when complete, unknown or unreadable (a FIFO, a device). */
export function fileTruncation(path: string): Truncation | undefined {
  let fd: number | undefined;
  try {
    fd = openSync(path, 'r');
    const st = fstatSync(fd);
    if (!st.isFile()) return undefined;
    const f = fd;
    return findTruncation((offset, length) => {
      const buf = Buffer.alloc(length);
      const n = readSync(f, buf, 0, length, offset);
      return buf.subarray(0, n);
    }, st.size);
  } catch {
    return undefined;
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

export function describeTruncation(t: Truncation, file: string): string {
  const pct = ((100 * t.actualBytes) / t.declaredBytes).toFixed(0);
  return `${file} is cut short: its ${t.format} header declares ${t.declaredBytes} bytes but the file has ${t.actualBytes} (${pct} %); everything up to the cut was played`;
}
