/**
 * One GStreamer session in a child process of its own (gst_host.ts), with the same contract as
 * `startGstSession`. Why: the addon's calls are synchronous on the calling thread, and a source blocked
 * in GStreamer (a filesrc on a FIFO whose writer stopped) held the service's event loop 6.9 s on teardown
 * (bench/results/capture_faults.md; 18 s and 36 s in the field probe), /healthz silent meanwhile; and every
 * rebuilt pipeline leaked ~2.2 MB that only the end of the process returns. A child per session bounds
 * both: stop() only sends a message (the child is killed if it has not exited 2 s later), and the leak
 * ends with the child. Cost, measured here: a 640×480 frame crosses the IPC pipe in ~0.6 ms of parent and
 * ~1.2 ms of child CPU, and each open pays a Node start (~150 ms) before the pipeline is built.
 */
import { fork, type ChildProcess } from 'node:child_process';
import type { ErrorContext } from './classify_gst_error.js';
import { CaptureError, type CaptureErrorCode } from './errors.js';
import type { CaptureSession, SessionHandlers } from './session.js';
import type { LaunchPlan } from './source_spec.js';

/** A child that has not exited this long after `stop` is killed (it is blocked inside GStreamer). */
const STOP_GRACE_MS = 2000;

const children = new Set<ChildProcess>();
/** Capture children alive now (tests, metrics). */
export function isolatedChildCount(): number {
  return children.size;
}

function hostEntry(): { file: string; execArgv: string[] } {
  const url = new URL(import.meta.url.endsWith('.ts') ? './gst_host.ts' : './gst_host.js', import.meta.url);
  // Under vitest/tsx the sources are TypeScript: the child needs the same loader.
  return { file: url.pathname, execArgv: import.meta.url.endsWith('.ts') ? ['--import', 'tsx'] : [] };
}

type ChildMessage =
  | { t: 'origin'; timeOrigin: number }
  | { t: 'opened' }
  | { t: 'frame'; data: Uint8Array; width: number; height: number; fps?: number; at: { monoMs: number; wallMs: number } }
  | { t: 'eos' }
  | { t: 'rewound'; ok: boolean }
  | { t: 'error'; code: CaptureErrorCode; message: string; hint?: string; element?: string; gstMessage?: string; gstDebug?: string };

export function startIsolatedGstSession(plan: LaunchPlan, ctx: ErrorContext, h: SessionHandlers): CaptureSession {
  const { file, execArgv } = hostEntry();
  const child = fork(file, [], { serialization: 'advanced', execArgv, stdio: ['ignore', 'ignore', 'inherit', 'ipc'], env: { ...process.env, UV_THREADPOOL_SIZE: '4' } });
  children.add(child);
  let stopped = false;
  let ended = false;
  let offset = 0;
  const fail = (err: CaptureError): void => {
    if (stopped || ended) return;
    ended = true;
    stop();
    h.error(err);
  };
  child.on('message', (m: ChildMessage) => {
    if (stopped) return;
    switch (m.t) {
      case 'origin':
        // performance.now() counts from each process's own start: bring the child's stamps onto ours.
        offset = m.timeOrigin - performance.timeOrigin;
        return;
      case 'opened':
        return h.opened();
      case 'frame':
        // Copied into an ArrayBuffer of its own: the deserialised view sits inside the IPC message's buffer
        // and could not be transferred to the inference worker.
        return h.frame({ data: new Uint8Array(m.data), width: m.width, height: m.height, ...(m.fps !== undefined && { fps: m.fps }), at: { monoMs: m.at.monoMs + offset, wallMs: m.at.wallMs } });
      case 'eos':
        return h.eos();
      case 'rewound':
        if (!m.ok) fail(new CaptureError('RUNTIME', `${ctx.source}: cannot rewind to the start`, { hint: 'the recording cannot seek; convert it (e.g. to MJPEG AVI) or drop loop' }));
        return;
      case 'error':
        return fail(
          new CaptureError(m.code, m.message, {
            ...(m.hint !== undefined && { hint: m.hint }),
            ...(m.element !== undefined && { element: m.element }),
            ...(m.gstMessage !== undefined && { gstMessage: m.gstMessage }),
            ...(m.gstDebug !== undefined && { gstDebug: m.gstDebug }),
          }),
        );
    }
  });
  child.on('exit', (code, signal) => {
    children.delete(child);
    if (!stopped) fail(new CaptureError('RUNTIME', `${ctx.source}: the capture process ended (${signal ?? `exit ${code}`})`, { hint: 'GStreamer crashed; the source is re-opened if restarts are on' }));
  });
  child.on('error', (err) => fail(new CaptureError('RUNTIME', `${ctx.source}: cannot start the capture process: ${err.message}`, { cause: err })));
  child.send({ t: 'start', plan, ctx });

  const stop = (): void => {
    if (stopped) return;
    stopped = true;
    if (child.exitCode === null && child.signalCode === null) {
      if (child.connected) child.send({ t: 'stop' });
      const kill = setTimeout(() => child.kill('SIGKILL'), STOP_GRACE_MS);
      kill.unref();
      child.once('exit', () => clearTimeout(kill));
    }
  };
  const rewind = (): boolean => {
    if (stopped || ended || !child.connected) return false;
    child.send({ t: 'rewind' });
    return true;
  };
  const demand = (n: number): void => {
    if (plan.paced && !stopped && !ended && child.connected) child.send({ t: 'demand', n });
  };
  return { rewind, stop, demand };
}
