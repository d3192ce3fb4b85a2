/** The pipeline room: RxJS operators that turn `Frame$` into `LesionEvent$` (see pipeline.ts). */
export * from './appearance.js';
export * from './box_normalize.js';
export * from './contours.js';
export * from './debounce.js';
export * from './debounce_operator.js';
export * from './episode.js';
export * from './episode_params.js';
export * from './episode_summary.js';
export * from './iou.js';
export * from './latest_only.js';
export * from './lift.js';
export * from './pipeline.js';
export * from './quality_gate.js';
export * from './stage_timer.js';
export * from './to_lesion_event.js';
