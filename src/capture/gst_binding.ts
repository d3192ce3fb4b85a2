/**
 * Typed, lazily loaded access to the native `gstreamer-superficial` addon. Lazy so that the pure parts
 * of capture (and `doctor`) still load on a machine where the addon failed to build, and can say so.
 *
 * Facts about the addon that the rest of capture relies on (read from its C++ source, v1.7.4):
 * - `new Pipeline(desc)` runs gst_parse_launch and throws Error(GStreamer's message) on any parse error
 *   (it also prints "GstError: ..." to stderr itself; that cannot be silenced from JS).
 * - `appsink.pull(cb)` runs gst_app_sink_pull_sample on a libuv pool thread: cb(buffer, caps) per sample,
 *   cb(null, {}) at EOS or once the appsink is stopped. One pull = one callback.
 * - `pollBus(cb)` pops bus messages on a pool thread and re-arms itself after each message only while
 *   the pipeline's state is not NULL. So a pipeline that fails NULL→READY (a missing camera) delivers one
 *   message and goes quiet, and each running pipeline occupies two of libuv's pool threads (default 4).
 * - A bus poll blocked in gst_bus_timed_pop is only woken by a new message. When the pipeline goes to NULL
 *   with auto-flush-bus on (GStreamer's default), the flush can swallow the very messages that stop()
 *   posted before the poll thread takes one: the thread then stays blocked (seen here: 15–80 s delays at
 *   exit after a few restarts), holding a pool thread and the event loop. So we switch auto-flush off.
 * - Pipelines are never freed by the addon (its destructor is empty); stop() releases devices and threads.
 * - Structure fields of a message are copied onto it, and may overwrite `type`/`name` (missing-plugin).
 */
import { createRequire } from 'node:module';
import { CaptureError } from './errors.js';

export interface GstBusMessage {
  type: string;
  _src_element_name?: string;
  name?: string;
  message?: string;
  debug?: string;
  'old-state'?: string;
  'new-state'?: string;
  [field: string]: unknown;
}

export interface GstCaps {
  name?: string;
  format?: string;
  width?: number;
  height?: number;
  framerate?: string;
  [field: string]: unknown;
}

export interface GstAppSink {
  pull(cb: (buf: Buffer | null, caps: GstCaps) => void): void;
  /** True at EOS and also whenever the appsink is not in PAUSED/PLAYING (e.g. its start failed). */
  readonly eos: boolean;
}

export interface GstPipeline {
  play(): void;
  pause(): void;
  stop(): void;
  /** Position in whole seconds; flags as GstSeekFlags (1 = FLUSH). */
  seek(seconds: number, flags: number): boolean;
  findChild(name: string): unknown;
  pollBus(cb: (msg: GstBusMessage) => void): void;
  /** GstPipeline's auto-flush-bus: whether going to NULL discards the bus's pending messages. */
  'auto-flush-bus': boolean;
}

interface GstModule {
  Pipeline: new (description: string) => GstPipeline;
}

let cached: GstModule | undefined;
let loadError: CaptureError | undefined;

/** The addon, or a CaptureError explaining why it cannot be loaded. */
export function gstreamer(): GstModule {
  if (cached) return cached;
  if (loadError) throw loadError;
  try {
    const require = createRequire(import.meta.url);
    cached = require('gstreamer-superficial') as GstModule;
    return cached;
  } catch (cause) {
    loadError = new CaptureError('MISSING_PLUGIN', `the GStreamer binding (gstreamer-superficial) cannot be loaded: ${(cause as Error).message}`, {
      hint: 'install libgstreamer1.0-dev and libgstreamer-plugins-base1.0-dev, then `npm rebuild gstreamer-superficial`',
      element: 'gstreamer-superficial',
      cause,
    });
    throw loadError;
  }
}
