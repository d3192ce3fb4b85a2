/**
 * GStreamer pads each RGB row to a multiple of 4 bytes (a 322-pixel row is 968 bytes, not 966);
 * Frame promises packed rows. Returns the buffer itself when there is no padding (the common case:
 * any width that is a multiple of 4), else a packed copy.
 */
export function packedRgb(data: Uint8Array, width: number, height: number): Uint8Array {
  const row = width * 3;
  const packed = row * height;
  if (data.length === packed) return data;
  const stride = rgbStride(width);
  if (data.length < stride * (height - 1) + row) {
    throw new RangeError(`RGB buffer of ${data.length} bytes is too small for ${width}x${height} (stride ${stride})`);
  }
  const out = new Uint8Array(packed);
  for (let y = 0; y < height; y++) out.set(data.subarray(y * stride, y * stride + row), y * row);
  return out;
}

/** GstVideoInfo's default stride for packed 24-bit RGB. */
export function rgbStride(width: number): number {
  return (width * 3 + 3) & ~3;
}

/** "30/1" → 30, "30000/1001" → 29.97; undefined for variable ("0/1") or absent rates. */
export function parseFramerate(framerate: unknown): number | undefined {
  if (typeof framerate !== 'string') return undefined;
  const m = /^(\d+)\/(\d+)$/.exec(framerate.trim());
  if (!m) return undefined;
  const num = Number(m[1]);
  const den = Number(m[2]);
  return num > 0 && den > 0 ? num / den : undefined;
}
