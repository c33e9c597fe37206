import type { Logger } from '@sup/logging';
import { evictionPolicy, replicationSettings, type RedisClient, type RedisMode } from '@sup/run-store';
import type { Redis } from 'ioredis';

type Check = 'eviction' | 'replication';

/** Two cheap commands (CONFIG GET, INFO replication) a minute. */
const RECHECK_MS = 60_000;

/** A problem a check found: its warn line (event + fields) and the /healthz `warnings` text. */
interface Problem {
  event: string;
  fields: Record<string, unknown>;
  text: string;
}

/**
 * Checks of the Redis deployment against what the system needs, at start-up, after every reconnect
 * (behind Sentinel a reconnect may land on a new master, with its own settings) and every minute (an
 * operator's fix shows without a restart). A problem is logged at warn when it appears or changes,
 * kept for /healthz `warnings` while it lasts, and dropped (logged at info) when a later check finds
 * it gone. A check Redis cannot answer (down, or CONFIG refused by a managed service) is logged once
 * as `<event>_unknown` and keeps being tried.
 */
export class RedisChecks {
  private readonly found = new Map<Check, string>();
  /** Checks whose last run Redis could not answer (logged once, not every minute). */
  private readonly unknown = new Set<Check>();

  constructor(private readonly redis: RedisClient, private readonly mode: RedisMode, private readonly log: Logger) {}

  /** /healthz `warnings`, in the order the checks found them. */
  warnings(): string[] {
    return [...this.found.values()];
  }

  /** Runs the checks now, on every later `ready` of the connection and every RECHECK_MS. */
  async start(): Promise<void> {
    this.redis.on('ready', () => void this.run());
    setInterval(() => void this.run(), RECHECK_MS).unref();
    await this.run();
  }

  async run(): Promise<void> {
    await Promise.all([
      this.check('eviction', 'redis_eviction_policy', () => this.eviction()),
      ...(this.mode === 'sentinel' ? [this.check('replication', 'redis_replication', () => this.replication())] : []),
    ]);
  }

  private async check(name: Check, event: string, find: () => Promise<Problem | null>): Promise<void> {
    let problem: Problem | null;
    try {
      problem = await find();
    } catch (err) {
      if (!this.unknown.has(name)) this.log.warn(`${event}_unknown`, { error: (err as Error).message });
      this.unknown.add(name);
      return;
    }
    this.unknown.delete(name);
    const before = this.found.get(name);
    if (!problem) {
      if (before === undefined) return;
      this.found.delete(name);
      this.log.info('redis_check_ok', { check: name });
      return;
    }
    if (before !== problem.text) this.log.warn(problem.event, problem.fields);
    this.found.set(name, problem.text);
  }

  /** BullMQ loses jobs under any evicting policy (the MVP ran allkeys-lru): say so loudly. */
  private async eviction(): Promise<Problem | null> {
    const policy = await evictionPolicy(this.redis); // every master of a Cluster
    if (!policy || policy === 'noeviction') return null;
    return {
      event: 'redis_eviction_policy',
      fields: { policy, expected: 'noeviction', consequence: 'queued jobs can be evicted and runs lost' },
      text: `redis maxmemory-policy is ${policy}; BullMQ needs noeviction`,
    };
  }

  /**
   * Behind Sentinel, replication is asynchronous and the old master is not fenced: without
   * min-replicas-to-write a failover can drop runs already answered 202; with fewer replicas than
   * the setting survives losing a node, writes stop after a failover (docs/deployment.md).
   */
  private async replication(): Promise<Problem | null> {
    const { minReplicasToWrite: min, replicas } = await replicationSettings(this.redis as Redis);
    const fields = { min_replicas_to_write: min, replicas };
    if (min === 0) {
      return {
        event: 'redis_replication_unsafe',
        fields: { ...fields, consequence: 'a failover can lose accepted runs' },
        text: 'redis min-replicas-to-write is 0 behind Sentinel: a failover can lose accepted runs (docs/deployment.md#redis-sentinel)',
      };
    }
    if (replicas > min) return null;
    const now = replicas < min ? 'it refuses writes now, and ' : '';
    return {
      event: 'redis_replication_fragile',
      fields: { ...fields, consequence: 'writes stop after a failover until the old master is back' },
      text: `redis master has ${replicas} replica(s) and min-replicas-to-write ${min}: ${now}after a failover the new master refuses writes until the old one is back; run ${min + 1} replicas (docs/deployment.md#redis-sentinel)`,
    };
  }
}
