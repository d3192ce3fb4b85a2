/**
 * Why a capture source failed, in words an operator at the bedside (or the `doctor` command) can act on.
 * The service logs `message` + `hint` and counts `code`; it should never need to show a stack trace.
 */
export type CaptureErrorCode =
  /** The source string itself is malformed (unknown scheme, empty path, folder without images...). */
  | 'BAD_SOURCE'
  /** A camera device node is missing (unplugged, wrong index, udev rule not applied). */
  | 'NO_DEVICE'
  /** A device or file exists but this user may not open it. */
  | 'PERMISSION'
  /** The camera is held by another process. */
  | 'BUSY'
  /** A file or folder to play does not exist. */
  | 'NOT_FOUND'
  /** GStreamer cannot parse or link the launch description. */
  | 'PARSE'
  /** An element (plug-in) is not installed. */
  | 'MISSING_PLUGIN'
  /** The source cannot deliver any of the requested formats/sizes/rates. */
  | 'NOT_NEGOTIATED'
  /** The data is not something GStreamer (or sharp, for still images) can decode. */
  | 'DECODE'
  /** No frame arrived within the stall timeout. */
  | 'STALLED'
  /** Anything else GStreamer reported while running. */
  | 'RUNTIME';

/**
 * Codes that a re-open cannot cure: retrying them would only spin. Everything else (a camera that is
 * unplugged, busy, stalled or erroring) is worth re-opening with back-off.
 */
const PERMANENT: ReadonlySet<CaptureErrorCode> = new Set<CaptureErrorCode>([
  'BAD_SOURCE',
  'NOT_FOUND',
  'PARSE',
  'MISSING_PLUGIN',
  'NOT_NEGOTIATED',
  'DECODE',
]);

export interface CaptureErrorDetails {
  hint?: string;
  /** The element GStreamer blamed, or the missing element, when known. */
  element?: string;
  /** GStreamer's own message and debug string, kept verbatim for the log. */
  gstMessage?: string;
  gstDebug?: string;
  cause?: unknown;
}

export class CaptureError extends Error {
  override readonly name = 'CaptureError';
  readonly code: CaptureErrorCode;
  readonly hint: string | undefined;
  readonly element: string | undefined;
  readonly gstMessage: string | undefined;
  readonly gstDebug: string | undefined;

  constructor(code: CaptureErrorCode, message: string, details: CaptureErrorDetails = {}) {
    super(message, details.cause === undefined ? undefined : { cause: details.cause });
    this.code = code;
    this.hint = details.hint;
    this.element = details.element;
    this.gstMessage = details.gstMessage;
    this.gstDebug = details.gstDebug;
  }

  /** True when re-opening the same source could plausibly succeed. */
  get retryable(): boolean {
    return !PERMANENT.has(this.code);
  }

  /** One line for logs and the CLI: message, then the hint. */
  describe(): string {
    return this.hint ? `${this.message} (hint: ${this.hint})` : this.message;
  }

  /** Plain object for JSON logs and MQTT status messages (Error fields are not enumerable). */
  toJSON(): { code: CaptureErrorCode; message: string; hint?: string; element?: string; gstMessage?: string } {
    return {
      code: this.code,
      message: this.message,
      ...(this.hint !== undefined && { hint: this.hint }),
      ...(this.element !== undefined && { element: this.element }),
      ...(this.gstMessage !== undefined && { gstMessage: this.gstMessage }),
    };
  }
}

export function isCaptureError(err: unknown): err is CaptureError {
  return err instanceof CaptureError;
}
