/**
 * Browser side: the bedside display's glue. Reads its config (query / config.json), connects to the broker over
 * WebSocket with mqtt.js's browser build (served by the display server from node_modules: no CDN), feeds the pure
 * state (`display_state.ts`), and renders the view (`view_model.ts`) and the canvas overlay (`overlay.ts`).
 *
 * MQTT 3.1.1 is used: the display only subscribes, and 3.1.1 works with every broker dermstream meets (the embedded
 * aedes broker speaks nothing else). Everything received is checked for the fields it uses before it is used; a
 * malformed payload is counted and ignored, never drawn.
 */
import type { SnapshotMessage, StatusMessage } from '../../publish/wire_message.js';
import { BODY_SITES } from '../../types/body_sites.js';
import { resolveConfig, type DisplayConfig, type ServedConfig } from './config.js';
import type { LesionMessageView as LesionMessage } from './contract.js';
import { initialState, onBroker, onLesion, onSessionCommand, onSnapshot, onStatus, overlaySource, type DisplayState } from './display_state.js';
import { boxToCanvas, fitContain, OVERLAY, polygonToCanvas, type Rect } from './overlay.js';
import { asSessionCommand, sessionSetCommand, sessionSetTopic } from './session_command.js';
import { BODY_SITE_SHORT, screenOf, type HistoryItemView, type ScreenView } from './view_model.js';

interface MqttClientLike {
  on(event: 'connect', cb: () => void): void;
  on(event: 'reconnect' | 'close' | 'offline', cb: () => void): void;
  on(event: 'error', cb: (err: Error) => void): void;
  on(event: 'message', cb: (topic: string, payload: Uint8Array) => void): void;
  subscribe(topics: string[], opts: { qos: 0 | 1 }, cb?: (err: Error | null) => void): void;
  publish(topic: string, payload: string, opts: { qos: 1; retain: boolean }, cb?: (err?: Error) => void): void;
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

const isProbs = (p: unknown) => isObj(p) && isNum(p.benign) && isNum(p.malignant);
const isLabelOrNull = (l: unknown) => l === null || l === 'benign' || l === 'malignant';

/** The 1.1.0 fields, when present: an episode summary that cannot be shown is a malformed message. */
function has11Fields(v: Record<string, unknown>): boolean {
  if (v.episodeId !== undefined && v.episodeId !== null && typeof v.episodeId !== 'string') return false;
  const op = isObj(v.model) ? v.model.operatingPoint : undefined;
  if (op !== undefined && !(isObj(op) && isNum(op.threshold) && isNum(op.margin) && op.threshold > 0 && op.threshold < 1)) return false;
  const ses = v.session;
  if (ses !== undefined && !(isObj(ses) && (ses.patientRef === null || typeof ses.patientRef === 'string') && (ses.bodySite === null || (isObj(ses.bodySite) && typeof ses.bodySite.code === 'string')))) return false;
  const e = v.episode;
  if (v.state === 'ended') {
    if (!isObj(e) || typeof e.id !== 'string' || typeof e.endedAt !== 'string' || !isNum(e.durationMs) || !isLabelOrNull(e.verdict)) return false;
    if (e.meanProbabilities !== null && !isProbs(e.meanProbabilities)) return false;
    if (e.spread !== null && e.spread !== undefined && !isProbs(e.spread)) return false;
    if (e.bestFrameSeq !== null && !isNum(e.bestFrameSeq)) return false;
  }
  return true;
}

export function asLesion(v: unknown): LesionMessage | null {
  if (!isObj(v) || typeof v.deviceId !== 'string' || typeof v.sessionId !== 'string' || !isNum(v.seq)) return null;
  if (!['searching', 'tracking', 'stable', 'indeterminate', 'lost', 'ended'].includes(v.state as string)) return null;
  if (!has11Fields(v)) return null;
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
  private lastHistory = '';
  private client: MqttClientLike | null = null;
  /** The site chosen in the open form (null = none). */
  private formSite: string | null = null;

  constructor(private readonly cfg: DisplayConfig) {
    this.state = initialState(cfg.deviceId);
  }

  start(mqtt: MqttModule): void {
    const dev = this.cfg.deviceId ?? '+';
    const topics = ['status', 'lesion', 'live', 'snapshot', 'session/set'].map((k) => `${this.cfg.prefix}/${dev}/${k}`);
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
    this.client = client;
    this.setUpSessionForm();
    // Staleness is a matter of time passing: re-render regularly even without messages.
    setInterval(() => this.touch(), 250);
    window.addEventListener('resize', () => this.touch());
    this.touch();
  }

  private onMessage(topic: string, payload: Uint8Array): void {
    const rest = topic.slice(this.cfg.prefix.length + 1).split('/');
    const kind = rest.slice(1).join('/');
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
    } else if (kind === 'session/set') {
      // Retained: the context the touch screen (or anyone) last set for this device.
      const c = asSessionCommand(json);
      // Only the shown device's (its retained status comes first: it is subscribed first).
      if (c && this.state.deviceId !== null && rest[0] === this.state.deviceId) onSessionCommand(this.state, c);
      else if (!c) this.state.rejected++;
    }
    this.touch();
  }

  // ----------------------------------------------------------------------------------- examination context form

  private setUpSessionForm(): void {
    const dialog = $('session-dialog') as HTMLDialogElement;
    const buttons = $('site-buttons');
    buttons.replaceChildren(
      ...BODY_SITES.map((site) => {
        const b = document.createElement('button');
        b.type = 'button';
        b.setAttribute('role', 'radio');
        b.dataset.code = site.code;
        b.title = `${site.display} (SNOMED CT ${site.code})`;
        b.textContent = BODY_SITE_SHORT[site.code] ?? site.display;
        b.addEventListener('click', () => this.chooseSite(this.formSite === site.code ? null : site.code));
        return b;
      }),
    );
    $('session-bar').addEventListener('click', () => {
      const cur = screenOf(this.state, Date.now(), this.cfg.staleAfterMs).session;
      ($('patient-ref') as HTMLInputElement).value = cur.patientRef ?? '';
      this.chooseSite(cur.bodySiteCode);
      $('session-error').hidden = true;
      dialog.showModal();
    });
    $('session-cancel').addEventListener('click', () => dialog.close());
    $('session-clear').addEventListener('click', () => {
      ($('patient-ref') as HTMLInputElement).value = '';
      this.chooseSite(null);
    });
    $('session-form').addEventListener('submit', (ev) => {
      ev.preventDefault();
      this.applySession(($('patient-ref') as HTMLInputElement).value, this.formSite, dialog);
    });
  }

  private chooseSite(code: string | null): void {
    this.formSite = code;
    for (const b of Array.from($('site-buttons').children) as HTMLElement[]) b.setAttribute('aria-checked', String(b.dataset.code === code));
  }

  private applySession(patientRef: string, site: string | null, dialog: HTMLDialogElement): void {
    const err = $('session-error');
    const r = sessionSetCommand(patientRef, site);
    const device = this.state.deviceId;
    if (!r.ok || !device || !this.client) {
      err.hidden = false;
      err.textContent = !r.ok ? r.error : 'No device to send it to yet';
      return;
    }
    // Retained, QoS 1: the device applies it now and on its next start; the form reads it back from the broker.
    this.client.publish(sessionSetTopic(this.cfg.prefix, device), JSON.stringify(r.command), { qos: 1, retain: true }, (e) => {
      if (e) {
        err.hidden = false;
        err.textContent = `Not sent: ${e.message}`;
        return;
      }
      onSessionCommand(this.state, r.command);
      dialog.close();
      this.touch();
    });
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
    this.renderProbability(v.probability);
    setText('verdict-detail', v.detail);
    setText('verdict-stale', v.staleText ?? '');
    $('verdict-stale').hidden = v.staleText === null;

    setText('stat-fps', view.stats.fps);
    setText('stat-latency', view.stats.latency);
    setText('stat-device', view.stats.device);
    setText('stat-model', view.stats.model);
    setText('stat-link', view.stats.link);
    setText('session-text', view.session.text);
    $('session-bar').dataset.pending = String(view.session.pending);
    ($('session-bar') as HTMLButtonElement).disabled = !view.session.canSet;
    this.renderHistory(view.history);
    this.draw(v.kind === 'withdrawn');
  }

  private renderProbability(p: ScreenView['verdict']['probability']): void {
    const box = $('verdict-probability');
    box.hidden = p === null;
    if (!p) return;
    box.dataset.side = p.side ?? '';
    box.dataset.near = String(p.nearThreshold);
    setText('p-text', p.text);
    setText('p-side', p.sideText);
    setText('p-variation', p.variationText ?? '');
    $('p-variation').hidden = p.variationText === null;
    // CSSOM, not style attributes: the page's CSP allows no inline styles.
    $('scale-needle').style.left = `${p.scale.valuePct}%`;
    const t = $('scale-threshold');
    t.hidden = p.scale.thresholdPct === null;
    if (p.scale.thresholdPct !== null) t.style.left = `${p.scale.thresholdPct}%`;
    const band = $('scale-band');
    band.hidden = p.scale.band === null;
    if (p.scale.band) {
      band.style.left = `${p.scale.band.fromPct}%`;
      band.style.width = `${p.scale.band.toPct - p.scale.band.fromPct}%`;
    }
  }

  private renderHistory(items: HistoryItemView[]): void {
    const key = JSON.stringify(items.map((i) => [i.id, i.thumbnail?.length ?? 0, i.site]));
    if (key === this.lastHistory) return;
    this.lastHistory = key;
    const li = items.map((i) => {
      const e = document.createElement('li');
      e.dataset.episode = i.id;
      e.dataset.label = i.label ?? '';
      let thumb: HTMLElement;
      if (i.thumbnail) {
        const img = document.createElement('img');
        img.alt = 'best frame';
        img.src = `data:image/jpeg;base64,${i.thumbnail}`;
        thumb = img;
      } else {
        thumb = document.createElement('div');
        thumb.className = 'no-thumb';
      }
      const line = (cls: string, text: string | null) => {
        const d = document.createElement('div');
        d.className = cls;
        d.textContent = text ?? '';
        return d;
      };
      e.append(thumb, line('h-verdict', i.verdictText), line('h-p', i.probabilityText ?? '—'), line('h-side', i.sideText ?? ''), line('h-time', `${i.time}${i.site ? ` · ${i.site}` : ''}`));
      e.title = [i.verdictText, i.probabilityText, i.sideText, i.time, i.site].filter(Boolean).join(' · ');
      return e;
    });
    $('history-list').replaceChildren(...li);
    $('history-empty').hidden = items.length > 0;
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
