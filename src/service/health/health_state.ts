/**
 * What /healthz and /readyz report. The service is live while its event loop answers; it is ready when
 * the camera delivers frames, the model is loaded, the broker is connected and the state disk takes the
 * outbox's writes. The wiring calls the
 * setters as those change; a reason says why a check is failing, for the IT engineer reading the JSON.
 */
export type CheckName = 'camera' | 'model' | 'broker' | 'storage';
/** `storage`: the outbox's state disk takes writes; a full one means verdicts in memory only (not ready). */
export const CHECKS: readonly CheckName[] = ['camera', 'model', 'broker', 'storage'];

export interface CheckStatus {
  ok: boolean;
  reason?: string;
  /** ISO time of the last change. */
  since: string;
}

export interface HealthSnapshot {
  live: true;
  ready: boolean;
  checks: Record<CheckName, CheckStatus>;
}

export class HealthState {
  private readonly checks: Record<CheckName, CheckStatus>;
  private readonly listeners = new Set<(s: HealthSnapshot) => void>();

  constructor(private readonly now: () => Date = () => new Date()) {
    const since = now().toISOString();
    this.checks = {
      camera: { ok: false, reason: 'not started', since },
      model: { ok: false, reason: 'not loaded', since },
      broker: { ok: false, reason: 'not connected', since },
      storage: { ok: true, since },
    };
  }

  setCamera(ok: boolean, reason?: string): void {
    this.set('camera', ok, reason);
  }
  setModel(ok: boolean, reason?: string): void {
    this.set('model', ok, reason);
  }
  setBroker(ok: boolean, reason?: string): void {
    this.set('broker', ok, reason);
  }
  setStorage(ok: boolean, reason?: string): void {
    this.set('storage', ok, reason);
  }

  get ready(): boolean {
    return CHECKS.every((c) => this.checks[c].ok);
  }

  snapshot(): HealthSnapshot {
    const checks = Object.fromEntries(CHECKS.map((c) => [c, { ...this.checks[c] }])) as Record<CheckName, CheckStatus>;
    return { live: true, ready: this.ready, checks };
  }

  /** Called after every change of a check (not on repeats); returns an unsubscribe function. */
  onChange(listener: (s: HealthSnapshot) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** One line for systemd's STATUS= and the logs, e.g. `ready` or `not ready: camera (no frames for 2 s)`. */
  summary(): string {
    const failing = CHECKS.filter((c) => !this.checks[c].ok);
    if (failing.length === 0) return 'ready';
    return `not ready: ${failing.map((c) => `${c}${this.checks[c].reason ? ` (${this.checks[c].reason})` : ''}`).join(', ')}`;
  }

  private set(name: CheckName, ok: boolean, reason?: string): void {
    const cur = this.checks[name];
    const nextReason = ok ? undefined : reason;
    if (cur.ok === ok && cur.reason === nextReason) return;
    this.checks[name] = { ok, ...(nextReason !== undefined && { reason: nextReason }), since: this.now().toISOString() };
    const snap = this.snapshot();
    for (const l of this.listeners) l(snap);
  }
}
