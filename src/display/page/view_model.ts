/**
 * Browser side, pure: DisplayState → what the screen says. The safety rules live here, in one place:
 *
 * - Only `stable` gets the coloured verdict badge, the label in large type and the probability. `tracking` and
 *   `indeterminate` are neutral grey with no label, no probability and no confident wording ("Assessing… hold
 *   still", "Uncertain — hold still"); `searching` and `lost` say "No lesion in view".
 * - Colour never carries the verdict alone: each stable label has its own word and its own icon shape (circle for
 *   benign, triangle with "!" for malignant), and the two colours (blue, dark orange) differ for colour-blind viewers
 *   and in luminance.
 * - Device offline (retained status / last will) → full-width banner, verdict withdrawn (not just greyed).
 *   Display not connected to the broker → banner, verdict greyed as stale. No message for `staleAfterMs` → greyed,
 *   labelled "not current", with the age.
 */
import type { LesionLabel, LesionState } from '../../types/index.js';
import { frameRate, type DisplayState } from './display_state.js';

export type VerdictKind = 'stable' | 'assessing' | 'uncertain' | 'none' | 'waiting' | 'withdrawn';
export type BannerKind = 'offline' | 'broker' | 'degraded' | 'config';

export interface VerdictView {
  kind: VerdictKind;
  /** Only for `stable`. */
  label: LesionLabel | null;
  icon: 'benign' | 'malignant' | 'neutral' | 'none';
  title: string;
  /** Probability line, only for `stable`: "78 % ± 4". */
  probability: string | null;
  detail: string;
  stale: boolean;
  /** "Not current — last update 12 s ago" when stale. */
  staleText: string | null;
  /** The wire state behind it (for tests and screen readers). */
  state: LesionState | null;
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
}

const pct = (p: number) => `${Math.round(p * 100)} %`;

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
  switch (m.state) {
    case 'stable': {
      if (!m.label || !m.probabilities) {
        return { ...base, kind: 'uncertain', icon: 'neutral', title: 'Uncertain — hold still', detail: 'No steady result', stale, staleText, state: m.state };
      }
      const p = m.probabilities[m.label];
      const sd = m.spread ? m.spread[m.label] : null;
      return {
        kind: 'stable',
        label: m.label,
        icon: m.label,
        title: m.label === 'malignant' ? 'MALIGNANT' : 'BENIGN',
        probability: `${pct(p)}${sd !== null ? ` ± ${Math.round(sd * 100)}` : ''}`,
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
  };
}
