/**
 * Child-process entry that owns one GStreamer pipeline for `startIsolatedGstSession` (gst_isolated.ts).
 * Everything that can block inside GStreamer — parsing, play, the NULL state change of a source stuck in
 * read() — happens here, not in the service's event loop; and what gstreamer-superficial never frees
 * (~2.2 MB per rebuilt pipeline, measured in bench/results/capture_faults.md) goes back to the OS when
 * this process exits at the end of its session.
 *
 * Protocol (IPC, advanced serialization): parent → `start {plan, ctx}` | `rewind` | `demand {n}` | `stop`;
 * child → `origin {timeOrigin}` | `opened` | `frame {…}` | `eos` | `error {…}` | `rewound {ok}`.
 */
import { isCaptureError } from './errors.js';
import { startGstSession } from './gst_source.js';
import type { CaptureSession } from './session.js';

type ParentMessage = { t: 'start'; plan: Parameters<typeof startGstSession>[0]; ctx: Parameters<typeof startGstSession>[1] } | { t: 'rewind' } | { t: 'demand'; n: number } | { t: 'stop' };

const send = (m: object): void => {
  if (process.connected) process.send?.(m);
};
let session: CaptureSession | undefined;

send({ t: 'origin', timeOrigin: performance.timeOrigin });
process.on('message', (m: ParentMessage) => {
  if (m.t === 'start' && !session) {
    session = startGstSession(m.plan, m.ctx, {
      opened: () => send({ t: 'opened' }),
      frame: (f) => send({ t: 'frame', data: f.data, width: f.width, height: f.height, fps: f.fps, at: f.at }),
      eos: () => send({ t: 'eos' }),
      error: (err) => {
        const e = isCaptureError(err) ? err : undefined;
        send({ t: 'error', code: e?.code ?? 'RUNTIME', message: err.message, hint: e?.hint, element: e?.element, gstMessage: e?.gstMessage, gstDebug: e?.gstDebug });
      },
    });
  } else if (m.t === 'demand') {
    session?.demand?.(m.n);
  } else if (m.t === 'rewind') {
    send({ t: 'rewound', ok: session?.rewind() ?? false });
  } else if (m.t === 'stop') {
    session?.stop();
    process.exit(0);
  }
});
// The parent went away (crash, kill -9): do not linger holding the camera.
process.on('disconnect', () => {
  session?.stop();
  process.exit(0);
});
