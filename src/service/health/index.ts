export { HealthState, CHECKS, type CheckName, type CheckStatus, type HealthSnapshot } from './health_state.js';
export { Metrics, LATENCY_BUCKETS_MS, CAMERA_STATES, type CameraStateName, type ModelInfoLabels, type Totals } from './metrics.js';
export { startHealthServer, type HealthServer, type HealthServerOptions } from './server.js';
export { ServiceMonitor, type ServiceMonitorOptions, type MonitorHooks, type ModelIdentityLike, type ProcessedEventLike } from './monitor.js';
