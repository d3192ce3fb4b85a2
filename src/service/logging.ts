/**
 * Logs: one JSON object per line on stdout, which journald stores and `journalctl -u dermstream -o cat`
 * shows; pino's numeric levels are kept and a `severity` name added for humans and log shippers. On a
 * terminal (or log.pretty: true) a short human-readable line instead, formatted here without a worker
 * thread or an extra package.
 */
import { Writable } from 'node:stream';
import pino, { type Logger, type DestinationStream } from 'pino';
import { REDACT_CENSOR, REDACT_PATHS } from './log_redact.js';

export type { Logger } from 'pino';

export interface LoggerOptions {
  /** true, false or 'auto' (pretty when stdout is a terminal). */
  pretty?: boolean | 'auto';
  /** Where to write (default stdout). */
  destination?: DestinationStream | NodeJS.WritableStream;
  /** Fields on every line, e.g. { deviceId }. */
  base?: Record<string, unknown>;
}

const LEVEL_NAMES: Record<number, string> = { 10: 'TRACE', 20: 'DEBUG', 30: 'INFO', 40: 'WARN', 50: 'ERROR', 60: 'FATAL' };

/** A stream that turns pino's JSON lines into `12:00:01.234 INFO  message key=value`. */
export function prettyStream(out: NodeJS.WritableStream = process.stdout): Writable {
  let pending = '';
  return new Writable({
    write(chunk: Buffer | string, _enc, done) {
      pending += chunk.toString();
      let nl: number;
      while ((nl = pending.indexOf('\n')) >= 0) {
        const line = pending.slice(0, nl);
        pending = pending.slice(nl + 1);
        out.write(`${formatLine(line)}\n`);
      }
      done();
    },
  });
}

export function formatLine(line: string): string {
  let o: Record<string, unknown>;
  try {
    o = JSON.parse(line) as Record<string, unknown>;
  } catch {
    return line;
  }
  const { time, level, msg, pid: _pid, hostname: _h, severity: _s, err, ...rest } = o;
  const t = typeof time === 'number' ? new Date(time).toISOString().slice(11, 23) : '';
  const lvl = (LEVEL_NAMES[level as number] ?? String(level)).padEnd(5);
  const fields = Object.entries(rest)
    .map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`)
    .join(' ');
  const e = err && typeof err === 'object' ? `\n    ${String((err as { stack?: string; message?: string }).stack ?? (err as { message?: string }).message)}` : '';
  return `${t} ${lvl} ${String(msg ?? '')}${fields ? `  ${fields}` : ''}${e}`;
}

export function createLogger(level: string = 'info', opts: LoggerOptions = {}): Logger {
  const pretty = opts.pretty === true || (opts.pretty !== false && opts.pretty !== undefined && process.stdout.isTTY === true);
  const out = opts.destination ?? process.stdout;
  const destination = (pretty ? prettyStream(out as NodeJS.WritableStream) : out) as DestinationStream;
  return pino(
    {
      level,
      base: { ...(opts.base ?? {}) },
      messageKey: 'msg',
      timestamp: pino.stdTimeFunctions.epochTime,
      formatters: { level: (label, number) => ({ level: number, severity: label }) },
      serializers: { err: pino.stdSerializers.err },
      // Secrets must never reach a log line, whatever object is logged.
      redact: { paths: [...REDACT_PATHS], censor: REDACT_CENSOR },
    },
    destination,
  );
}
