export * from './parse.js';
export * from './schemas.js';
export * from './redis.js';
export { redactUrl } from './urls.js';
export { numericRange } from './values.js';
