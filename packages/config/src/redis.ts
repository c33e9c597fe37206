import { z } from 'zod';

export interface HostPort {
  host: string;
  port: number;
}

const DEFAULT_REDIS_URL = 'redis://127.0.0.1:6379';
const PORT_RANGE = 'a port between 1 and 65535';

/**
 * What is wrong with a REDIS_URL, or null. ioredis would throw a bare `TypeError: Invalid URL` (with
 * its stack) on a URL that does not parse, and send `SELECT NaN` for a db that is not a number.
 */
export function redisUrlProblem(s: string): string | null {
  const shape = 'expected redis://[user:password@]host[:port][/db] or rediss://';
  if (!/^rediss?:\/\//.test(s)) return shape;
  if (!URL.canParse(s)) {
    // name the usual culprit: a port that is not a number or out of range
    const port = /^rediss?:\/\/(?:[^@/?#]*@)?(?:\[[^\]/]*\]|[^:/?#[\]]*):([^/?#]*)/.exec(s)?.[1];
    return port !== undefined && !/^\d{1,5}$/.test(port) ? `the port "${port}" is not ${PORT_RANGE}`
      : port !== undefined && Number(port) > 65_535 ? `the port ${port} is not ${PORT_RANGE}` : `not a URL: ${shape}`;
  }
  const u = new URL(s);
  if (!u.hostname || u.hostname === '[]') return `no host: ${shape}`;
  if (u.port === '0') return `the port 0 is not ${PORT_RANGE}`;
  // the db is the path (`/2`), or else a `db` query parameter (ioredis reads both)
  const db = u.pathname.length > 1 ? u.pathname.slice(1) : u.searchParams.get('db');
  if (db !== null && !/^\d+$/.test(db)) return `the database "${db}" is not a whole number (redis://host:port/0 .. /15 on a default Redis)`;
  return null;
}

export const redisUrl = z.string().optional().transform((v, ctx) => {
  const s = v || DEFAULT_REDIS_URL;
  const problem = redisUrlProblem(s);
  if (problem) {
    ctx.addIssue({ code: 'custom', message: problem });
    return z.NEVER;
  }
  return s;
});

/**
 * `host:port,host:port` (IPv6 as `[::1]:7000`); unset or empty = not used. A value without any
 * entry (`,`, blanks) is refused rather than read as "not used": it would quietly mean standalone.
 */
export const hostPortList = z.string().optional().transform((v, ctx) => {
  const out: HostPort[] = [];
  const items = (v ?? '').split(',').map((s) => s.trim()).filter(Boolean);
  if (v && items.length === 0) {
    ctx.addIssue({ code: 'custom', message: 'no host:port in it: list host:port entries, or unset it' });
    return z.NEVER;
  }
  for (const item of items) {
    const m = /^\[([^\]]+)\]:(\d+)$/.exec(item) ?? /^([^:\s[\]]+):(\d+)$/.exec(item);
    const port = m ? Number(m[2]) : 0;
    if (!m || port < 1 || port > 65_535) {
      ctx.addIssue({ code: 'custom', message: `expected comma-separated host:port entries (${PORT_RANGE}), got "${item}"` });
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
  REDIS_SENTINEL_NAME: z.string().optional().transform((v) => v || 'mymaster'),
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
