/** src/display: the bedside display (a page served by dermstream that reads the broker over WebSocket). */
export { startDisplayServer, mqttBrowserBuildPath, type DisplayServer, type DisplayServerOptions } from './server.js';
export { resolveConfig, DEFAULT_STALE_MS, type DisplayConfig, type ServedConfig } from './page/config.js';
export { screenOf, clockTime, siteName, BODY_SITE_SHORT, type ScreenView, type VerdictView, type VerdictKind, type BannerView, type HistoryItemView, type SessionView } from './page/view_model.js';
export { initialState, onLesion, onSnapshot, onStatus, onBroker, onSessionCommand, currentSession, pendingSession, overlaySource, frameRate, type DisplayState, type HistoryEntry } from './page/display_state.js';
export { fitContain, toCanvas, polygonToCanvas, boxToCanvas, OVERLAY, type Rect } from './page/overlay.js';
export { formatPercent, probabilityView, variationText, type ProbabilityView, type ThresholdScale } from './page/probability_view.js';
export { sessionSetCommand, sessionSetTopic, asSessionCommand, PATIENT_REF_MAX } from './page/session_command.js';
export { SESSION_SET_SCHEMA_ID, SESSION_SET_SCHEMA_VERSION, type LesionMessageView, type EpisodeSummary, type SessionContext, type SessionSetCommand, type OperatingPointOnWire } from './page/contract.js';
