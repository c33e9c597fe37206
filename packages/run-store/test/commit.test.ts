import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { event, newRunId, type RunRecord } from '@sup/contracts';
import type { Redis } from 'ioredis';
import { RunStore } from '../src/store.js';
import { cleanup, connect, created, makeRecord, uniquePrefix } from './helpers.js';

const TTL = 100;
const prefix = uniquePrefix();
let redis: Redis;
let store: RunStore;

beforeAll(() => {
  redis = connect();
  store = new RunStore({ redis, prefix, ttlSec: TTL });
});

afterAll(async () => {
  await cleanup(redis, prefix);
  await redis.quit();
});

async function stored(over: Partial<RunRecord> = {}): Promise<RunRecord> {
  const rec = makeRecord(over);
  await store.create(rec, { events: [created()] });
  return rec;
}

describe('commit', () => {
  it('writes the record and events when status and lease match, and refreshes both TTLs', async () => {
    const rec = await stored({ lease: 'tok-a' });
    await redis.expire(store.keys.run(rec.run_id), 5);
    await redis.expire(store.keys.events(rec.run_id), 5);
    const next = { ...rec, status: 'running' as const, nodes: [] };
    const res = await store.commit(rec.run_id, { ifStatus: ['queued', 'waiting'], ifLease: 'tok-a', record: next, events: [event('run_started')] });
    expect(res).toEqual({ ok: true });
    expect(await store.get(rec.run_id)).toEqual(next);
    expect((await store.events(rec.run_id)).map((e) => e.type)).toEqual(['run_created', 'run_started']);
    for (const key of [store.keys.run(rec.run_id), store.keys.events(rec.run_id)]) {
      const ttl = await redis.ttl(key);
      expect(ttl).toBeGreaterThan(5);
      expect(ttl).toBeLessThanOrEqual(TTL);
    }
  });

  it('keeps a parked record until past its wake-up, however short RUN_TTL_SEC is, and a running one for the TTL', async () => {
    const rec = await stored();
    const until = new Date(Date.now() + 10 * TTL * 1000).toISOString();
    const parked = { ...rec, status: 'waiting' as const, waiting: { reason: 'job_running', until } };
    expect(await store.commit(rec.run_id, { ifStatus: ['queued'], record: parked })).toEqual({ ok: true });
    for (const key of [store.keys.run(rec.run_id), store.keys.events(rec.run_id)]) {
      const ttl = await redis.ttl(key);
      // due in 10 × TTL, plus a margin
      expect(ttl).toBeGreaterThan(10 * TTL);
      expect(ttl).toBeLessThanOrEqual(10 * TTL + 60);
    }
    const { waiting: _w, ...awake } = parked;
    expect(await store.commit(rec.run_id, { ifStatus: ['waiting'], record: { ...awake, status: 'running' } })).toEqual({ ok: true });
    expect(await redis.ttl(store.keys.run(rec.run_id))).toBeLessThanOrEqual(TTL);
  });

  it('keeps a cancelled record at least 10 minutes, for its compensation\'s retries', async () => {
    const rec = await stored();
    expect(await store.commit(rec.run_id, { ifStatus: ['queued'], record: { ...rec, status: 'cancelled' } })).toEqual({ ok: true });
    expect(await redis.ttl(store.keys.run(rec.run_id))).toBeGreaterThan(TTL);
    expect(await redis.ttl(store.keys.run(rec.run_id))).toBeLessThanOrEqual(600);
  });

  it('keeps a finished record with a webhook (and its events) at least 10 minutes, for the delivery\'s retries; one without for the TTL', async () => {
    for (const status of ['succeeded', 'failed'] as const) {
      const hooked = await stored({ webhook: 'https://hooks.example.com/x' });
      expect(await store.commit(hooked.run_id, { ifStatus: ['queued'], record: { ...hooked, status } })).toEqual({ ok: true });
      for (const key of [store.keys.run(hooked.run_id), store.keys.events(hooked.run_id)]) {
        const ttl = await redis.ttl(key);
        expect([status, key, ttl > TTL, ttl <= 600]).toEqual([status, key, true, true]);
      }
      const plain = await stored();
      expect(await store.commit(plain.run_id, { ifStatus: ['queued'], record: { ...plain, status } })).toEqual({ ok: true });
      expect(await redis.ttl(store.keys.run(plain.run_id))).toBeLessThanOrEqual(TTL);
    }
    // not finished yet: the run's own TTL
    const running = await stored({ webhook: 'https://hooks.example.com/x' });
    expect(await store.commit(running.run_id, { ifStatus: ['queued'], record: { ...running, status: 'running' } })).toEqual({ ok: true });
    expect(await redis.ttl(store.keys.run(running.run_id))).toBeLessThanOrEqual(TTL);
  });

  it('reports a status mismatch with the current status and writes nothing', async () => {
    const rec = await stored();
    const res = await store.commit(rec.run_id, { ifStatus: ['running'], record: { ...rec, status: 'succeeded' }, events: [event('run_succeeded')] });
    expect(res).toEqual({ ok: false, reason: 'status', status: 'queued' });
    expect(await store.get(rec.run_id)).toEqual(rec);
    expect(await store.events(rec.run_id)).toHaveLength(1);
  });

  it('with ifRaw, writes only while the stored JSON is the one the caller read', async () => {
    const rec = await stored();
    const read = (await store.read(rec.run_id))!;
    expect(read.record).toEqual(rec);
    // somebody (a worker's step) writes in between: the record read is stale, nothing is written
    const newer = { ...rec, current_node: 'b', updated_at: '2026-01-01T00:00:01.000Z' };
    expect(await store.commit(rec.run_id, { ifStatus: ['queued'], record: newer })).toEqual({ ok: true });
    const stale = { ...read.record, status: 'cancelled' as const };
    expect(await store.commit(rec.run_id, { ifStatus: ['queued'], ifRaw: read.raw, record: stale, events: [event('run_cancelled')] }))
      .toEqual({ ok: false, reason: 'changed' });
    expect(await store.get(rec.run_id)).toEqual(newer);
    expect((await store.events(rec.run_id)).map((e) => e.type)).toEqual(['run_created']);
    // built from a fresh read, it lands
    const fresh = (await store.read(rec.run_id))!;
    expect(await store.commit(rec.run_id, { ifStatus: ['queued'], ifRaw: fresh.raw, record: { ...fresh.record, status: 'cancelled' }, events: [event('run_cancelled')] }))
      .toEqual({ ok: true });
    expect(await store.get(rec.run_id)).toMatchObject({ status: 'cancelled', current_node: 'b' });
  });

  it('reports a lease mismatch with the current lease', async () => {
    const owned = await stored({ lease: 'tok-a' });
    expect(await store.commit(owned.run_id, { ifStatus: ['queued'], ifLease: 'tok-b', record: owned }))
      .toEqual({ ok: false, reason: 'lease', lease: 'tok-a' });
    const free = await stored();
    expect(await store.commit(free.run_id, { ifStatus: ['queued'], ifLease: 'tok-b', record: free }))
      .toEqual({ ok: false, reason: 'lease', lease: null });
  });

  it('stores run_id, status, lease and graph first, whatever order the record object has', async () => {
    const rec = makeRecord({ lease: 'tok-a' });
    const { run_id, status, lease, graph, ...rest } = rec;
    await store.create({ ...rest, graph, lease, status, run_id } as RunRecord, { events: [created()] });
    const raw = (await redis.get(store.keys.run(rec.run_id)))!;
    expect(raw.startsWith(`{"run_id":"${rec.run_id}","status":"queued","lease":"tok-a","graph":"${rec.graph}",`)).toBe(true);
    expect(JSON.parse(raw)).toEqual({ ...rec, lease: 'tok-a' });
  });

  it('reports not_found and corrupt', async () => {
    const rec = makeRecord();
    expect(await store.commit(rec.run_id, { ifStatus: ['queued'], record: rec })).toEqual({ ok: false, reason: 'not_found' });
    await redis.set(store.keys.run(rec.run_id), 'not json');
    expect(await store.commit(rec.run_id, { ifStatus: ['queued'], record: rec })).toEqual({ ok: false, reason: 'corrupt' });
    await expect(store.get(rec.run_id)).rejects.toMatchObject({ name: 'StoreError', code: 'corrupt_record' });
  });

  it('keys of another Redis type (an operator\'s HSET) are corrupt_record, and a commit then writes nothing', async () => {
    const hashed = makeRecord();
    await redis.hset(store.keys.run(hashed.run_id), 'status', 'failed');
    await expect(store.get(hashed.run_id)).rejects.toMatchObject({ name: 'StoreError', code: 'corrupt_record', message: expect.stringMatching(/another Redis type/) });

    const rec = await stored();
    await redis.del(store.keys.events(rec.run_id));
    await redis.set(store.keys.events(rec.run_id), 'oops');
    await expect(store.events(rec.run_id)).rejects.toMatchObject({ name: 'StoreError', code: 'corrupt_record' });
    const before = await redis.get(store.keys.run(rec.run_id));
    await expect(store.commit(rec.run_id, { ifStatus: ['queued'], record: { ...rec, status: 'failed' }, events: [event('run_failed')] }))
      .rejects.toMatchObject({ name: 'StoreError', code: 'corrupt_record', message: expect.stringMatching(/events key holds another Redis type/) });
    // the script stopped at the XADD, before the record: nothing half-written
    expect(await redis.get(store.keys.run(rec.run_id))).toBe(before);
  });

  it('with maxRecordBytes, refuses a larger record in a capped commit (bytes, not characters) and writes nothing', async () => {
    const capped = new RunStore({ redis, prefix, ttlSec: TTL, maxRecordBytes: 4_096 });
    const rec = await stored();
    const small = { ...rec, result: { text: 'é'.repeat(1_000) } }; // ~2 000 bytes in UTF-8
    expect(await capped.commit(rec.run_id, { ifStatus: ['queued'], record: small, capped: true })).toEqual({ ok: true });
    const big = { ...rec, result: { text: 'é'.repeat(2_000) } }; // ~4 000 bytes + the rest of the record
    await expect(capped.commit(rec.run_id, { ifStatus: ['queued'], record: big, events: [event('run_succeeded')], capped: true }))
      .rejects.toMatchObject({ name: 'StoreError', code: 'record_too_large', message: expect.stringMatching(/the record would be \d+ bytes, over the 4096 of RUN_RECORD_MAX_BYTES/) });
    expect(JSON.parse((await redis.get(store.keys.run(rec.run_id)))!).result).toEqual(small.result);
    expect((await store.events(rec.run_id)).map((e) => e.type)).toEqual(['run_created']);
    // a write that is not capped (one that ends or hands back a run) is never refused for its size
    expect(await capped.commit(rec.run_id, { ifStatus: ['queued'], record: big })).toEqual({ ok: true });
  });

  it('checks a record whose head (run id, status, lease, graph) is longer than the part commit.lua reads first', async () => {
    // the script reads the first 512 bytes and falls back to the whole value when the head is not in them
    const lease = `tok-${'x'.repeat(600)}`;
    const rec = await stored({ status: 'running', lease });
    const next = { ...rec, current_node: 'b' };
    expect(await store.commit(rec.run_id, { ifStatus: ['running'], ifLease: 'tok-other', record: next })).toEqual({ ok: false, reason: 'lease', lease });
    expect(await store.commit(rec.run_id, { ifStatus: ['queued'], ifLease: lease, record: next })).toEqual({ ok: false, reason: 'status', status: 'running' });
    expect(await store.commit(rec.run_id, { ifStatus: ['running'], ifLease: lease, record: next })).toEqual({ ok: true });
    expect(JSON.parse((await redis.get(store.keys.run(rec.run_id)))!).current_node).toBe('b');
  });

  it('rejects a record of another run and an empty status list', async () => {
    const rec = await stored();
    await expect(store.commit(newRunId(), { ifStatus: ['queued'], record: rec })).rejects.toMatchObject({ code: 'invalid_argument' });
    await expect(store.commit(rec.run_id, { ifStatus: [], record: rec })).rejects.toMatchObject({ code: 'invalid_argument' });
  });
});

describe('records set by hand (runbook)', () => {
  it('normalises a minimal record and respects its status', async () => {
    const rec = await stored({ status: 'running', lease: 'tok-a' });
    await redis.set(store.keys.run(rec.run_id), JSON.stringify({ run_id: rec.run_id, status: 'failed' }));
    const got = await store.get(rec.run_id);
    expect(got).toMatchObject({
      run_id: rec.run_id, status: 'failed', graph: '', agent_id: '', current_node: null, attempt: 0,
      input: {}, nodes: [], result: null, error: null, started_at: null, finished_at: null,
    });
    expect(typeof got?.created_at).toBe('string');
    expect(await store.commit(rec.run_id, { ifStatus: ['running'], ifLease: 'tok-a', record: { ...rec, current_node: 'poll_job' } }))
      .toEqual({ ok: false, reason: 'status', status: 'failed' });
  });

  it('checks status and lease of hand-written records in any key order, with escapes, or without a lease', async () => {
    const rec = await stored({ status: 'running', lease: 'tok-a' });
    const key = store.keys.run(rec.run_id);
    const commit = (ifStatus: RunRecord['status'][], ifLease?: string) =>
      store.commit(rec.run_id, { ifStatus, ...(ifLease === undefined ? {} : { ifLease }), record: { ...rec, current_node: 'x' } });
    // status last, lease first: not the stored order
    await redis.set(key, `{"lease":"tok-b","graph":"g","status":"running","run_id":"${rec.run_id}"}`);
    expect(await commit(['running'], 'tok-a')).toEqual({ ok: false, reason: 'lease', lease: 'tok-b' });
    expect(await commit(['queued'], 'tok-b')).toEqual({ ok: false, reason: 'status', status: 'running' });
    // stored order, but a lease with an escaped quote: read in full, not cut at the backslash
    await redis.set(key, `{"run_id":"${rec.run_id}","status":"running","lease":"tok-\\"a","graph":"g"}`);
    expect(await commit(['running'], 'tok-')).toEqual({ ok: false, reason: 'lease', lease: 'tok-"a' });
    expect(await commit(['running'], 'tok-"a')).toEqual({ ok: true });
    // no lease key at all: an unowned run
    await redis.set(key, `{"run_id":"${rec.run_id}","status":"waiting","graph":"g"}`);
    expect(await commit(['waiting'], 'tok-a')).toEqual({ ok: false, reason: 'lease', lease: null });
    expect(await commit(['waiting'])).toEqual({ ok: true });
  });

  it('takes run_id from the key, keeps unknown fields and a plain-string error', async () => {
    const id = newRunId();
    await redis.set(store.keys.run(id), JSON.stringify({ status: 'cancelled', error: 'stopped by ops', ticket: 'OPS-1' }));
    expect(await store.get(id)).toMatchObject({ run_id: id, ticket: 'OPS-1', error: { code: 'error', message: 'stopped by ops' } });
  });

  it('treats an unknown or missing status as corrupt', async () => {
    const id = newRunId();
    for (const value of ['{"status":"paused"}', '{"run_id":"x"}', '[]', '"queued"']) {
      await redis.set(store.keys.run(id), value);
      await expect(store.get(id)).rejects.toMatchObject({ code: 'corrupt_record' });
    }
    expect(await store.commit(id, { ifStatus: ['queued'], record: makeRecord({ run_id: id }) })).toEqual({ ok: false, reason: 'corrupt' });
  });
});

describe('events', () => {
  it('returns events in order with stream ids, strictly after `after`', async () => {
    const rec = await stored();
    await store.commit(rec.run_id, {
      ifStatus: ['queued'], record: { ...rec, status: 'running' },
      events: [event('run_started'), event('node_started', 'start_job', { attempt: 1 })],
    });
    const all = await store.events(rec.run_id);
    expect(all.map((e) => [e.type, e.node])).toEqual([['run_created', undefined], ['run_started', undefined], ['node_started', 'start_job']]);
    expect(all[2]?.data).toEqual({ attempt: 1 });
    const ids = all.map((e) => e.id!);
    expect(new Set(ids).size).toBe(3);

    expect((await store.events(rec.run_id, { after: ids[0] })).map((e) => e.id)).toEqual(ids.slice(1));
    expect(await store.events(rec.run_id, { after: ids[2] })).toEqual([]);
    expect((await store.events(rec.run_id, { limit: 1 })).map((e) => e.id)).toEqual([ids[0]]);
  });

  it('does not store the id inside the entry and rejects a malformed `after`', async () => {
    const rec = makeRecord();
    await store.create(rec, { events: [{ ...created(), id: 'bogus' }] });
    const [[, fields]] = (await redis.xrange(store.keys.events(rec.run_id), '-', '+')) as [[string, string[]]];
    expect(fields[0]).toBe('e');
    expect(JSON.parse(fields[1]!)).not.toHaveProperty('id');
    await expect(store.events(rec.run_id, { after: 'abc' })).rejects.toMatchObject({ code: 'bad_event_id' });
  });
});
