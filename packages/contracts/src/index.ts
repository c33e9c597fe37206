export * from './run.js';
export * from './ids.js';
export * from './events.js';
export * from './jobs.js';
export * from './errors.js';
export * from './tools.js';
export * from './http.js';
export * from './webhooks.js';
