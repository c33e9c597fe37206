import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { harness, until } from './harness.js';

const LIMIT = 16_384;
const h = harness({ maxRecordBytes: LIMIT });
beforeAll(() => h.start());
afterAll(() => h.close());

const finished = (id: string) => until(`run ${id} to finish`, async () => {
  const rec = await h.store.get(id);
  return rec && ['succeeded', 'failed', 'cancelled'].includes(rec.status) && rec;
});
// the job is read once it has ended: one read before the state check could still be the active job
// (no return value yet)
const jobDone = async (id: string) => {
  await until(`job ${id} to end`, async () => ['completed', 'failed'].includes(await h.queue.getJobState(id)));
  return (await h.queue.getJob(id))!;
};

describe('what a worker does with a run it cannot keep or read', () => {
  it('a node output that would make the record larger than RUN_RECORD_MAX_BYTES fails the run with the record as it was', async () => {
    const { record } = await h.submit({ size: 100_000 }, 'big');
    const rec = await finished(record.run_id);
    expect(rec).toMatchObject({ status: 'failed', error: { code: 'record_too_large', node: 'big', message: expect.stringMatching(/over the 16384 of RUN_RECORD_MAX_BYTES/) } });
    expect(rec.nodes.map((n) => [n.node, n.status])).toEqual([['small', 'succeeded']]);
    expect(Buffer.byteLength((await h.redis.get(h.keys.run(record.run_id)))!)).toBeLessThan(LIMIT);
    const job = await jobDone(record.run_id);
    expect([job.returnvalue, job.attemptsMade]).toEqual(['failed', 1]);
    // the same graph with an output that fits succeeds: the cap is what failed it
    const { record: fits } = await h.submit({ size: 1_000 }, 'big');
    expect((await finished(fits.run_id)).status).toBe('succeeded');
  });

  it('a run created larger than RUN_RECORD_MAX_BYTES (its input) fails at its claim, before its first node calls anything', async () => {
    const { record } = await h.submit({ pad: 'x'.repeat(LIMIT) }, 'big');
    const rec = await finished(record.run_id);
    expect(rec).toMatchObject({ status: 'failed', error: { code: 'record_too_large', message: expect.stringMatching(/before its first step/) } });
    expect(rec.nodes).toEqual([]);
    expect(h.calls.filter((c) => c.key.startsWith(record.run_id))).toEqual([]);
    const job = await jobDone(record.run_id);
    expect([job.returnvalue, job.attemptsMade]).toEqual(['failed', 1]);
  });

  it('counts the input\'s second copy in the first snapshot at the claim: a record that only fits once fails before its first node', async () => {
    // about 9.5 KB: under the 16 KiB cap alone, over it with the input again in the snapshot
    const { record } = await h.submit({ pad: 'x'.repeat(9_000) }, 'big');
    const rec = await finished(record.run_id);
    expect(rec).toMatchObject({ status: 'failed', error: { code: 'record_too_large', message: expect.stringMatching(/\(\+ 90\d\d its next write adds\).*before its first step/) } });
    expect(h.calls.filter((c) => c.key.startsWith(record.run_id))).toEqual([]);
  });

  it('a snapshot edited by hand into one that names no node fails the run at once (corrupt_snapshot), without retries', async () => {
    await h.queue.pause();
    const { record } = await h.submit({}, 'abc');
    const raw = JSON.parse((await h.redis.get(h.keys.run(record.run_id)))!);
    await h.redis.set(h.keys.run(record.run_id), JSON.stringify({ ...raw, snapshot: 'garbage' }), 'KEEPTTL');
    await h.queue.resume();
    const rec = await finished(record.run_id);
    expect(rec.error).toMatchObject({ code: 'corrupt_snapshot', message: 'the stored snapshot names no node of graph abc to run next (edited by hand?)' });
    expect(h.calls.filter((c) => c.key.startsWith(record.run_id))).toEqual([]);
    const job = await jobDone(record.run_id);
    expect(job.attemptsMade).toBe(1);
  });

  it('an events key made another type by hand fails the job once, naming the key, and leaves the record unwritten', async () => {
    await h.queue.pause();
    const { record } = await h.submit({}, 'park');
    await h.redis.del(h.keys.events(record.run_id));
    await h.redis.set(h.keys.events(record.run_id), 'oops', 'EX', 600);
    const before = await h.redis.get(h.keys.run(record.run_id));
    await h.queue.resume();
    const job = await jobDone(record.run_id);
    expect(await job.getState()).toBe('failed');
    expect(job.attemptsMade).toBe(1);
    expect(job.failedReason).toBe(`run ${record.run_id}: its events key holds another Redis type, not a stream`);
    expect(await h.redis.get(h.keys.run(record.run_id))).toBe(before);
  });

  it('a second job naming a live run (added by hand in the dashboard) is let go untouched; the run\'s own job runs each node once', async () => {
    const { record } = await h.submit({}, 'abc');
    await h.gate.entered(); // node b in flight on the run's own job
    const rogue = await h.queue.add('run', { run_id: record.run_id, graph: 'abc' });
    expect(rogue.id).not.toBe(record.run_id);
    const done = await jobDone(rogue.id!);
    expect([await done.getState(), done.returnvalue]).toEqual(['completed', 'ignored']);
    h.gate.open();
    expect((await finished(record.run_id)).status).toBe('succeeded');
    expect(h.calls.filter((c) => c.key.startsWith(record.run_id)).map((c) => c.node)).toEqual(['a', 'b', 'c']);
    expect((await h.store.events(record.run_id)).filter((e) => e.type === 'run_resumed')).toEqual([]);
  });
});
