import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { event, type RunRecord } from '@sup/contracts';
import type { Redis } from 'ioredis';
import type { ListPosition, ListQuery } from '../src/list.js';
import { RunStore } from '../src/store.js';
import { cleanup, connect, makeRecord, uniquePrefix } from './helpers.js';

const TTL = 600;
const prefix = uniquePrefix(true);
let redis: Redis;
let store: RunStore;

beforeAll(() => {
  redis = connect('run-store-list-test');
  store = new RunStore({ redis, prefix, ttlSec: TTL });
});
afterAll(async () => {
  await cleanup(redis, prefix);
  await redis.quit();
});

/** Every page of a query, as the API's cursor walk does it. */
async function walk(s: RunStore, q: Omit<ListQuery, 'after'>): Promise<{ ids: string[]; pages: number; sizes: number[] }> {
  const ids: string[] = [];
  const sizes: number[] = [];
  let after: ListPosition | undefined;
  for (let pages = 1; pages < 1000; pages++) {
    const res = await s.list({ ...q, ...(after ? { after } : {}) });
    ids.push(...res.runs.map((r) => r.run_id));
    sizes.push(res.runs.length);
    if (!res.next) return { ids, pages, sizes };
    after = res.next;
  }
  throw new Error('cursor walk does not end');
}

const order = (recs: RunRecord[]) =>
  [...recs].sort((a, b) => Date.parse(b.created_at) - Date.parse(a.created_at) || (a.run_id < b.run_id ? 1 : -1)).map((r) => r.run_id);

describe('list: cursor over (created ms, run id)', () => {
  it('walks runs created in the same millisecond without skipping or repeating one', async () => {
    const s = new RunStore({ redis, prefix: `${prefix}ties:`, ttlSec: TTL });
    const same = new Date(Date.now() - 5_000).toISOString();
    const recs = [
      ...Array.from({ length: 23 }, () => makeRecord({ created_at: same })),
      ...Array.from({ length: 6 }, (_, i) => makeRecord({ created_at: new Date(Date.now() - 1_000 + i).toISOString() })),
    ];
    for (const r of recs) await s.create(r, { events: [] });
    for (const limit of [1, 4, 7, 29, 30]) {
      const { ids } = await walk(s, { limit });
      expect(ids).toEqual(order(recs));
    }
  });
});

describe('list: filters', () => {
  const s = () => new RunStore({ redis, prefix: `${prefix}filters:`, ttlSec: TTL });
  const parent = makeRecord({ graph: 'postmortem_draft', agent_id: 'ops' });
  const recs = [
    parent,
    ...Array.from({ length: 5 }, () => makeRecord({ graph: 'incident_triage', agent_id: 'ops', parent_run_id: parent.run_id, trigger: { type: 'parent' } })),
    ...Array.from({ length: 7 }, () => makeRecord({ graph: 'release_check', agent_id: 'sofiia' })),
    ...Array.from({ length: 4 }, () => makeRecord({ graph: 'release_check', agent_id: 'ops' })),
    ...Array.from({ length: 3 }, () => makeRecord({ graph: 'release_check', agent_id: 'cron', trigger: { type: 'schedule', schedule_id: 'nightly' } })),
  ];
  beforeAll(async () => {
    for (const r of recs) await s().create(r, { events: [] });
    // a few finished ones for the status filter
    for (const r of recs.filter((_, i) => i % 3 === 0)) {
      const done = await s().commit(r.run_id, { ifStatus: ['queued'], record: { ...r, status: 'succeeded' } });
      expect(done.ok).toBe(true);
    }
  });
  const expected = (f: (r: RunRecord) => boolean) => order(recs.filter(f));

  it.each<[string, Omit<ListQuery, 'limit'>, (r: RunRecord) => boolean]>([
    ['graph', { graph: 'release_check' }, (r) => r.graph === 'release_check'],
    ['agent', { agentId: 'ops' }, (r) => r.agent_id === 'ops'],
    ['graph + agent', { graph: 'release_check', agentId: 'ops' }, (r) => r.graph === 'release_check' && r.agent_id === 'ops'],
    ['parent run', { parentRunId: parent.run_id }, (r) => r.parent_run_id === parent.run_id],
    ['schedule', { scheduleId: 'nightly' }, (r) => r.trigger?.schedule_id === 'nightly'],
    ['status', { status: 'succeeded' }, (r) => recs.indexOf(r) % 3 === 0],
    ['status + agent', { status: 'queued', agentId: 'ops' }, (r) => recs.indexOf(r) % 3 !== 0 && r.agent_id === 'ops'],
  ])('by %s, across pages', async (_name, q, f) => {
    const { ids } = await walk(s(), { ...q, limit: 2 });
    expect(ids).toEqual(expected(f));
  });

  it('walks the live set for an unfinished status: full pages, however many finished runs lie between', async () => {
    const { ids, sizes } = await walk(s(), { status: 'queued', limit: 2, maxScan: 2 });
    expect(ids).toEqual(expected((r) => recs.indexOf(r) % 3 !== 0));
    expect(sizes.slice(0, -1).every((n) => n === 2)).toBe(true);
    // the index walk with the same bound comes back with short pages
    const viaIndex = await walk(s(), { status: 'succeeded', limit: 2, maxScan: 2 });
    expect(viaIndex.sizes.some((n) => n < 2)).toBe(true);
  });

  it('keeps one sorted set per graph, agent and parent, expiring 2 × TTL after its newest run', async () => {
    const k = s().keys;
    expect(await redis.zcard(k.indexBy('graph', 'release_check'))).toBe(14);
    expect(await redis.zcard(k.indexBy('schedule', 'nightly'))).toBe(3);
    expect(await redis.zcard(k.indexBy('agent', 'sofiia'))).toBe(7);
    expect(await redis.zcard(k.indexBy('parent', parent.run_id))).toBe(5);
    for (const key of [k.indexBy('graph', 'release_check'), k.indexBy('agent', 'ops'), k.indexBy('parent', parent.run_id)]) {
      const ttl = await redis.ttl(key);
      expect(ttl).toBeGreaterThan(TTL);
      expect(ttl).toBeLessThanOrEqual(2 * TTL);
    }
  });

  it('bounds the scan of a rare status: fewer than limit, with a cursor that goes on', async () => {
    const res = await s().list({ status: 'succeeded', limit: 10, maxScan: 3 });
    expect(res.runs.length).toBeLessThan(10);
    expect(res.next).not.toBeNull();
    const { ids, sizes } = await walk(s(), { status: 'succeeded', limit: 10, maxScan: 3 });
    expect(ids).toEqual(expected((r) => recs.indexOf(r) % 3 === 0));
    expect(sizes.some((n) => n < 10)).toBe(true);
  });
});

describe('list: index upkeep', () => {
  it('trims index entries older than twice the TTL when a run is created', async () => {
    const s = new RunStore({ redis, prefix: `${prefix}trim:`, ttlSec: 60 });
    const old = makeRecord({ graph: 'g1', created_at: new Date(Date.now() - 121_000).toISOString() });
    await s.create(old, { events: [] });
    expect(await redis.zscore(s.keys.indexBy('graph', 'g1'), old.run_id)).not.toBeNull();
    await s.create(makeRecord({ graph: 'g1' }), { events: [] });
    expect(await redis.zscore(s.keys.indexBy('graph', 'g1'), old.run_id)).toBeNull();
    expect(await redis.zscore(s.keys.index, old.run_id)).toBeNull();
    expect(await redis.ttl(s.keys.indexBy('graph', 'g1'))).toBeGreaterThan(60);
  });

  it('keeps listing a run created more than a TTL ago that still exists (it took long; its record expires from its last write)', async () => {
    const s = new RunStore({ redis, prefix: `${prefix}long:`, ttlSec: 60 });
    const long = makeRecord({ graph: 'g1', created_at: new Date(Date.now() - 90_000).toISOString() });
    await s.create(long, { events: [] });
    await s.create(makeRecord({ graph: 'g1' }), { events: [] });
    expect((await s.list({ graph: 'g1', limit: 10 })).runs.map((r) => r.run_id)).toContain(long.run_id);
    expect((await s.list({ limit: 10 })).runs.map((r) => r.run_id)).toContain(long.run_id);
  });

  it('finds an unfinished run by status even once the indexes trimmed it (waiting past 2 × TTL), whatever other filter is given', async () => {
    const s = new RunStore({ redis, prefix: `${prefix}kept:`, ttlSec: 60 });
    const kept = makeRecord({ graph: 'g1', agent_id: 'ops' });
    await s.create(kept, { events: [] });
    // what create.lua's trim does to a run created more than 2 × TTL ago
    for (const key of [s.keys.index, s.keys.indexBy('graph', 'g1'), s.keys.indexBy('agent', 'ops')]) await redis.zrem(key, kept.run_id);
    await s.create(makeRecord({ graph: 'g1', agent_id: 'ops', status: 'succeeded' }), { events: [] });
    for (const q of [{ status: 'queued' }, { status: 'queued', agentId: 'ops' }, { status: 'queued', graph: 'g1', agentId: 'ops' }] as const) {
      expect([q, (await s.list({ ...q, limit: 10 })).runs.map((r) => r.run_id)]).toEqual([q, [kept.run_id]]);
    }
    expect((await s.list({ status: 'queued', agentId: 'someone-else', limit: 10 })).runs).toEqual([]);
  });

  it('merges runs:long into every walk of the indexes: in order, each run once, across pages; drops its gone entries', async () => {
    const s = new RunStore({ redis, prefix: `${prefix}merge:`, ttlSec: TTL });
    const recs = Array.from({ length: 12 }, (_, i) => makeRecord({ agent_id: 'm', created_at: new Date(Date.now() - 10_000 + (i % 6)).toISOString() }));
    for (const r of recs) await s.create(r, { events: [] });
    // four left the indexes (a trim), two are in both; what keepListed leaves behind
    for (const [i, r] of recs.slice(0, 6).entries()) {
      await redis.zadd(s.keys.long, Date.parse(r.created_at), r.run_id);
      if (i < 4) for (const key of [s.keys.index, s.keys.indexBy('agent', 'm')]) await redis.zrem(key, r.run_id);
    }
    for (const limit of [1, 3, 5, 12, 13]) {
      expect([limit, (await walk(s, { limit })).ids]).toEqual([limit, order(recs)]);
      expect([limit, (await walk(s, { limit, agentId: 'm' })).ids]).toEqual([limit, order(recs)]);
    }
    await redis.del(s.keys.run(recs[0]!.run_id));
    expect((await walk(s, { limit: 5 })).ids).toEqual(order(recs.slice(1)));
    expect(await redis.zscore(s.keys.long, recs[0]!.run_id)).toBeNull();
  });

  it('keepListed copies every live run older than a TTL into runs:long, also when more than `max` of them are live', async () => {
    const s = new RunStore({ redis, prefix: `${prefix}keep:`, ttlSec: 60 });
    const now = Date.now();
    // five runs waiting for 2 to 3 minutes, and two that cross the TTL a minute later
    const old = Array.from({ length: 5 }, (_, i) => makeRecord({ created_at: new Date(now - 180_000 + i * 1000).toISOString() }));
    const later = Array.from({ length: 2 }, (_, i) => makeRecord({ created_at: new Date(now - 30_000 + i * 1000).toISOString() }));
    for (const r of [...old, ...later]) await s.create(r, { events: [] });
    const long = async () => (await redis.zrange(s.keys.long, '0', '-1')).sort();
    expect(await s.keepListed(now, 3)).toEqual({ added: 3, dropped: 0 });
    expect(await s.keepListed(now, 3)).toEqual({ added: 2, dropped: 0 });
    expect(await long()).toEqual(old.map((r) => r.run_id).sort());
    expect((await s.keepListed(now + 60_000, 3)).added).toBe(2);
    expect(await long()).toEqual([...old, ...later].map((r) => r.run_id).sort());
    // created by a host whose clock is 3 min behind: its score is below the newest one copied
    const behind = makeRecord({ created_at: new Date(now - 120_000).toISOString() });
    await s.create(behind, { events: [] });
    expect((await s.keepListed(now + 60_000, 10)).added).toBe(1);
    expect(await redis.zscore(s.keys.long, behind.run_id)).not.toBeNull();
  });

  it('drops entries of runs that are gone from the index it walked', async () => {
    const s = new RunStore({ redis, prefix: `${prefix}gone:`, ttlSec: TTL });
    const [a, b] = [makeRecord({ agent_id: 'x' }), makeRecord({ agent_id: 'x' })];
    await s.create(a!, { events: [] });
    await s.create(b!, { events: [] });
    await redis.del(s.keys.run(a!.run_id));
    expect((await s.list({ agentId: 'x', limit: 10 })).runs.map((r) => r.run_id)).toEqual([b!.run_id]);
    expect(await redis.zscore(s.keys.indexBy('agent', 'x'), a!.run_id)).toBeNull();
  });
});

describe('events channel', () => {
  it('publishes the run id when a commit appends events, and only then', async () => {
    const rec = makeRecord();
    await store.create(rec, { events: [] });
    const sub = redis.duplicate();
    const got: string[] = [];
    sub.on('message', (_ch: string, msg: string) => got.push(msg));
    await sub.subscribe(store.keys.eventsChannel);
    try {
      expect((await store.commit(rec.run_id, { ifStatus: ['queued'], record: { ...rec, attempt: 1 } })).ok).toBe(true);
      expect((await store.commit(rec.run_id, { ifStatus: ['queued'], record: rec, events: [event('run_started')] })).ok).toBe(true);
      // a PING on the same connection answers after every message published before it
      await sub.ping();
      expect(got).toEqual([rec.run_id]);
    } finally {
      sub.disconnect();
    }
  });
});
