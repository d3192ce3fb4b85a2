import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Subscription } from 'rxjs';
import type { CaptureEvent } from '../../src/capture/events.js';
import type { CaptureSource } from '../../src/capture/open_source.js';
import type { Frame } from '../../src/types/frame.js';

export function tempDir(prefix = 'dermstream-capture-'): { dir: string; remove(): void } {
  const dir = mkdtempSync(path.join(tmpdir(), prefix));
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

/** An MJPEG AVI of the test pattern, written by gst-launch-1.0 as a user would. */
export function makeMjpegAvi(file: string, { frames = 30, fps = 30, width = 320, height = 240 } = {}): string {
  execFileSync(
    'gst-launch-1.0',
    ['-q', 'videotestsrc', `num-buffers=${frames}`, 'pattern=smpte', '!', `video/x-raw,width=${width},height=${height},framerate=${fps}/1`, '!', 'jpegenc', '!', 'avimux', '!', 'filesink', `location=${file}`],
    { stdio: 'pipe', timeout: 20_000 },
  );
  return file;
}

export interface Recording {
  frames: Frame[];
  events: CaptureEvent[];
  /** performance.now() when each frame arrived. */
  arrivals: number[];
  done: Promise<'complete' | 'error' | 'timeout' | 'stopped'>;
  error?: unknown;
  stop(): void;
}

/**
 * Subscribes to events$ then frames$ and records both; `done` settles when the stream completes, errors,
 * `until` says enough (the subscription is then dropped) or after `timeoutMs`.
 */
export function record(cap: CaptureSource, opts: { timeoutMs: number; until?: (r: Recording) => boolean }): Recording {
  const r = { frames: [], events: [], arrivals: [] } as unknown as Recording;
  let settle!: (v: 'complete' | 'error' | 'timeout' | 'stopped') => void;
  r.done = new Promise((resolve) => (settle = resolve));
  let sub: Subscription | undefined;
  const evSub = cap.events$.subscribe((e) => {
    r.events.push(e);
    check();
  });
  let finished = false;
  const finish = (how: 'complete' | 'error' | 'timeout' | 'stopped'): void => {
    if (finished) return;
    finished = true;
    clearTimeout(timer);
    sub?.unsubscribe();
    evSub.unsubscribe();
    settle(how);
  };
  const check = (): void => {
    if (opts.until?.(r)) finish('stopped');
  };
  const timer = setTimeout(() => finish('timeout'), opts.timeoutMs);
  r.stop = () => finish('stopped');
  sub = cap.frames$.subscribe({
    next: (f) => {
      r.frames.push(f);
      r.arrivals.push(performance.now());
      check();
    },
    error: (err) => {
      r.error = err;
      finish('error');
    },
    complete: () => finish('complete'),
  });
  if (finished) sub.unsubscribe(); // `until` was met by an event emitted during subscribe
  return r;
}

export function eventTypes(r: Recording): string[] {
  return r.events.map((e) => e.type);
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
