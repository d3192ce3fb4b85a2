/** JPEG thumbnail of a frame for the `snapshot` topic, made with sharp (libvips, off the main thread). */
import sharp from 'sharp';
import type { Frame } from '../types/index.js';
import { SNAPSHOT_SCHEMA_ID, SNAPSHOT_SCHEMA_VERSION, type SnapshotMessage } from './wire_message.js';

export interface Thumbnail {
  jpeg: Buffer;
  width: number;
  height: number;
}

/** Scales `frame` (packed RGB) down to at most `maxWidth` pixels wide (never up) and encodes it as JPEG. */
export async function makeThumbnail(frame: Pick<Frame, 'width' | 'height' | 'data'>, maxWidth = 320, quality = 70): Promise<Thumbnail> {
  const { data, info } = await sharp(frame.data, { raw: { width: frame.width, height: frame.height, channels: 3 } })
    .resize({ width: Math.min(maxWidth, frame.width), withoutEnlargement: true })
    .jpeg({ quality, mozjpeg: false })
    .toBuffer({ resolveWithObject: true });
  return { jpeg: data, width: info.width, height: info.height };
}

export interface SnapshotContext {
  deviceId: string;
  sessionId: string;
  seq: number;
  publishedAtMs: number;
}

export function toSnapshotMessage(frame: Pick<Frame, 'seq' | 'width' | 'height' | 'capturedAt'>, thumb: Thumbnail, ctx: SnapshotContext): SnapshotMessage {
  return {
    schema: { id: SNAPSHOT_SCHEMA_ID, version: SNAPSHOT_SCHEMA_VERSION },
    kind: 'snapshot',
    deviceId: ctx.deviceId,
    sessionId: ctx.sessionId,
    seq: ctx.seq,
    frame: { seq: frame.seq, width: frame.width, height: frame.height, capturedAt: new Date(frame.capturedAt.wallMs).toISOString() },
    image: { mime: 'image/jpeg', width: thumb.width, height: thumb.height, data: thumb.jpeg.toString('base64') },
    publishedAt: new Date(ctx.publishedAtMs).toISOString(),
  };
}
