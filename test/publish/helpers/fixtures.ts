import type { Frame, LesionEvent, LesionLabel, LesionState } from '../../../src/types/index.js';
import type { ModelIdentity } from '../../../src/publish/wire_message.js';

export const MODEL: ModelIdentity = {
  name: 'dermnet-mrcnn',
  version: '0.3.1',
  sha256: 'a'.repeat(64),
  quantization: 'uint8',
  backend: 'wasm',
};

export function makeEvent(over: Partial<LesionEvent> & { seq?: number; state?: LesionState; label?: LesionLabel | null } = {}): LesionEvent {
  const seq = over.seq ?? 0;
  const state = over.state ?? 'stable';
  const tracked = state === 'tracking' || state === 'stable' || state === 'indeterminate';
  const label = over.label !== undefined ? over.label : tracked ? 'benign' : null;
  const { seq: _s, ...rest } = over;
  return {
    state,
    label,
    probabilities: tracked ? { benign: 0.8, malignant: 0.2 } : null,
    spread: tracked ? { benign: 0.05, malignant: 0.05 } : null,
    box: tracked ? { pixels: [100, 80, 300, 260], normalized: [100 / 640, 80 / 480, 300 / 640, 260 / 480] } : null,
    contours: tracked
      ? [
          {
            pixels: [
              [110, 90],
              [290, 95],
              [280, 250],
              [120, 240],
            ],
            normalized: [
              [110 / 640, 90 / 480],
              [290 / 640, 95 / 480],
              [280 / 640, 250 / 480],
              [120 / 640, 240 / 480],
            ],
          },
        ]
      : [],
    agreement: { agreeing: tracked ? 12 : 0, window: 15 },
    trackId: tracked ? 1 : null,
    frame: { seq, capturedAt: { monoMs: 1000 + seq * 33, wallMs: 1_760_000_000_000 + seq * 33 }, width: 640, height: 480, source: 'test' },
    timings: { preprocessMs: 2.1234, inferMs: 40.55, postprocessMs: 3.2, latencyMs: 48.7 },
    changed: false,
    ...rest,
  };
}

/** A frame with a smooth gradient (so the JPEG is not trivially small). */
export function makeFrame(seq: number, width = 640, height = 480): Frame {
  const data = new Uint8Array(width * height * 3);
  for (let y = 0; y < height; y++)
    for (let x = 0; x < width; x++) {
      const i = (y * width + x) * 3;
      data[i] = (x * 255) / width;
      data[i + 1] = (y * 255) / height;
      data[i + 2] = (seq * 7) & 255;
    }
  return { seq, capturedAt: { monoMs: 1000 + seq * 33, wallMs: 1_760_000_000_000 + seq * 33 }, width, height, format: 'RGB', data, source: 'test' };
}
