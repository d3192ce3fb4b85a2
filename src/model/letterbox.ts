import * as tf from '@tensorflow/tfjs-core';

/** How a frame maps into the square network input: input = frame · scale (top-left aligned, zero padded). */
export interface Letterbox {
  scale: number;
  /** Size of the resized frame inside the input. */
  width: number;
  height: number;
  inputSize: number;
}

export function letterboxGeometry(frameWidth: number, frameHeight: number, inputSize: number): Letterbox {
  const scale = inputSize / Math.max(frameWidth, frameHeight);
  return {
    scale,
    width: Math.max(1, Math.min(inputSize, Math.round(frameWidth * scale))),
    height: Math.max(1, Math.min(inputSize, Math.round(frameHeight * scale))),
    inputSize,
  };
}

/** The network's input scale after mean subtraction; batch norm would absorb any constant, this keeps the stem's activations near unit size. */
export const INPUT_SCALE = 1 / 64;

/**
 * RGB bytes [H, W, 3] → network input [1, S, S, 3], as the paper: resize keeping the aspect ratio, pad
 * with black (zero) pixels to a square, subtract the per-channel mean; then a constant scale.
 */
export function letterboxTensor(rgb: Uint8Array, width: number, height: number, inputSize: number, means: [number, number, number]): { input: tf.Tensor4D; geometry: Letterbox } {
  if (rgb.length !== width * height * 3) {
    throw new Error(`frame buffer has ${rgb.length} bytes, expected ${width}×${height}×3 = ${width * height * 3} (RGB)`);
  }
  const g = letterboxGeometry(width, height, inputSize);
  const input = tf.tidy(() => {
    const img = tf.tensor3d(rgb, [height, width, 3], 'int32').toFloat();
    const resized = tf.image.resizeBilinear(img, [g.height, g.width], false, true);
    const padded = tf.pad(resized, [[0, inputSize - g.height], [0, inputSize - g.width], [0, 0]]);
    return tf.mul(tf.sub(padded, tf.tensor1d(means)), INPUT_SCALE).expandDims(0) as tf.Tensor4D;
  });
  return { input, geometry: g };
}

/** The same preprocessing for an already letterboxed uint8 image (training cache) without resizing. */
export function normalizeLetterboxed(batch: Uint8Array, n: number, inputSize: number, means: [number, number, number]): tf.Tensor4D {
  return tf.tidy(() => {
    const x = tf.tensor4d(batch, [n, inputSize, inputSize, 3], 'int32').toFloat();
    return tf.mul(tf.sub(x, tf.tensor1d(means)), INPUT_SCALE) as tf.Tensor4D;
  });
}
