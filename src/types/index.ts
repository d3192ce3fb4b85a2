export * from './frame.js';
export * from './detection.js';
export * from './lesion_event.js';
export * from './model_identity.js';
export * from './logger.js';
export * from './topics.js';
export * from './episode.js';
export * from './body_sites.js';
