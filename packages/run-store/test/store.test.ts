import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { event, newRunId } from '@sup/contracts';
import type { Redis } from 'ioredis';
import { StoreError } from '../src/errors.js';
import { RunStore } from '../src/store.js';
import { cleanup, connect, created, makeRecord, uniquePrefix } from './helpers.js';

const TTL = 100;
// hash-tagged, as a Cluster deployment would configure it
const prefix = uniquePrefix(true);
let redis: Redis;
let other: Redis;
let store: RunStore;

beforeAll(() => {
  redis = connect();
  other = connect();
  store = new RunStore({ redis, prefix, ttlSec: TTL });
});

afterAll(async () => {
  await cleanup(redis, prefix);
  await Promise.all([redis.quit(), other.quit()]);
});

describe('create and get', () => {
  it('round-trips the record, arrays and nulls included', async () => {
    const rec = makeRecord({ input: { service: 'api', tags: [] }, metadata: { note: 'x' } });
    expect(await store.create(rec, { events: [created()] })).toEqual({ created: true, record: rec });
    expect(await store.get(rec.run_id)).toEqual(rec);
    expect(await redis.get(`${prefix}run:${rec.run_id}`)).toContain('"nodes":[]');
    expect(await store.get(newRunId())).toBeNull();
  });

  it('sets a TTL of at most ttlSec on the record and its events', async () => {
    const rec = makeRecord();
    await store.create(rec, { events: [created()] });
    const ttl = await store.ttl(rec.run_id);
    expect(ttl).toBeGreaterThan(0);
    expect(ttl).toBeLessThanOrEqual(TTL);
    const eventsTtl = await redis.ttl(store.keys.events(rec.run_id));
    expect(eventsTtl).toBeGreaterThan(0);
    expect(eventsTtl).toBeLessThanOrEqual(TTL);
  });

  it('refuses a run id that is taken', async () => {
    const rec = makeRecord();
    await store.create(rec, { events: [] });
    await expect(store.create({ ...rec, graph: 'other' }, { events: [] })).rejects.toMatchObject({ code: 'run_exists' });
    await expect(store.create(rec, { events: [] })).rejects.toBeInstanceOf(StoreError);
    expect((await store.get(rec.run_id))?.graph).toBe('release_check');
  });
});

describe('status', () => {
  it('reads the status from the head of the record, without the rest', async () => {
    const rec = makeRecord({ status: 'waiting' });
    await store.create(rec, { events: [created()] });
    expect(await store.status(rec.run_id)).toBe('waiting');
    // a record broken after its head: the status is still read, the whole record is not
    const key = `${prefix}run:${rec.run_id}`;
    await redis.set(key, `{"run_id":"${rec.run_id}","status":"failed","lease":null,"graph":"x",${'"pad":"y",'.repeat(100)} not JSON`);
    expect(await store.status(rec.run_id)).toBe('failed');
    await expect(store.get(rec.run_id)).rejects.toMatchObject({ code: 'corrupt_record' });
  });

  it('reads a hand-written record of another key order in full; null for a run that is gone', async () => {
    const rec = makeRecord();
    const key = `${prefix}run:${rec.run_id}`;
    await redis.set(key, JSON.stringify({ graph: 'x', status: 'succeeded', run_id: rec.run_id }));
    expect(await store.status(rec.run_id)).toBe('succeeded');
    await redis.set(key, JSON.stringify({ run_id: rec.run_id, status: 'sleeping' }));
    await expect(store.status(rec.run_id)).rejects.toMatchObject({ code: 'corrupt_record' });
    await redis.del(key);
    await redis.hset(key, 'status', 'running');
    await expect(store.status(rec.run_id)).rejects.toMatchObject({ code: 'corrupt_record' });
    expect(await store.status(newRunId())).toBeNull();
  });
});

describe('findEvent', () => {
  it('finds an entry of the run\'s log, not another run\'s or one beyond its end, and tells a log that is gone', async () => {
    const a = makeRecord();
    await store.create(a, { events: [created()] });
    const [ea] = await store.events(a.run_id);
    // what another run's log holds: ids are per stream, so one a millisecond later (two runs whose
    // events are written in the same millisecond share ids: that case cannot be told apart)
    const foreign = `${Number(ea!.id!.split('-')[0]) + 1}-0`;
    expect(await store.findEvent(a.run_id, ea!.id!)).toBe('found');
    expect(await store.findEvent(a.run_id, foreign)).toBe('not_found');
    expect(await store.findEvent(a.run_id, '18446744073709551615-18446744073709551615')).toBe('not_found');
    await expect(store.findEvent(a.run_id, '18446744073709551616-0')).rejects.toMatchObject({ code: 'bad_event_id' });
    await redis.del(store.keys.events(a.run_id));
    expect(await store.findEvent(a.run_id, ea!.id!)).toBe('no_log');
    await redis.set(store.keys.events(a.run_id), 'x');
    await expect(store.findEvent(a.run_id, ea!.id!)).rejects.toMatchObject({ code: 'corrupt_record' });
  });
});

describe('idempotency', () => {
  it('returns the first run for a repeated key, per agent', async () => {
    const first = makeRecord();
    const second = makeRecord();
    await store.create(first, { events: [created()], idempotencyKey: 'k1' });
    const again = await store.create(second, { events: [created()], idempotencyKey: 'k1' });
    expect(again).toEqual({ created: false, record: { ...first, idem: expect.stringMatching(/^[0-9a-f]{32}$/) } });
    expect(await store.get(second.run_id)).toBeNull();
    expect(await store.events(second.run_id)).toEqual([]);

    const otherAgent = makeRecord({ agent_id: 'someone-else' });
    expect((await store.create(otherAgent, { events: [], idempotencyKey: 'k1' })).created).toBe(true);
  });

  it('creates exactly one run when two clients race with the same key', async () => {
    const a = makeRecord();
    const b = makeRecord();
    const storeB = new RunStore({ redis: other, prefix, ttlSec: TTL });
    const results = await Promise.all([
      store.create(a, { events: [created()], idempotencyKey: 'race' }),
      storeB.create(b, { events: [created()], idempotencyKey: 'race' }),
    ]);
    expect(results.filter((r) => r.created)).toHaveLength(1);
    const winner = results.find((r) => r.created)!.record.run_id;
    expect(results.map((r) => r.record.run_id)).toEqual([winner, winner]);
  });

  it('keeps the key for twice the TTL: a run that takes longer than a TTL still holds it', async () => {
    const first = makeRecord();
    await store.create(first, { events: [], idempotencyKey: 'k-long' });
    const ttl = await redis.ttl(store.keys.idem(first.agent_id, 'k-long'));
    expect(ttl).toBeGreaterThan(TTL);
    expect(ttl).toBeLessThanOrEqual(2 * TTL);
  });

  it('frees the key once the run it names is gone', async () => {
    const first = makeRecord();
    await store.create(first, { events: [], idempotencyKey: 'k2' });
    await redis.del(store.keys.run(first.run_id), store.keys.events(first.run_id)); // the runbook's DEL
    const next = makeRecord();
    expect(await store.create(next, { events: [], idempotencyKey: 'k2' })).toEqual({ created: true, record: { ...next, idem: expect.any(String) } });
  });

  it('every commit keeps the key as long as the record: a run older than 2 × TTL still holds it', async () => {
    const first = makeRecord();
    const made = await store.create(first, { events: [], idempotencyKey: 'k-lives' });
    const key = store.keys.idem(first.agent_id, 'k-lives');
    // as if 2 × TTL had nearly passed since the create while the run kept writing (a long wait)
    await redis.expire(key, 3);
    const rec = made.record;
    expect(await store.commit(rec.run_id, { ifStatus: ['queued'], record: { ...rec, status: 'running' } })).toEqual({ ok: true });
    const ttl = await redis.ttl(key);
    expect(ttl).toBeGreaterThan(TTL);
    expect(ttl).toBeLessThanOrEqual(2 * TTL);
    // the same key is still a replay of the run, not a second run
    const again = await store.create(makeRecord(), { events: [], idempotencyKey: 'k-lives' });
    expect([again.created, again.record.run_id]).toEqual([false, rec.run_id]);
    // never shortened: a key given a longer expiry by hand keeps it
    await redis.persist(key);
    expect(await store.commit(rec.run_id, { ifStatus: ['running'], record: { ...rec, status: 'running', attempt: 2 } })).toEqual({ ok: true });
    expect(await redis.ttl(key)).toBe(-1);
  });
});

describe('remove', () => {
  it('deletes record, events, index entry and its idempotency key', async () => {
    const rec = makeRecord();
    await store.create(rec, { events: [created()], idempotencyKey: 'k3' });
    expect(await store.remove(rec.run_id, { agentId: rec.agent_id, key: 'k3' })).toBe(true);
    expect(await store.get(rec.run_id)).toBeNull();
    expect(await redis.exists(store.keys.events(rec.run_id), store.keys.idem(rec.agent_id, 'k3'))).toBe(0);
    expect(await redis.zscore(store.keys.index, rec.run_id)).toBeNull();
    expect(await store.remove(rec.run_id)).toBe(false);
    // the key is usable again
    expect((await store.create(makeRecord(), { events: [], idempotencyKey: 'k3' })).created).toBe(true);
  });

  it('keeps an idempotency key that names a newer run', async () => {
    const newer = makeRecord();
    await store.create(newer, { events: [], idempotencyKey: 'k4' });
    await store.remove(newRunId(), { agentId: newer.agent_id, key: 'k4' });
    expect(await redis.get(store.keys.idem(newer.agent_id, 'k4'))).toBe(newer.run_id);
  });
});

describe('list', () => {
  it('pages newest first and drops runs that are gone', async () => {
    const local = new RunStore({ redis, prefix: `${prefix}list:`, ttlSec: TTL });
    const base = Date.now();
    const recs = [0, 1, 2, 3].map((i) => makeRecord({ created_at: new Date(base + i).toISOString() }));
    for (const r of recs) await local.create(r, { events: [] });
    await redis.del(local.keys.run(recs[2]!.run_id));

    const page1 = await local.list({ limit: 2 });
    expect(page1.runs.map((r) => r.run_id)).toEqual([recs[3]!.run_id, recs[1]!.run_id]);
    expect(page1.next).toEqual({ score: base + 1, id: recs[1]!.run_id });
    expect(await local.list({ limit: 2, after: page1.next! })).toEqual({ runs: [recs[0]], next: null });
    expect(await redis.zscore(local.keys.index, recs[2]!.run_id)).toBeNull();
  });

  it('skips a run whose key an operator made another type, and keeps its entry (it is not gone)', async () => {
    const local = new RunStore({ redis, prefix: `${prefix}list-type:`, ttlSec: TTL });
    const base = Date.now();
    const recs = [0, 1, 2].map((i) => makeRecord({ created_at: new Date(base + i).toISOString() }));
    for (const r of recs) await local.create(r, { events: [] });
    await redis.del(local.keys.run(recs[1]!.run_id));
    await redis.hset(local.keys.run(recs[1]!.run_id), 'status', 'failed');
    expect((await local.list({ limit: 10 })).runs.map((r) => r.run_id)).toEqual([recs[2]!.run_id, recs[0]!.run_id]);
    expect(await redis.zscore(local.keys.index, recs[1]!.run_id)).not.toBeNull();
  });
});

describe('exact key names with an empty prefix', () => {
  it('stores run:{id} and run:{id}:events', async () => {
    // shared keyspace: random id only, and a TTL so long that the index trim removes nothing real
    const bare = new RunStore({ redis, prefix: '', ttlSec: 10 * 365 * 86400 });
    const rec = makeRecord({ run_id: `gr_${newRunId().slice(3)}test` });
    try {
      await bare.create(rec, { events: [event('run_created')] });
      expect(JSON.parse((await redis.get(`run:${rec.run_id}`))!)).toEqual(rec);
      expect(await redis.type(`run:${rec.run_id}:events`)).toBe('stream');
    } finally {
      await bare.remove(rec.run_id);
    }
    expect(await redis.exists(`run:${rec.run_id}`, `run:${rec.run_id}:events`)).toBe(0);
  });
});

describe('live set', () => {
  const live = (id: string) => redis.zscore(store.keys.live, id);

  it('holds a run from its creation until the commit that finishes it', async () => {
    const rec = makeRecord();
    await store.create(rec, { events: [created()] });
    expect(Number(await live(rec.run_id))).toBe(Date.parse(rec.created_at));
    const running = { ...rec, status: 'running' as const, lease: 'l1' };
    expect((await store.commit(rec.run_id, { ifStatus: ['queued'], record: running })).ok).toBe(true);
    expect(await live(rec.run_id)).not.toBeNull();
    // a refused final commit changes nothing
    expect((await store.commit(rec.run_id, { ifStatus: ['waiting'], record: { ...running, status: 'succeeded' } })).ok).toBe(false);
    expect(await live(rec.run_id)).not.toBeNull();
    expect((await store.commit(rec.run_id, { ifStatus: ['running'], record: { ...running, status: 'succeeded', lease: null } })).ok).toBe(true);
    expect(await live(rec.run_id)).toBeNull();
  });

  it('loses a removed run, and an idempotent replay adds nothing', async () => {
    const rec = makeRecord();
    await store.create(rec, { events: [], idempotencyKey: 'live-1' });
    const replay = makeRecord();
    await store.create(replay, { events: [], idempotencyKey: 'live-1' });
    expect(await live(replay.run_id)).toBeNull();
    expect(await store.remove(rec.run_id, { agentId: rec.agent_id, key: 'live-1' })).toBe(true);
    expect(await live(rec.run_id)).toBeNull();
  });

  it('lists ids created before a time, oldest first, at most count; forgetLive drops them', async () => {
    const base = Date.now() - 60_000;
    const recs = [0, 1, 2].map((i) => makeRecord({ created_at: new Date(base + i * 1000).toISOString() }));
    for (const r of recs) await store.create(r, { events: [] });
    const mine = (ids: string[]) => ids.filter((id) => recs.some((r) => r.run_id === id));
    const liveRuns = async (beforeMs: number, count: number) => (await store.liveEntries(count, beforeMs)).map((e) => e.id);
    expect(mine(await liveRuns(base + 2000, 1000))).toEqual([recs[0]!.run_id, recs[1]!.run_id]);
    const all = await liveRuns(base + 3000, 1000);
    expect(await liveRuns(base + 3000, all.indexOf(recs[1]!.run_id) + 1)).toEqual(all.slice(0, all.indexOf(recs[1]!.run_id) + 1));
    expect(await store.forgetLive([recs[0]!.run_id, 'gr_notthere'])).toBe(1);
    expect(await store.forgetLive([])).toBe(0);
    expect(mine(await liveRuns(base + 3000, 1000))).toEqual([recs[1]!.run_id, recs[2]!.run_id]);
  });

  it('forgetLive gives a run finished by hand with a plain SET (its expiry lost) RUN_TTL_SEC back, and shortens no other', async () => {
    const byHand = makeRecord();
    const kept = makeRecord();
    for (const r of [byHand, kept]) await store.create(r, { events: [created()] });
    await redis.set(store.keys.run(byHand.run_id), JSON.stringify({ ...byHand, status: 'failed' })); // the runbook's SET, no KEEPTTL
    await redis.persist(store.keys.events(byHand.run_id));
    await redis.expire(store.keys.run(kept.run_id), 30);
    expect(await redis.ttl(store.keys.run(byHand.run_id))).toBe(-1);
    expect(await store.forgetLive([byHand.run_id, kept.run_id])).toBe(2);
    for (const key of [store.keys.run(byHand.run_id), store.keys.events(byHand.run_id)]) {
      const ttl = await redis.ttl(key);
      expect([key, ttl > 30 && ttl <= TTL]).toEqual([key, true]);
    }
    const keptTtl = await redis.ttl(store.keys.run(kept.run_id));
    expect(keptTtl > 0 && keptTtl <= 30).toBe(true); // not lengthened to RUN_TTL_SEC
  });
});

describe('filling the live set once, for runs created before it existed', () => {
  it('adds the unfinished runs of the index (ties across pages included), none finished, then never again until the marker goes', async () => {
    const s = new RunStore({ redis, prefix: `${prefix}fill:`, ttlSec: TTL });
    const at = (ms: number) => new Date(Date.now() - 60_000 + ms).toISOString();
    // five runs in the same millisecond straddle the page boundary (page size 2)
    const recs = [
      makeRecord({ created_at: at(0) }), makeRecord({ created_at: at(1), status: 'running', lease: 'l' }),
      ...Array.from({ length: 5 }, () => makeRecord({ created_at: at(2), status: 'waiting' })),
      makeRecord({ created_at: at(3), status: 'succeeded' }), makeRecord({ created_at: at(4), status: 'cancelling' }),
    ];
    for (const r of recs) await s.create(r, { events: [] });
    // as an older version left them: in the index, not in the live set; one record hand-SET in another key order
    await redis.del(s.keys.live);
    await redis.set(s.keys.run(recs[0]!.run_id), JSON.stringify({ status: 'queued', run_id: recs[0]!.run_id }), 'KEEPTTL');
    const before = Date.now();
    expect(await s.fillLive(before, 2)).toBe(recs.length - 1);
    const live = await redis.zrangebyscore(s.keys.live, '-inf', '+inf', 'WITHSCORES');
    const expected = recs.filter((r) => r.status !== 'succeeded');
    expect(new Set(live.filter((_, i) => i % 2 === 0))).toEqual(new Set(expected.map((r) => r.run_id)));
    expect(Number(live[live.indexOf(recs[1]!.run_id) + 1])).toBe(Date.parse(recs[1]!.created_at));
    expect(await redis.get(s.keys.liveFilled)).toBe(new Date(before).toISOString());
    expect(await s.fillLive(Date.now(), 2)).toBeNull();
    await redis.del(s.keys.liveFilled);
    expect(await s.fillLive(Date.now(), 2)).toBe(0); // again: nothing new to add
  });
});
