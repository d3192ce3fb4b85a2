export * from './frame.js';
export * from './detection.js';
export * from './lesion_event.js';
export * from './episode.js';
export * from './body_sites.js';
