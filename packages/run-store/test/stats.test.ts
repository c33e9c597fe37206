import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { Redis } from 'ioredis';
import type { RunRecord } from '@sup/contracts';
import { RunStore } from '../src/store.js';
import { cleanup, connect, created, makeRecord, uniquePrefix } from './helpers.js';

const prefix = uniquePrefix(true);
let redis: Redis;
let store: RunStore;

beforeAll(() => {
  redis = connect();
  store = new RunStore({ redis, prefix, ttlSec: 100 });
});

afterAll(async () => {
  await cleanup(redis, prefix);
  await redis.quit();
});

const finish = (rec: RunRecord, status: RunRecord['status'], ifStatus: RunRecord['status'][]) =>
  store.commit(rec.run_id, { ifStatus, record: { ...rec, status } });

describe('run counters (stats hash)', () => {
  it('counts each creation once per graph, not idempotent replays', async () => {
    await store.create(makeRecord({ graph: 'a' }), { events: [created()] });
    await store.create(makeRecord({ graph: 'a' }), { events: [created()], idempotencyKey: 'same' });
    await store.create(makeRecord({ graph: 'a' }), { events: [created()], idempotencyKey: 'same' });
    await store.create(makeRecord({ graph: 'b' }), { events: [] });
    const s = await store.stats();
    expect(s.created.sort((x, y) => x.graph.localeCompare(y.graph))).toEqual([{ graph: 'a', count: 2 }, { graph: 'b', count: 1 }]);
    expect(await redis.hget(`${prefix}stats:runs`, 'created|a')).toBe('2');
  });

  it('counts a run whose input holds a lone surrogate under its graph (cjson refuses that record), not "unknown"', async () => {
    await store.create(makeRecord({ graph: 'lone', input: { service: 'a\ud800b' } }), { events: [] });
    expect(await redis.hget(`${prefix}stats:runs`, 'created|lone')).toBe('1');
    expect(await redis.hget(`${prefix}stats:runs`, 'created|unknown')).toBeNull();
  });

  it('takes back the count of a create that was rolled back (its enqueue failed), once', async () => {
    const rolledBack = makeRecord({ graph: 'r' });
    await store.create(makeRecord({ graph: 'r' }), { events: [] });
    await store.create(rolledBack, { events: [] });
    expect(await redis.hget(`${prefix}stats:runs`, 'created|r')).toBe('2');
    expect(await store.remove(rolledBack.run_id)).toBe(true);
    expect(await store.remove(rolledBack.run_id)).toBe(false);
    expect(await redis.hget(`${prefix}stats:runs`, 'created|r')).toBe('1');
  });

  it('counts the transition into a final status exactly once, whatever path commits it', async () => {
    const ok = makeRecord({ graph: 'c' });
    const bad = makeRecord({ graph: 'c' });
    const gone = makeRecord({ graph: 'c' });
    for (const r of [ok, bad, gone]) await store.create(r, { events: [] });

    expect((await finish(ok, 'running', ['queued'])).ok).toBe(true);
    expect((await finish(ok, 'succeeded', ['running'])).ok).toBe(true);
    // a later write to a finished run (e.g. recording a webhook outcome) is not a second finish
    expect((await finish(ok, 'succeeded', ['succeeded'])).ok).toBe(true);
    // a refused CAS counts nothing
    expect((await finish(ok, 'failed', ['running'])).ok).toBe(false);

    expect((await finish(bad, 'failed', ['queued'])).ok).toBe(true);
    expect((await finish(gone, 'cancelled', ['queued'])).ok).toBe(true);

    const s = await store.stats();
    const finished = s.finished.filter((f) => f.graph === 'c').sort((x, y) => x.status.localeCompare(y.status));
    expect(finished).toEqual([
      { graph: 'c', status: 'cancelled', count: 1 },
      { graph: 'c', status: 'failed', count: 1 },
      { graph: 'c', status: 'succeeded', count: 1 },
    ]);
  });

  it('counts a finish from a hand-written record, and a finished run set by hand is not finished again', async () => {
    const byHand = makeRecord({ graph: 'd' });
    const done = makeRecord({ graph: 'd' });
    for (const r of [byHand, done]) await store.create(r, { events: [] });
    // an operator's record: other key order, no lease, no graph (read in full by commit.lua)
    await redis.set(store.keys.run(byHand.run_id), JSON.stringify({ status: 'running', run_id: byHand.run_id }));
    expect((await finish(byHand, 'failed', ['running'])).ok).toBe(true);
    await redis.set(store.keys.run(done.run_id), JSON.stringify({ status: 'succeeded' }));
    expect((await finish(done, 'succeeded', ['succeeded'])).ok).toBe(true);
    const s = await store.stats();
    expect(s.finished.filter((f) => f.graph === 'd')).toEqual([{ graph: 'd', status: 'failed', count: 1 }]);
  });

  it('ignores fields it does not know', async () => {
    await redis.hset(`${prefix}stats:runs`, 'something|else', 'x', 'bogus', '1');
    const s = await store.stats();
    expect(s.created.every((c) => Number.isFinite(c.count))).toBe(true);
    expect(s.finished.some((f) => f.graph === 'else')).toBe(false);
  });
});
