/**
 * How `dermstream run` ends, as a process exit status systemd acts on. The unit has `Restart=on-failure`:
 * exit 0 means "done, stay down", so only a recording that played to its end (or a stop we were asked for)
 * may exit 0. The rest follow sysexits.h so that `systemctl status` tells "fix the config" from "the
 * hardware is not there": EX_CONFIG 78 (a key or a launch description must change; systemd's
 * RestartPreventExitStatus= can hold these), EX_UNAVAILABLE 69 (a camera, plug-in or disk that is not
 * usable right now), EX_SOFTWARE 70 (anything else: a bug).
 */
import { isCaptureError } from '../capture/index.js';

export const EX_OK = 0;
export const EX_UNAVAILABLE = 69;
export const EX_SOFTWARE = 70;
export const EX_CONFIG = 78;

/** A start-up failure after the model loaded, blamed on the configuration key that must change. */
export class StartError extends Error {
  override readonly name = 'StartError';
  constructor(
    readonly key: string,
    message: string,
    readonly hint: string,
    readonly exitCode: number = EX_CONFIG,
    cause?: unknown,
  ) {
    super(message, cause === undefined ? undefined : { cause });
  }
}

/** Exit status for a run that ended with `error` (undefined: it ended as asked, or its recording ended). */
export function exitCodeFor(error: unknown): number {
  if (error === undefined) return EX_OK;
  if (error instanceof StartError) return error.exitCode;
  if (isCaptureError(error)) return error.code === 'PARSE' || error.code === 'BAD_SOURCE' ? EX_CONFIG : EX_UNAVAILABLE;
  if (typeof (error as { exitCode?: unknown }).exitCode === 'number') return (error as { exitCode: number }).exitCode;
  return EX_SOFTWARE;
}
