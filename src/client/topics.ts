/** The topic contract lives in src/types/topics.ts (publisher, subscribers and the display share it). */
export * from '../types/topics.js';
