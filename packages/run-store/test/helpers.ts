import { randomBytes } from 'node:crypto';
import { event, newRunId, type RunRecord } from '@sup/contracts';
import { Redis } from 'ioredis';
import { createRedis } from '../src/redis.js';

export const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';

export function uniquePrefix(hashTag = false): string {
  const id = `t-runstore-${randomBytes(6).toString('hex')}`;
  return hashTag ? `{${id}}:` : `${id}:`;
}

export function connect(name = 'run-store-test'): Redis {
  return createRedis(REDIS_URL, { name });
}

/** Deletes every key under the prefix (SCAN, never KEYS); '*' '?' '[' do not occur in our prefixes. */
export async function cleanup(redis: Redis, prefix: string): Promise<void> {
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 500);
    if (keys.length > 0) await redis.del(...keys);
    cursor = next;
  } while (cursor !== '0');
}

export function makeRecord(over: Partial<RunRecord> = {}): RunRecord {
  const ts = new Date().toISOString();
  return {
    run_id: newRunId(), graph: 'release_check', agent_id: 'sofiia', status: 'queued', current_node: null,
    created_at: ts, started_at: null, finished_at: null, updated_at: ts, attempt: 0,
    input: {}, result: null, error: null, nodes: [], lease: null, snapshot: null,
    ...over,
  };
}

export const created = () => event('run_created', undefined, { graph: 'release_check' });
