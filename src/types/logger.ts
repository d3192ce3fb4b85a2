/**
 * The logging contract every room writes to: the subset of pino's API we call, so a room can be given the
 * service's pino logger (with its redaction of secrets) or a silent/fake one in tests, and never import pino.
 */
export interface Logger {
  debug?(obj: object, msg?: string): void;
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
}

export const silentLogger: Logger = { info() {}, warn() {}, error() {} };
