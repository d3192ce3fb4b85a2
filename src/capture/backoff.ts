/** The project's one back-off lives in src/shared/backoff.ts (capture re-opens, MQTT reconnects and publish retries use it). */
export * from '../shared/backoff.js';
