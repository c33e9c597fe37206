import { isTerminal, type RunRecord, type RunStatus } from '@sup/contracts';
import { StoreError } from './errors.js';
import type { Keys } from './keys.js';
import { parseRecord } from './record.js';
import type { RedisClient } from './scripts.js';

/**
 * A place in the listing order: created ms descending, then run id descending (the order Redis
 * keeps members of equal score in, reversed). Exclusive on both, so runs created in the same
 * millisecond are neither skipped nor repeated across pages.
 */
export interface ListPosition {
  score: number;
  id: string;
}

export interface ListQuery {
  limit: number;
  after?: ListPosition;
  graph?: string;
  agentId?: string;
  status?: RunStatus;
  parentRunId?: string;
  scheduleId?: string;
  /**
   * Index entries examined at most per call, so a filter that matches rarely (status) answers in
   * bounded time: the page then holds fewer than `limit` runs and still has a `next`.
   */
  maxScan?: number;
}

export interface RunList {
  runs: RunRecord[];
  /** Where the next page starts; null when the index has nothing more. */
  next: ListPosition | null;
}

/** `from`: the sorted set it came from when not the walked index (runs:long). */
type Entry = { id: string; score: number; from?: string };

/** A sorted set's members and scores as ZRANGE… WITHSCORES answers them, flat. */
export function pairs(flat: string[]): Entry[] {
  const out: Entry[] = [];
  for (let i = 0; i + 1 < flat.length; i += 2) out.push({ id: flat[i]!, score: Number(flat[i + 1]) });
  return out;
}

/** Up to `count` entries strictly after `pos` in listing order. */
async function page(redis: RedisClient, key: string, pos: ListPosition | undefined, count: number): Promise<Entry[]> {
  if (!pos) return pairs(await redis.zrevrangebyscore(key, '+inf', '-inf', 'WITHSCORES', 'LIMIT', 0, count));
  // same-millisecond runs left on the cursor's score, then everything older
  const ties = pairs(await redis.zrevrangebyscore(key, pos.score, pos.score, 'WITHSCORES')).filter((e) => e.id < pos.id);
  if (ties.length >= count) return ties.slice(0, count);
  const older = pairs(await redis.zrevrangebyscore(key, `(${pos.score}`, '-inf', 'WITHSCORES', 'LIMIT', 0, count - ties.length));
  return [...ties, ...older];
}

const before = (a: Entry, b: Entry) => b.score - a.score || (a.id < b.id ? 1 : a.id > b.id ? -1 : 0);

/**
 * Up to `count` entries after `pos` of `key` and `extra` merged in listing order, each id once. The
 * merge ends early only where both sets did: at least max(|a|, |b|) distinct ids come back.
 */
async function mergedPage(redis: RedisClient, key: string, extra: string, pos: ListPosition | undefined, count: number): Promise<Entry[]> {
  const [a, b] = await Promise.all([page(redis, key, pos, count), page(redis, extra, pos, count)]);
  if (b.length === 0) return a;
  const seen = new Set(a.map((e) => e.id));
  const merged = [...a, ...b.filter((e) => !seen.has(e.id)).map((e) => ({ ...e, from: extra }))].sort(before);
  return merged.slice(0, count);
}

/**
 * Walks the live set for an unfinished status, else the smallest index that covers the query (the
 * global one, one per graph / agent / parent run / schedule) merged with `runs:long` (the runs the
 * indexes trimmed while they lived on), newest first, and checks the remaining conditions on the
 * records. Entries whose run expired are dropped on the way, so no KEYS/SCAN is ever needed.
 */
export async function listRuns(redis: RedisClient, keys: Keys, q: ListQuery): Promise<RunList> {
  const candidates: string[] = [];
  if (q.parentRunId) candidates.push(keys.indexBy('parent', q.parentRunId));
  if (q.scheduleId) candidates.push(keys.indexBy('schedule', q.scheduleId));
  if (q.agentId) candidates.push(keys.indexBy('agent', q.agentId));
  if (q.graph) candidates.push(keys.indexBy('graph', q.graph));
  let key = keys.index;
  // runs not finished yet are all in the live set, which nothing trims by age: the other indexes
  // drop entries 2 × RUN_TTL_SEC after creation, and a run waiting longer (kept alive by
  // housekeeping) is in none of them any more. Usually far smaller than the index, too. Elsewhere
  // runs:long supplies those (and such runs once finished): housekeeping copies them there in time.
  if (q.status && !isTerminal(q.status)) key = keys.live;
  else if (candidates.length === 1) key = candidates[0]!;
  else if (candidates.length > 1) {
    const sizes = await Promise.all(candidates.map((k) => redis.zcard(k)));
    key = candidates[sizes.indexOf(Math.min(...sizes))]!;
  }
  const matches = (r: RunRecord) =>
    (!q.graph || r.graph === q.graph) && (!q.agentId || r.agent_id === q.agentId) && (!q.status || r.status === q.status) &&
    (!q.parentRunId || r.parent_run_id === q.parentRunId) && (!q.scheduleId || r.trigger?.schedule_id === q.scheduleId);
  const filtered = candidates.length > 1 || q.status !== undefined;
  const maxScan = q.maxScan ?? Math.max(q.limit * 10, 500);
  // one extra entry tells whether a next page exists when every entry is a match
  const batch = filtered ? Math.min(Math.max(q.limit * 2, 50), 500) : q.limit + 1;

  const runs: RunRecord[] = [];
  let pos = q.after;
  let scanned = 0;
  for (;;) {
    const want = Math.min(batch, maxScan - scanned);
    const entries = key === keys.live ? await page(redis, key, pos, want) : await mergedPage(redis, key, keys.long, pos, want);
    if (entries.length === 0) return { runs, next: null };
    const values = await redis.mget(entries.map((e) => keys.run(e.id)));
    const gone: Entry[] = [];
    for (let i = 0; i < entries.length; i++) {
      const e = entries[i]!;
      const raw = values[i];
      if (runs.length === q.limit) {
        await dropExpired(redis, keys, key, gone);
        return { runs, next: pos ?? null };
      }
      scanned++;
      pos = { score: e.score, id: e.id };
      if (raw === null || raw === undefined) {
        gone.push(e);
        continue;
      }
      try {
        const rec = parseRecord(raw, e.id);
        if (matches(rec)) runs.push(rec);
      } catch (err) {
        // a hand-broken record must not break the listing; GET /v1/runs/{id} reports it
        if (!(err instanceof StoreError)) throw err;
      }
    }
    await dropExpired(redis, keys, key, gone);
    if (entries.length < want) return { runs, next: null };
    if (runs.length === q.limit || scanned >= maxScan) return { runs, next: pos ?? null };
  }
}

/**
 * Drops entries of runs that expired from the set each came from (`index` unless it says). MGET also
 * answers nil for a key of another type (an operator's mistake, which GET /v1/runs/{id} reports):
 * such a run is not gone, its entry stays. Returns how many entries went.
 */
export async function dropExpired(redis: RedisClient, keys: Keys, index: string, entries: readonly Pick<Entry, 'id' | 'from'>[]): Promise<number> {
  if (entries.length === 0) return 0;
  const exists = (await redis.pipeline(entries.map((e) => ['exists', keys.run(e.id)])).exec()) ?? [];
  const gone = entries.filter((_, i) => exists[i]?.[1] === 0);
  if (gone.length === 0) return 0;
  const drop = redis.pipeline();
  for (const from of new Set(gone.map((e) => e.from ?? index))) drop.zrem(from, ...gone.filter((e) => (e.from ?? index) === from).map((e) => e.id));
  return ((await drop.exec()) ?? []).reduce((n, [, removed]) => n + Number(removed ?? 0), 0);
}
