export { createKeys, type Keys } from './keys.js';
export { createRedis, type CreateRedisOptions } from './redis.js';
export { StoreError, type StoreErrorCode } from './errors.js';
export type { CommitResult } from './results.js';
export type { RedisClient } from './scripts.js';
export { parseRecord } from './record.js';
export { RunStore, type RunStoreOptions, type CreateResult, type CommitRequest, type RecentRuns } from './store.js';
