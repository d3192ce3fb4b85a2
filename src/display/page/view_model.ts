/**
 * Browser side, pure: DisplayState → what the screen says. The safety rules live here, in one place:
 *
 * - Only `stable` (and the held result of an `ended` episode) gets the coloured verdict badge, the label in large
 *   type and p(malignant) on the threshold scale (probability_view.ts: never the winning class's probability,
 *   capped at > 99 % / < 1 %, the spread named "frame-to-frame variation"). `tracking` and
 *   `indeterminate` are neutral grey with no label, no probability and no confident wording ("Assessing… hold
 *   still", "Uncertain — hold still"); `searching` and `lost` say "No lesion in view".
 * - Colour never carries the verdict alone: each stable label has its own word and its own icon shape (circle for
 *   benign, triangle with "!" for malignant), and the two colours (blue, dark orange) differ for colour-blind viewers
 *   and in luminance.
 * - Device offline (retained status / last will) → full-width banner, verdict withdrawn (not just greyed).
 *   Display not connected to the broker → banner, verdict greyed as stale. No message for `staleAfterMs` → greyed,
 *   labelled "not current", with the age.
 * - An ended episode's verdict stays until the next lesion is in view, titled "Last lesion: …" with how long it was
 *   examined and why it ended; the history strip lists this patient's examined lesions, newest first.
 */
import type { LesionLabel } from '../../types/index.js';
import { bodySiteByCode } from '../../types/body_sites.js';
import type { EndReason, LesionMessageView, SessionContext } from './contract.js';
import { currentSession, frameRate, pendingSession, type DisplayState, type HistoryEntry } from './display_state.js';
import { probabilityView, type ProbabilityView } from './probability_view.js';

export type VerdictKind = 'stable' | 'ended' | 'assessing' | 'uncertain' | 'none' | 'waiting' | 'withdrawn';
export type BannerKind = 'offline' | 'broker' | 'degraded' | 'config';

export interface VerdictView {
  kind: VerdictKind;
  /** Only for `stable` and `ended`. */
  label: LesionLabel | null;
  icon: 'benign' | 'malignant' | 'neutral' | 'none';
  title: string;
  /** p(malignant) on the threshold scale, only for `stable` and `ended` (with a mean probability). */
  probability: ProbabilityView | null;
  detail: string;
  stale: boolean;
  /** "Not current — last update 12 s ago" when stale. */
  staleText: string | null;
  /** The wire state behind it (for tests and screen readers). */
  state: LesionMessageView['state'] | null;
}

/** One entry of the history strip. */
export interface HistoryItemView {
  id: string;
  label: LesionLabel | null;
  /** "Malignant", "Benign", "No steady result". */
  verdictText: string;
  /** "p(malignant) 37 %", or null when the episode never saw the lesion long enough. */
  probabilityText: string | null;
  /** "above the referral threshold (15 %)" / "below …", or null. */
  sideText: string | null;
  /** Local wall time the examination ended, "14:03:27". */
  time: string;
  /** "Back", or null. */
  site: string | null;
  /** base64 JPEG of the best frame (or the nearest snapshot), or null. */
  thumbnail: string | null;
}

export interface SessionView {
  /** What the device reports (or the retained command until it does). */
  patientRef: string | null;
  bodySiteCode: string | null;
  /** "Patient ABC-123 · Back", or "No patient set"; while the device has not applied a new command, that one
   *  followed by " · waiting for the device". */
  text: string;
  pending: boolean;
  /** The session/set form can publish (a device is known and the broker is connected). */
  canSet: boolean;
}

export interface BannerView {
  kind: BannerKind;
  text: string;
}

export interface ScreenView {
  banner: BannerView | null;
  verdict: VerdictView;
  /** The image and overlay are greyed too when the verdict is not current. */
  imageGreyed: boolean;
  stats: { fps: string; latency: string; device: string; model: string; link: string };
  history: HistoryItemView[];
  session: SessionView;
}

/** Words for the touch screen, by SNOMED CT code (the list itself is src/types/body_sites.ts). */
export const BODY_SITE_SHORT: Readonly<Record<string, string>> = {
  '41695006': 'Scalp',
  '89545001': 'Face',
  '45048000': 'Neck',
  '302551006': 'Chest',
  '818983003': 'Abdomen',
  '77568009': 'Back',
  '53120007': 'Arm',
  '85562004': 'Hand',
  '61685007': 'Leg',
  '56459004': 'Foot',
};

export function siteName(site: SessionContext['bodySite']): string | null {
  if (!site) return null;
  return BODY_SITE_SHORT[site.code] ?? bodySiteByCode(site.code)?.display ?? site.display;
}

const END_REASON: Record<EndReason, string> = {
  lifted: 'scope lifted',
  'new-lesion': 'next lesion in view',
  lost: 'lesion lost from view',
  'source-ended': 'recording ended',
  shutdown: 'device stopped',
};

/** "14:03:27" in local time (no locale: the same on every display). */
export function clockTime(iso: string): string {
  const d = new Date(iso);
  if (!Number.isFinite(d.getTime())) return '—';
  const two = (n: number) => String(n).padStart(2, '0');
  return `${two(d.getHours())}:${two(d.getMinutes())}:${two(d.getSeconds())}`;
}

const opOf = (m: LesionMessageView) => m.model.operatingPoint ?? null;

function ago(ms: number): string {
  const s = Math.round(ms / 1000);
  return s < 120 ? `${s} s` : `${Math.round(s / 60)} min`;
}

function verdictOf(s: DisplayState, nowMs: number, staleAfterMs: number): VerdictView {
  const base = { label: null, probability: null, stale: false, staleText: null } as const;
  const m = s.lesion;
  if (!m || s.lesionAtMs === null) {
    return { ...base, kind: 'waiting', icon: 'none', title: 'Waiting for the device…', detail: 'No result received yet', state: null };
  }
  const age = nowMs - s.lesionAtMs;
  const stale = age > staleAfterMs || s.broker !== 'connected';
  const staleText = stale ? `Not current — last update ${ago(age)} ago` : null;
  // The last examined lesion's result stays until the next lesion is in view.
  const held = s.ended?.episode;
  if (held && s.ended && !['tracking', 'stable', 'indeterminate'].includes(m.state)) {
    const p = held.meanProbabilities;
    const label = held.verdict;
    return {
      kind: 'ended',
      label,
      icon: label ?? 'none',
      title: label === 'malignant' ? 'Last lesion: MALIGNANT' : label === 'benign' ? 'Last lesion: BENIGN' : 'Last lesion: no steady result',
      probability: p && label ? probabilityView(p.malignant, held.spread ? held.spread.malignant : null, opOf(s.ended)) : null,
      detail: `Examined ${(held.durationMs / 1000).toFixed(1)} s, ended ${clockTime(held.endedAt)} (${END_REASON[held.endReason] ?? held.endReason}) · point the dermatoscope at the next lesion`,
      stale,
      staleText,
      state: m.state,
    };
  }
  switch (m.state) {
    case 'stable': {
      if (!m.label || !m.probabilities) {
        return { ...base, kind: 'uncertain', icon: 'neutral', title: 'Uncertain — hold still', detail: 'No steady result', stale, staleText, state: m.state };
      }
      return {
        kind: 'stable',
        label: m.label,
        icon: m.label,
        title: m.label === 'malignant' ? 'MALIGNANT' : 'BENIGN',
        probability: probabilityView(m.probabilities.malignant, m.spread ? m.spread.malignant : null, opOf(m)),
        detail: `Steady over ${m.agreement.agreeing} of ${m.agreement.window} frames · automated, preliminary`,
        stale,
        staleText,
        state: m.state,
      };
    }
    case 'tracking':
      return { ...base, kind: 'assessing', icon: 'neutral', title: 'Assessing… hold still', detail: 'Lesion found, result not steady yet', stale, staleText, state: m.state };
    case 'indeterminate':
      return { ...base, kind: 'uncertain', icon: 'neutral', title: 'Uncertain — hold still', detail: 'The frames disagree; no result', stale, staleText, state: m.state };
    case 'searching':
    case 'lost':
    default:
      return { ...base, kind: 'none', icon: 'none', title: 'No lesion in view', detail: m.state === 'lost' ? 'The lesion left the view' : 'Point the dermatoscope at a lesion', stale, staleText, state: m.state };
  }
}

export function screenOf(s: DisplayState, nowMs: number, staleAfterMs: number, warnings: string[] = []): ScreenView {
  let verdict = verdictOf(s, nowMs, staleAfterMs);
  let banner: BannerView | null = null;
  const st = s.status;
  if (st && st.state === 'offline') {
    const since = Date.parse(st.at);
    banner = {
      kind: 'offline',
      text: `DEVICE OFFLINE — results are not live${st.lastWill ? ' (connection lost)' : st.reason ? ` (${st.reason})` : ''}${Number.isFinite(since) && !st.lastWill ? `, since ${new Date(since).toLocaleTimeString()}` : ''}`,
    };
    verdict = {
      kind: 'withdrawn',
      label: null,
      icon: 'none',
      title: 'No result — device offline',
      probability: null,
      detail: 'Nothing shown until the device is back',
      stale: true,
      staleText: null,
      state: verdict.state,
    };
  } else if (s.broker !== 'connected') {
    banner = { kind: 'broker', text: `DISPLAY NOT CONNECTED — ${s.broker === 'failed' ? 'cannot reach the broker' : 'reconnecting'}; results are not live` };
  } else if (st && st.state === 'degraded') {
    banner = { kind: 'degraded', text: `Device degraded${st.reason ? `: ${st.reason}` : ''}` };
  } else if (warnings.length > 0) {
    banner = { kind: 'config', text: warnings.join(' · ') };
  }

  const session = currentSession(s);
  const pending = pendingSession(s);
  const patientRef = session?.patientRef ?? null;
  const site = siteName(session?.bodySite ?? null);
  const history = s.history
    .filter((h) => h.patientRef === patientRef)
    .map((h) => historyItem(h));

  const fps = frameRate(s, nowMs);
  const lat = s.lesion ? `${Math.round(s.lesion.latencyMs)} ms${s.transportMs !== null ? ` (+${Math.round(s.transportMs)} ms net)` : ''}` : '—';
  const model = s.lesion?.model ?? st?.model;
  return {
    banner,
    verdict,
    imageGreyed: verdict.stale,
    stats: {
      fps: fps === null ? '—' : `${fps.toFixed(1)} fps analysed`,
      latency: lat,
      device: s.deviceId ? `${s.deviceId}${st ? ` · ${st.state}` : ''}` : 'waiting for a device',
      model: model ? `${model.name} ${model.version} (${model.quantization}, ${model.backend})` : '—',
      link: s.broker === 'connected' ? 'broker connected' : s.broker === 'failed' ? `broker unreachable${s.brokerError ? `: ${s.brokerError}` : ''}` : 'connecting to the broker…',
    },
    history,
    session: {
      patientRef,
      bodySiteCode: session?.bodySite?.code ?? null,
      text: pending ? `${sessionText(pending.patientRef, siteName(pending.bodySite))} · waiting for the device` : sessionText(patientRef, site),
      pending: pending !== null,
      canSet: s.deviceId !== null && s.broker === 'connected',
    },
  };
}

function sessionText(patientRef: string | null, site: string | null): string {
  return [patientRef ? `Patient ${patientRef}` : 'No patient set', site].filter(Boolean).join(' · ');
}

function historyItem(h: HistoryEntry): HistoryItemView {
  const ep = h.episode;
  const p = ep.meanProbabilities && ep.verdict ? probabilityView(ep.meanProbabilities.malignant, null, h.threshold !== null ? { threshold: h.threshold, margin: h.margin ?? 0 } : null) : null;
  return {
    id: ep.id,
    label: ep.verdict,
    verdictText: ep.verdict === 'malignant' ? 'Malignant' : ep.verdict === 'benign' ? 'Benign' : 'No steady result',
    probabilityText: p ? p.text : null,
    sideText: p && p.side ? p.sideText : null,
    time: clockTime(ep.endedAt),
    site: siteName(h.bodySite),
    thumbnail: h.thumbnail ? h.thumbnail.image.data : null,
  };
}
