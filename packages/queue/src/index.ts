export * from './queue.js';
export * from './submit.js';
