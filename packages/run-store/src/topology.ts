import { Cluster, Redis } from 'ioredis';
import { coalesceWrites } from './coalesce.js';
import { createRedis, type CreateRedisOptions } from './redis.js';
import type { RedisClient } from './scripts.js';

/** The Redis variables of packages/config (structural, so this package needs no config dependency). */
export interface RedisTopology {
  REDIS_URL: string;
  REDIS_CLUSTER_NODES: ReadonlyArray<{ host: string; port: number }>;
  REDIS_SENTINELS: ReadonlyArray<{ host: string; port: number }>;
  REDIS_SENTINEL_NAME: string;
  REDIS_PASSWORD: string;
}

export type RedisMode = 'standalone' | 'cluster' | 'sentinel';

export function redisMode(t: RedisTopology): RedisMode {
  if (t.REDIS_CLUSTER_NODES.length > 0) return 'cluster';
  if (t.REDIS_SENTINELS.length > 0) return 'sentinel';
  return 'standalone';
}

/**
 * One connection to whichever Redis deployment the configuration names: a `Cluster` for
 * REDIS_CLUSTER_NODES, a sentinel-managed master for REDIS_SENTINELS, else REDIS_URL. The result
 * serves the run store, BullMQ (`forBullmq`) and pub/sub alike; ioredis routes each command (and
 * each Lua script, by its first key) to the node owning the slot.
 */
export function connectRedis(t: RedisTopology, opts: CreateRedisOptions): RedisClient {
  const mode = redisMode(t);
  if (mode === 'standalone') return createRedis(t.REDIS_URL, opts);
  const common = {
    connectionName: opts.name.replace(/[^\w.:-]/g, '-'),
    maxRetriesPerRequest: opts.forBullmq ? null : 3,
    ...(t.REDIS_PASSWORD ? { password: t.REDIS_PASSWORD } : {}),
  };
  if (mode === 'cluster') {
    const { enableOfflineQueue: _o, retryStrategy: _r, ...rest } = opts.options ?? {};
    const cluster = new Cluster(t.REDIS_CLUSTER_NODES.map((n) => ({ host: n.host, port: n.port })), {
      redisOptions: { ...common, ...rest },
      enableOfflineQueue: true,
    });
    if (opts.onError) {
      cluster.on('error', opts.onError);
      // one node failing is reported here; the cluster as a whole may still serve
      cluster.on('node error', (err: Error, node: string) => opts.onError!(new Error(`${node}: ${err.message}`)));
    }
    return opts.coalesceWrites ? coalesceWrites(cluster) : cluster;
  }
  const redis = new Redis({
    ...common,
    sentinels: t.REDIS_SENTINELS.map((s) => ({ host: s.host, port: s.port })),
    name: t.REDIS_SENTINEL_NAME,
    // subscribe to the sentinels' +switch-master, so a failover is followed at once
    failoverDetector: true,
    enableOfflineQueue: true,
    ...opts.options,
  });
  if (opts.onError) redis.on('error', opts.onError);
  return opts.coalesceWrites ? coalesceWrites(redis) : redis;
}

/**
 * `maxmemory-policy` of every master the client writes to (a Cluster has several); the first one
 * that is not `noeviction` wins, so a single misconfigured shard is reported. Throws when Redis
 * refuses CONFIG (some managed services do).
 */
export async function evictionPolicy(client: RedisClient): Promise<string | null> {
  await client.ping(); // a Cluster learns its nodes on connect
  const nodes: Array<Redis> = client instanceof Cluster ? client.nodes('master') : [client];
  let policy: string | null = null;
  for (const node of nodes) {
    const res = (await node.config('GET', 'maxmemory-policy')) as string[];
    const p = res[1] ?? null;
    if (p && p !== 'noeviction') return p;
    policy ??= p;
  }
  return policy;
}

const keySlots = new Map<string, number>();

/** How full Redis is: INFO memory's `used_memory` and `maxmemory` in bytes. */
export interface MemoryUse { used: number; max: number }

/**
 * Memory use of the master that holds `key` — on a Cluster, the one serving the deployment's slot
 * (its keys share a hash tag); the fullest master when that one is not known. Null when it has no
 * `maxmemory`, so there is nothing to be full against.
 */
export async function memoryUse(client: RedisClient, key: string): Promise<MemoryUse | null> {
  let nodes: Array<Redis> = [client as Redis];
  if (client instanceof Cluster) {
    // a key's slot never changes (which node serves it may): asked once per key, not per reading
    const slot = keySlots.get(key) ?? Number(await client.call('CLUSTER', 'KEYSLOT', key));
    keySlots.set(key, slot);
    const owner = client.slots[slot]?.[0];
    const masters = client.nodes('master');
    const mine = masters.filter((n) => `${n.options.host}:${n.options.port}` === owner);
    nodes = mine.length > 0 ? mine : masters;
  }
  let fullest: MemoryUse | null = null;
  for (const node of nodes) {
    const info = await node.info('memory');
    const used = Number(/^used_memory:(\d+)/m.exec(info)?.[1]);
    const max = Number(/^maxmemory:(\d+)/m.exec(info)?.[1]);
    if (!(max > 0) || !Number.isFinite(used)) continue;
    if (!fullest || used / max > fullest.used / fullest.max) fullest = { used, max };
  }
  return fullest;
}

/**
 * What the master behind a Sentinel set-up promises about replication: its `min-replicas-to-write`
 * and how many replicas are linked to it now (docs/deployment.md#redis-sentinel explains why both
 * matter). Throws when Redis refuses CONFIG.
 */
export async function replicationSettings(client: Redis): Promise<{ minReplicasToWrite: number; replicas: number }> {
  const res = (await client.config('GET', 'min-replicas-to-write')) as string[];
  const info = await client.info('replication');
  return {
    minReplicasToWrite: Number(res[1] ?? 0),
    replicas: Number(/^connected_slaves:(\d+)/m.exec(info)?.[1] ?? 0),
  };
}
