/**
 * The last snapshots (JPEG thumbnails, `<prefix>/<device>/snapshot`) of each device session, so an episode's
 * Observation can carry its best frame. Pure apart from its memory, bounded per session.
 *
 * The device publishes a thumbnail of at most `snapshotMaxHz` (2 by default) processed frames a second, so the
 * episode's best frame itself may have none: the nearest one by frame seq inside the episode's time span is used,
 * and the Observation says which frame it is.
 */
import type { SnapshotMessage } from '../publish/wire_message.js';

export class SnapshotCache {
  private readonly bySession = new Map<string, SnapshotMessage[]>();

  /** `perSession`: snapshots kept per device session (default 240: two minutes at 2 Hz). */
  constructor(
    private readonly perSession = 240,
    private readonly maxSessions = 64,
  ) {}

  add(s: SnapshotMessage): void {
    const key = `${s.deviceId}\0${s.sessionId}`;
    let list = this.bySession.get(key);
    if (!list) {
      list = [];
      this.bySession.set(key, list);
      while (this.bySession.size > this.maxSessions) this.bySession.delete(this.bySession.keys().next().value as string);
    }
    list.push(s);
    if (list.length > this.perSession) list.shift();
  }

  /** The snapshot of that session nearest to `frameSeq` whose frame was captured within [fromMs, toMs], or null. */
  nearest(deviceId: string, sessionId: string, frameSeq: number, fromMs: number, toMs: number): SnapshotMessage | null {
    let best: SnapshotMessage | null = null;
    for (const s of this.bySession.get(`${deviceId}\0${sessionId}`) ?? []) {
      const t = Date.parse(s.frame.capturedAt);
      if (!(t >= fromMs && t <= toMs)) continue;
      if (!best || Math.abs(s.frame.seq - frameSeq) < Math.abs(best.frame.seq - frameSeq)) best = s;
    }
    return best;
  }
}
