export * from './parse.js';
export * from './schemas.js';
export * from './redis.js';
