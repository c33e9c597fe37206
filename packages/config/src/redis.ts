import { z } from 'zod';

export interface HostPort {
  host: string;
  port: number;
}

/** `host:port,host:port` (IPv6 as `[::1]:7000`); empty = not used. */
export const hostPortList = z.string().optional().transform((v, ctx) => {
  const out: HostPort[] = [];
  for (const item of (v ?? '').split(',').map((s) => s.trim()).filter(Boolean)) {
    const m = /^\[([^\]]+)\]:(\d+)$/.exec(item) ?? /^([^:\s[\]]+):(\d+)$/.exec(item);
    const port = m ? Number(m[2]) : 0;
    if (!m || port < 1 || port > 65_535) {
      ctx.addIssue({ code: 'custom', message: `expected comma-separated host:port entries, got "${item}"` });
      return z.NEVER;
    }
    out.push({ host: m[1]!, port });
  }
  return out;
});

/**
 * Which Redis deployment to talk to. Standalone (`REDIS_URL`) is the default; a Cluster or a
 * Sentinel-managed master is chosen by configuration alone.
 */
export const redisTopologyVars = {
  /** Seed nodes of a Redis Cluster; the rest of the cluster is discovered from them. */
  REDIS_CLUSTER_NODES: hostPortList,
  /** Sentinels watching the master named REDIS_SENTINEL_NAME. */
  REDIS_SENTINELS: hostPortList,
  REDIS_SENTINEL_NAME: z.string().default('mymaster'),
  /** Password of the cluster nodes / the sentinel-managed master (REDIS_URL carries its own). */
  REDIS_PASSWORD: z.string().default(''),
};

export interface RedisTopologyEnv {
  REDIS_URL: string;
  KEY_PREFIX: string;
  REDIS_CLUSTER_NODES: HostPort[];
  REDIS_SENTINELS: HostPort[];
  REDIS_SENTINEL_NAME: string;
  REDIS_PASSWORD: string;
}

/**
 * Redis hashes only the part between the first `{` and the next `}` of a key. When the prefix
 * opens with such a tag, every key built on it — run record, events, index, BullMQ's queue keys —
 * lands in one slot, which the multi-key Lua scripts (ours and BullMQ's) require.
 */
export function hasLeadingHashTag(prefix: string): boolean {
  return /^[^{]*\{[^}]+\}/.test(prefix);
}

/** Cross-field checks of the Redis variables; added to each app's schema with superRefine. */
export function checkRedisTopology(env: RedisTopologyEnv, ctx: z.RefinementCtx): void {
  if (env.REDIS_CLUSTER_NODES.length > 0 && env.REDIS_SENTINELS.length > 0) {
    ctx.addIssue({ code: 'custom', path: ['REDIS_SENTINELS'], message: 'set either REDIS_CLUSTER_NODES or REDIS_SENTINELS, not both' });
  }
  if (env.REDIS_CLUSTER_NODES.length > 0 && !hasLeadingHashTag(env.KEY_PREFIX)) {
    ctx.addIssue({
      code: 'custom', path: ['KEY_PREFIX'],
      message: 'with REDIS_CLUSTER_NODES set, KEY_PREFIX must contain a hash tag such as "{sup}:" so every key of a run and the queue share one Cluster slot',
    });
  }
}
