import type { Logger } from '@sup/logging';
import { evictionPolicy, replicationSettings, type RedisClient, type RedisMode } from '@sup/run-store';
import type { Redis } from 'ioredis';

/**
 * Start-up checks of the Redis deployment against what the system needs. Each problem found is
 * logged once at warn and kept as a line for /healthz `warnings`. A check Redis cannot answer yet
 * (down at start-up) is logged and run again on the next `ready`.
 */
export class RedisChecks {
  private readonly found = new Map<string, string>();

  constructor(private readonly redis: RedisClient, private readonly mode: RedisMode, private readonly log: Logger) {}

  /** /healthz `warnings`, in the order the checks found them. */
  warnings(): string[] {
    return [...this.found.values()];
  }

  async run(): Promise<void> {
    await Promise.all([this.eviction(), ...(this.mode === 'sentinel' ? [this.replication()] : [])]);
  }

  private retryOnReady(name: string, check: () => Promise<void>, err: unknown): void {
    this.log.warn(`${name}_unknown`, { error: (err as Error).message });
    this.redis.once('ready', () => void check());
  }

  /** BullMQ loses jobs under any evicting policy (the MVP ran allkeys-lru): say so loudly. */
  private async eviction(): Promise<void> {
    try {
      const policy = await evictionPolicy(this.redis); // every master of a Cluster
      if (!policy || policy === 'noeviction') return;
      this.log.warn('redis_eviction_policy', { policy, expected: 'noeviction', consequence: 'queued jobs can be evicted and runs lost' });
      this.found.set('eviction', `redis maxmemory-policy is ${policy}; BullMQ needs noeviction`);
    } catch (err) {
      this.retryOnReady('redis_eviction_policy', () => this.eviction(), err);
    }
  }

  /**
   * Behind Sentinel, replication is asynchronous and the old master is not fenced: without
   * min-replicas-to-write a failover can drop runs already answered 202; with fewer replicas than
   * the setting survives losing a node, writes stop after a failover (docs/deployment.md).
   */
  private async replication(): Promise<void> {
    try {
      const { minReplicasToWrite: min, replicas } = await replicationSettings(this.redis as Redis);
      if (min === 0) {
        this.log.warn('redis_replication_unsafe', { min_replicas_to_write: min, replicas, consequence: 'a failover can lose accepted runs' });
        this.found.set('replication', 'redis min-replicas-to-write is 0 behind Sentinel: a failover can lose accepted runs (docs/deployment.md#redis-sentinel)');
      } else if (replicas <= min) {
        this.log.warn('redis_replication_fragile', { min_replicas_to_write: min, replicas, consequence: 'writes stop after a failover until the old master is back' });
        const now = replicas < min ? 'it refuses writes now, and ' : '';
        this.found.set('replication', `redis master has ${replicas} replica(s) and min-replicas-to-write ${min}: ${now}after a failover the new master refuses writes until the old one is back; run ${min + 1} replicas (docs/deployment.md#redis-sentinel)`);
      }
    } catch (err) {
      this.retryOnReady('redis_replication', () => this.replication(), err);
    }
  }
}
