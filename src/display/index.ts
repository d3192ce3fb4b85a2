/** src/display: the bedside display (a page served by dermstream that reads the broker over WebSocket). */
export { startDisplayServer, mqttBrowserBuildPath, type DisplayServer, type DisplayServerOptions } from './server.js';
export { resolveConfig, DEFAULT_STALE_MS, type DisplayConfig, type ServedConfig } from './page/config.js';
export { screenOf, type ScreenView, type VerdictView, type VerdictKind, type BannerView } from './page/view_model.js';
export { initialState, onLesion, onSnapshot, onStatus, onBroker, overlaySource, frameRate, type DisplayState } from './page/display_state.js';
export { fitContain, toCanvas, polygonToCanvas, boxToCanvas, OVERLAY, type Rect } from './page/overlay.js';
