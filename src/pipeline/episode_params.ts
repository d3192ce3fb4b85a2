import type { AppearanceDistance } from './appearance.js';
import type { NestedViewParams } from './nested_view.js';

/**
 * Parameters of the episode calculator (episode.ts) and the appearance rule that decides "a different lesion".
 * The defaults and the measurements behind them are in debounce.md, "Episodes".
 */

export interface EpisodeAppearanceParams extends NestedViewParams {
  /** A lesion whose mean colour is this far (CIE76 ΔE) from the episode's reference is a different lesion... */
  lesionDeltaE: number;
  /** ... or whose colour spread (std of L*a*b*, Euclidean) moved this far (variegation changed)... */
  textureDelta: number;
  /** ... or whose mask area changed by more than this factor (zoom alone stays below it)... */
  areaRatio: number;
  /** ... for this many consecutive model outputs that saw the track (one odd frame — a glint, a bad mask — is not a new lesion). */
  confirm: number;
  /** EMA weight of each new observation in the episode's reference appearance (follows slow drift). */
  alpha: number;
}

export interface EpisodeParams {
  /** A run of lift rejections (see `liftReasons`) lasting this long (capture time) ends the episode: the scope was lifted. */
  liftMs: number;
  /** Quality-gate reasons that mean "the scope is not on skin": a dark, flat or defocused view. */
  liftReasons: readonly string[];
  appearance: EpisodeAppearanceParams;
}

export const DEFAULT_EPISODE_PARAMS: EpisodeParams = {
  liftMs: 300,
  liftReasons: ['dark', 'uniform', 'blurry'],
  appearance: { lesionDeltaE: 8, textureDelta: 5, areaRatio: 6, confirm: 3, alpha: 0.2, nestedContainment: 0.9, nestedZ: 1.5, nestedRing: 0.25, nestedDeepRing: 1, nestedDeepZ: 2.5 },
};

export type EpisodeParamsInput = Partial<Omit<EpisodeParams, 'appearance'>> & { appearance?: Partial<EpisodeAppearanceParams> };

export function resolveEpisodeParams(partial: EpisodeParamsInput = {}): EpisodeParams {
  const a = { ...DEFAULT_EPISODE_PARAMS.appearance };
  for (const [k, v] of Object.entries(partial.appearance ?? {})) if (v !== undefined) (a as Record<string, number>)[k] = v;
  const p: EpisodeParams = {
    liftMs: partial.liftMs ?? DEFAULT_EPISODE_PARAMS.liftMs,
    liftReasons: partial.liftReasons ?? DEFAULT_EPISODE_PARAMS.liftReasons,
    appearance: a,
  };
  const fail = (msg: string) => {
    throw new RangeError(`episode params: ${msg}`);
  };
  if (!(p.liftMs > 0)) fail(`liftMs must be > 0 ms, got ${p.liftMs}`);
  if (!(a.lesionDeltaE > 0)) fail(`appearance.lesionDeltaE must be > 0, got ${a.lesionDeltaE}`);
  if (!(a.textureDelta > 0)) fail(`appearance.textureDelta must be > 0, got ${a.textureDelta}`);
  if (!(a.areaRatio > 1)) fail(`appearance.areaRatio must be > 1, got ${a.areaRatio}`);
  if (!Number.isInteger(a.confirm) || a.confirm < 1) fail(`appearance.confirm must be an integer ≥ 1, got ${a.confirm}`);
  if (!(a.alpha > 0 && a.alpha <= 1)) fail(`appearance.alpha must be in (0, 1], got ${a.alpha}`);
  if (!(a.nestedContainment > 0 && a.nestedContainment <= 1)) fail(`appearance.nestedContainment must be in (0, 1], got ${a.nestedContainment}`);
  if (!(a.nestedZ > 0)) fail(`appearance.nestedZ must be > 0, got ${a.nestedZ}`);
  if (!(a.nestedRing > 0 && a.nestedRing <= 1)) fail(`appearance.nestedRing must be in (0, 1], got ${a.nestedRing}`);
  if (!(a.nestedDeepRing >= a.nestedRing)) fail(`appearance.nestedDeepRing must be ≥ nestedRing (${a.nestedRing}), got ${a.nestedDeepRing}`);
  if (!(a.nestedDeepZ >= a.nestedZ)) fail(`appearance.nestedDeepZ must be ≥ nestedZ (${a.nestedZ}), got ${a.nestedDeepZ}`);
  return p;
}

/** One observation's verdict of the appearance rule: does it look like a different lesion from the reference? */
export function isDifferentLesion(d: AppearanceDistance, p: Pick<EpisodeParams, 'appearance'>): boolean {
  const a = p.appearance;
  return d.lesionDeltaE > a.lesionDeltaE || d.textureDelta > a.textureDelta || d.areaRatio > a.areaRatio;
}
