/**
 * Frame sources: USB/V4L2 cameras, video files, still-image folders, the GStreamer test pattern and any
 * GStreamer chain (Jetson), as an RxJS stream of RGB frames that survives camera trouble.
 *
 *   const cam = openSource('v4l2:/dev/video0', { width: 640, height: 480, fps: 30 });
 *   cam.events$.subscribe((e) => log.info(e));          // first: events$ is hot
 *   cam.frames$.subscribe((frame) => ...);              // opens the camera; unsubscribe closes it
 */
export { openSource } from './open_source.js';
export type { OpenSourceOptions, CaptureSource, CaptureStats, CaptureState } from './open_source.js';
export type { CaptureEvent, CaptureEventType, CaptureEventError } from './events.js';
export { CaptureError, isCaptureError } from './errors.js';
export type { CaptureErrorCode } from './errors.js';
export { parseSource, launchPlans, DEFAULT_V4L2_FORMATS } from './source_spec.js';
export type { SourceSpec, SourceKind, FrameRequest, LaunchPlan, V4l2Format } from './source_spec.js';
export { backoffDelayMs, backoffPolicy, DEFAULT_BACKOFF } from './backoff.js';
export type { BackoffPolicy } from './backoff.js';
export { checkElements, elementsFor } from './check_elements.js';
export type { ElementCheck } from './check_elements.js';
export { packageForElement, installHint, ELEMENT_PACKAGES } from './plugin_packages.js';
export { livePipelineCount, idlePipelineCount, pipelinesBuilt } from './gst_source.js';
export { preflight } from './preflight.js';
export { demoClipPath, defaultDemoSource, packageRoot } from './demo_source.js';
export { listImages, DEFAULT_IMAGE_FPS } from './image_folder_source.js';
