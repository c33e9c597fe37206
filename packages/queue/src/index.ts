export * from './queue.js';
export * from './submit.js';
export * from './cancel.js';
export * from './webhooks.js';
export * from './housekeeping.js';
