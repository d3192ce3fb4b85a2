/**
 * Browser side: the bedside display's glue. Reads its config (query / config.json), connects to the broker over
 * WebSocket with mqtt.js's browser build (served by the display server from node_modules: no CDN), feeds the pure
 * state (`display_state.ts`), and renders the view (`view_model.ts`) and the canvas overlay (`overlay.ts`).
 *
 * MQTT 3.1.1 is used: the display only subscribes, and 3.1.1 works with every broker dermstream meets (the embedded
 * aedes broker speaks nothing else). Everything received is checked for the fields it uses before it is used; a
 * malformed payload is counted and ignored, never drawn.
 */
import type { LesionMessage, SnapshotMessage, StatusMessage } from '../../publish/wire_message.js';
import { resolveConfig, type DisplayConfig, type ServedConfig } from './config.js';
import { initialState, onBroker, onLesion, onSnapshot, onStatus, overlaySource, type DisplayState } from './display_state.js';
import { boxToCanvas, fitContain, OVERLAY, polygonToCanvas, type Rect } from './overlay.js';
import { screenOf, type ScreenView } from './view_model.js';

interface MqttClientLike {
  on(event: 'connect', cb: () => void): void;
  on(event: 'reconnect' | 'close' | 'offline', cb: () => void): void;
  on(event: 'error', cb: (err: Error) => void): void;
  on(event: 'message', cb: (topic: string, payload: Uint8Array) => void): void;
  subscribe(topics: string[], opts: { qos: 0 | 1 }, cb?: (err: Error | null) => void): void;
}
interface MqttModule {
  connect(url: string, opts: Record<string, unknown>): MqttClientLike;
}

// ------------------------------------------------------------------------------------------- payload checks

const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const isNum = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);
const isUnitPoint = (p: unknown) => Array.isArray(p) && p.length === 2 && isNum(p[0]) && isNum(p[1]);

export function asStatus(v: unknown): StatusMessage | null {
  if (!isObj(v) || typeof v.deviceId !== 'string' || typeof v.sessionId !== 'string') return null;
  if (v.state !== 'online' && v.state !== 'offline' && v.state !== 'degraded') return null;
  return v as unknown as StatusMessage;
}

export function asLesion(v: unknown): LesionMessage | null {
  if (!isObj(v) || typeof v.deviceId !== 'string' || typeof v.sessionId !== 'string' || !isNum(v.seq)) return null;
  if (!['searching', 'tracking', 'stable', 'indeterminate', 'lost'].includes(v.state as string)) return null;
  const f = v.frame;
  if (!isObj(f) || !isNum(f.seq) || !isNum(f.width) || !isNum(f.height) || !isNum(f.capturedAtMs)) return null;
  if (!Array.isArray(v.contours) || !v.contours.every((c) => isObj(c) && Array.isArray(c.normalized) && c.normalized.every(isUnitPoint))) return null;
  if (v.box !== null && !(isObj(v.box) && Array.isArray(v.box.normalized) && v.box.normalized.length === 4 && v.box.normalized.every(isNum))) return null;
  if (v.probabilities !== null && !(isObj(v.probabilities) && isNum(v.probabilities.benign) && isNum(v.probabilities.malignant))) return null;
  if (v.label !== null && v.label !== 'benign' && v.label !== 'malignant') return null;
  if (!isObj(v.agreement) || !isNum(v.agreement.agreeing) || !isNum(v.agreement.window) || !isNum(v.latencyMs)) return null;
  return v as unknown as LesionMessage;
}

export function asSnapshot(v: unknown): SnapshotMessage | null {
  if (!isObj(v) || typeof v.deviceId !== 'string' || typeof v.sessionId !== 'string') return null;
  const f = v.frame;
  const i = v.image;
  if (!isObj(f) || !isNum(f.seq) || !isNum(f.width) || !isNum(f.height)) return null;
  if (!isObj(i) || i.mime !== 'image/jpeg' || typeof i.data !== 'string') return null;
  return v as unknown as SnapshotMessage;
}

// ------------------------------------------------------------------------------------------- rendering

const ICONS: Record<ScreenView['verdict']['icon'], string> = {
  benign: '<svg viewBox="0 0 48 48" aria-hidden="true"><circle cx="24" cy="24" r="16" fill="none" stroke="currentColor" stroke-width="6"/></svg>',
  malignant:
    '<svg viewBox="0 0 48 48" aria-hidden="true"><path d="M24 5 L45 42 H3 Z" fill="none" stroke="currentColor" stroke-width="4" stroke-linejoin="round"/><rect x="21.5" y="16" width="5" height="14" fill="currentColor"/><rect x="21.5" y="33" width="5" height="5" fill="currentColor"/></svg>',
  neutral: '<svg viewBox="0 0 48 48" aria-hidden="true"><circle cx="10" cy="24" r="4" fill="currentColor"/><circle cx="24" cy="24" r="4" fill="currentColor"/><circle cx="38" cy="24" r="4" fill="currentColor"/></svg>',
  none: '',
};

function $(id: string): HTMLElement {
  const e = document.getElementById(id);
  if (!e) throw new Error(`#${id} missing`);
  return e;
}

function setText(id: string, text: string): void {
  const e = $(id);
  if (e.textContent !== text) e.textContent = text;
}

class Display {
  private readonly state: DisplayState;
  private image: { seq: number; session: string; img: HTMLImageElement; ready: boolean } | null = null;
  private dirty = false;
  private lastIcon = '';

  constructor(private readonly cfg: DisplayConfig) {
    this.state = initialState(cfg.deviceId);
  }

  start(mqtt: MqttModule): void {
    const dev = this.cfg.deviceId ?? '+';
    const topics = ['status', 'lesion', 'live', 'snapshot'].map((k) => `${this.cfg.prefix}/${dev}/${k}`);
    const client = mqtt.connect(this.cfg.brokerUrl, {
      protocolVersion: 4,
      clean: true,
      clientId: `dermstream-display-${Math.random().toString(16).slice(2, 10)}`,
      reconnectPeriod: 2000,
      connectTimeout: 8000,
      keepalive: 20,
    });
    client.on('connect', () => {
      onBroker(this.state, 'connected');
      client.subscribe(topics, { qos: 1 });
      this.touch();
    });
    client.on('reconnect', () => {
      if (this.state.broker !== 'failed') onBroker(this.state, 'reconnecting');
      this.touch();
    });
    client.on('close', () => {
      if (this.state.broker === 'connected') onBroker(this.state, 'reconnecting');
      this.touch();
    });
    client.on('error', (err) => {
      onBroker(this.state, this.state.broker === 'connecting' ? 'failed' : 'reconnecting', err.message);
      this.touch();
    });
    client.on('message', (topic, payload) => this.onMessage(topic, payload));
    // Staleness is a matter of time passing: re-render regularly even without messages.
    setInterval(() => this.touch(), 250);
    window.addEventListener('resize', () => this.touch());
    this.touch();
  }

  private onMessage(topic: string, payload: Uint8Array): void {
    const rest = topic.slice(this.cfg.prefix.length + 1).split('/');
    const kind = rest[1];
    let json: unknown;
    try {
      json = JSON.parse(new TextDecoder().decode(payload));
    } catch {
      this.state.rejected++;
      return;
    }
    const now = Date.now();
    if (kind === 'status') {
      const m = asStatus(json);
      if (m) onStatus(this.state, m);
      else this.state.rejected++;
    } else if (kind === 'lesion' || kind === 'live') {
      const m = asLesion(json);
      if (m) onLesion(this.state, m, now);
      else this.state.rejected++;
    } else if (kind === 'snapshot') {
      const m = asSnapshot(json);
      if (m) {
        onSnapshot(this.state, m, now);
        this.loadImage();
      } else this.state.rejected++;
    }
    this.touch();
  }

  private loadImage(): void {
    const s = this.state.snapshot;
    if (!s || (this.image && this.image.seq === s.seq && this.image.session === s.sessionId)) return;
    const img = new Image();
    const entry = { seq: s.seq, session: s.sessionId, img, ready: false };
    img.onload = () => {
      entry.ready = true;
      // Swap only when decoded, so the previous frame stays up meanwhile.
      if (!this.image || this.image === entry || !this.image.ready || this.image.seq <= entry.seq) this.image = entry;
      this.touch();
    };
    img.src = `data:image/jpeg;base64,${s.image.data}`;
    if (!this.image) this.image = entry;
  }

  private touch(): void {
    if (this.dirty) return;
    this.dirty = true;
    requestAnimationFrame(() => this.render());
  }

  render(): void {
    this.dirty = false;
    const view = screenOf(this.state, Date.now(), this.cfg.staleAfterMs, this.cfg.warnings);
    const body = document.body;
    body.dataset.broker = this.state.broker;
    body.dataset.device = this.state.status?.state ?? 'unknown';
    body.classList.toggle('greyed', view.imageGreyed);

    const banner = $('banner');
    banner.hidden = view.banner === null;
    banner.dataset.kind = view.banner?.kind ?? '';
    setText('banner', view.banner?.text ?? '');

    const v = view.verdict;
    const box = $('verdict');
    box.dataset.kind = v.kind;
    box.dataset.label = v.label ?? '';
    box.dataset.state = v.state ?? '';
    box.dataset.stale = String(v.stale);
    if (this.lastIcon !== v.icon) {
      $('verdict-icon').innerHTML = ICONS[v.icon];
      this.lastIcon = v.icon;
    }
    setText('verdict-title', v.title);
    setText('verdict-probability', v.probability ?? '');
    $('verdict-probability').hidden = v.probability === null;
    setText('verdict-detail', v.detail);
    setText('verdict-stale', v.staleText ?? '');
    $('verdict-stale').hidden = v.staleText === null;

    setText('stat-fps', view.stats.fps);
    setText('stat-latency', view.stats.latency);
    setText('stat-device', view.stats.device);
    setText('stat-model', view.stats.model);
    setText('stat-link', view.stats.link);
    this.draw(v.kind === 'withdrawn');
  }

  private draw(withdrawn: boolean): void {
    const canvas = $('frame') as HTMLCanvasElement;
    const css = canvas.getBoundingClientRect();
    const dpr = window.devicePixelRatio || 1;
    const w = Math.max(1, Math.round(css.width * dpr));
    const h = Math.max(1, Math.round(css.height * dpr));
    if (canvas.width !== w || canvas.height !== h) {
      canvas.width = w;
      canvas.height = h;
    }
    const ctx = canvas.getContext('2d');
    if (!ctx) return;
    ctx.fillStyle = '#000';
    ctx.fillRect(0, 0, w, h);

    const snap = this.state.snapshot;
    const src = overlaySource(this.state);
    const fw = snap?.frame.width ?? src?.msg.frame.width;
    const fh = snap?.frame.height ?? src?.msg.frame.height;
    const note = $('image-note');
    if (!fw || !fh) {
      note.hidden = false;
      note.textContent = 'No image yet';
      delete canvas.dataset.rect;
      return;
    }
    const r: Rect = fitContain(fw, fh, w, h);
    const img = this.image?.ready ? this.image : null;
    if (img) {
      ctx.drawImage(img.img, r.x, r.y, r.width, r.height);
      note.hidden = true;
    } else {
      ctx.fillStyle = '#262626';
      ctx.fillRect(r.x, r.y, r.width, r.height);
      note.hidden = false;
      note.textContent = snap ? 'Loading image…' : 'No image received — outline only';
    }
    canvas.dataset.rect = JSON.stringify({ x: r.x / dpr, y: r.y / dpr, width: r.width / dpr, height: r.height / dpr });
    canvas.dataset.snapshotFrame = snap ? String(snap.frame.seq) : '';
    canvas.dataset.overlayFrame = src ? String(src.msg.frame.seq) : '';
    canvas.dataset.overlaySameFrame = src ? String(src.sameFrame) : '';
    if (!src || withdrawn) return;

    const m = src.msg;
    const solid = m.state === 'stable';
    ctx.lineJoin = 'round';
    if (m.box) {
      const b = boxToCanvas(m.box.normalized, r);
      ctx.setLineDash([6 * dpr, 6 * dpr]);
      ctx.lineWidth = 1.5 * dpr;
      ctx.strokeStyle = OVERLAY.box;
      ctx.strokeRect(b.x, b.y, b.width, b.height);
    }
    for (const c of m.contours) {
      const pts = polygonToCanvas(c.normalized, r);
      if (pts.length < 2) continue;
      ctx.beginPath();
      ctx.moveTo(pts[0]![0], pts[0]![1]);
      for (const p of pts.slice(1)) ctx.lineTo(p[0], p[1]);
      ctx.closePath();
      ctx.setLineDash(solid ? [] : [10 * dpr, 6 * dpr]);
      ctx.lineWidth = 6 * dpr;
      ctx.strokeStyle = OVERLAY.contourHalo;
      ctx.stroke();
      ctx.lineWidth = 3 * dpr;
      ctx.strokeStyle = OVERLAY.contour;
      ctx.stroke();
    }
    ctx.setLineDash([]);
  }
}

async function main(): Promise<void> {
  let served: ServedConfig | null = null;
  try {
    const res = await fetch(new URL('config.json', document.baseURI), { cache: 'no-store' });
    if (res.ok) served = (await res.json()) as ServedConfig;
  } catch {
    /* opened without the server's config: query parameters and defaults */
  }
  const cfg = resolveConfig(new URLSearchParams(location.search), served, location);
  document.title = `${cfg.title} — bedside display`;
  document.body.dataset.brokerUrl = cfg.brokerUrl;
  const mod = (await import(new URL('../vendor/mqtt.esm.js', import.meta.url).href)) as { default?: MqttModule } & Partial<MqttModule>;
  const mqtt = (mod.default && typeof mod.default.connect === 'function' ? mod.default : mod) as MqttModule;
  new Display(cfg).start(mqtt);
}

if (typeof document !== 'undefined') {
  main().catch((err: unknown) => {
    const b = document.getElementById('banner');
    if (b) {
      b.hidden = false;
      b.dataset.kind = 'broker';
      b.textContent = `Display failed to start: ${(err as Error).message}`;
    }
  });
}
