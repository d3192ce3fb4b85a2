/**
 * Logs: one JSON object per line on stdout, which journald stores and `journalctl -u dermstream -o cat`
 * shows; pino's numeric levels are kept and a `severity` name added for humans and log shippers. On a
 * terminal (or log.pretty: true) pino-pretty's short coloured lines instead (synchronously, in this
 * thread: its transport worker would reorder lines against the status line and stderr). Picked over the
 * hand-written formatter this replaces: colours by level, multi-line errors and escaping come for free.
 */
import { Writable } from 'node:stream';
import pino, { type Logger, type DestinationStream } from 'pino';
import { REDACT_CENSOR, REDACT_PATHS } from './log_redact.js';
import pinoPretty from 'pino-pretty';

export type { Logger } from 'pino';

export interface LoggerOptions {
  /** true, false or 'auto' (pretty when stdout is a terminal). */
  pretty?: boolean | 'auto';
  /** Where to write (default stdout). */
  destination?: DestinationStream | NodeJS.WritableStream;
  /** Fields on every line, e.g. { deviceId }. */
  base?: Record<string, unknown>;
  /** Wraps every write (a StatusLine's `around`, so log lines do not run over the live status line). */
  around?: (write: () => void) => void;
  /** Colours in pretty lines (default: when the destination is a terminal). */
  colorize?: boolean;
}

/** pino-pretty as a synchronous stream: `12:00:01.234 INFO: camera delivering {"fps":30}`. */
export function prettyStream(out: NodeJS.WritableStream = process.stdout, colorize = (out as NodeJS.WriteStream).isTTY === true): NodeJS.WritableStream {
  return pinoPretty({
    colorize,
    sync: true,
    singleLine: true,
    translateTime: 'SYS:HH:MM:ss.l',
    ignore: 'pid,hostname,severity,deviceId',
    messageKey: 'msg',
    destination: out as never,
  });
}

function wrapped(out: NodeJS.WritableStream, around: (write: () => void) => void): Writable {
  return new Writable({
    write(chunk: Buffer | string, _enc, done) {
      around(() => out.write(chunk));
      done();
    },
  });
}

export function createLogger(level: string = 'info', opts: LoggerOptions = {}): Logger {
  const pretty = opts.pretty === true || (opts.pretty !== false && opts.pretty !== undefined && process.stdout.isTTY === true);
  const raw = (opts.destination ?? process.stdout) as NodeJS.WritableStream;
  const colorize = opts.colorize ?? (raw as NodeJS.WriteStream).isTTY === true;
  const out = opts.around ? wrapped(raw, opts.around) : raw;
  const destination = (pretty ? prettyStream(out, colorize) : out) as DestinationStream;
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
