export { createKeys, type Keys, type IndexField } from './keys.js';
export { createRedis, type CreateRedisOptions } from './redis.js';
export { connectRedis, evictionPolicy, redisMode, replicationSettings, type RedisMode, type RedisTopology } from './topology.js';
export { StoreError, type StoreErrorCode } from './errors.js';
export type { CommitResult } from './results.js';
export type { RedisClient } from './scripts.js';
export { parseRecord } from './record.js';
export { RunStore, type RunStoreOptions, type CreateResult, type CommitRequest, type RunStats } from './store.js';
export type { ListPosition, ListQuery, RunList } from './list.js';
