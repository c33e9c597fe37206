import { PassThrough } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { createLogger } from '@sup/logging';
import { CancelService } from '@sup/queue';
import type { RunStore } from '@sup/run-store';
import { harness, until } from './harness.js';

// runs whose children the processor had cancelled (an operator ended or removed the run)
const endedByHand: Array<[string, string]> = [];
const h = harness({ cancelChildren: async (id, reason) => void endedByHand.push([id, reason]) });
beforeAll(() => h.start());
afterAll(() => h.close());

const statusOf = async (id: string) => (await h.store.get(id))?.status;
/** A run of `abc` submitted, let through its gated node, and finished. */
const succeededRun = async () => {
  h.resetGate();
  const { record } = await h.submit();
  await h.gate.entered();
  h.gate.open();
  await until('succeeded', async () => (await statusOf(record.run_id)) === 'succeeded');
  return record;
};

describe('worker processor over real BullMQ + Redis', () => {
  it('a finished run\'s job retried by hand (bull-board) completes at once, says so, and runs nothing again', async () => {
    const record = await succeededRun();
    const job = (await h.queue.getJob(record.run_id))!;
    await until('job completed', async () => (await job.getState()) === 'completed');
    const calls = h.calls.length;
    await job.retry('completed');
    await until('the retried job completed', async () => (await h.queue.getJob(record.run_id))!.finishedOn !== job.finishedOn && (await h.queue.getJobState(record.run_id)) === 'completed');
    expect((await h.queue.getJob(record.run_id))!.returnvalue).toBe('succeeded');
    expect(h.calls.length).toBe(calls);
    expect((await h.store.get(record.run_id))!.nodes).toHaveLength(3);
    expect(h.logged.join('')).toMatch(new RegExp(`job_for_finished_run run=${record.run_id} status=succeeded$`, 'm'));
  });

  it('steps a run node by node to succeeded, one history entry and one event pair per node', async () => {
    const record = await succeededRun();
    const rec = (await h.store.get(record.run_id))!;
    expect(rec.nodes.map((n) => [n.node, n.status, n.tool_calls])).toEqual([['a', 'succeeded', 1], ['b', 'succeeded', 1], ['c', 'succeeded', 1]]);
    expect(rec.result).toEqual({ ok: 'c' });
    expect(rec.lease).toBeNull();
    const types = (await h.store.events(record.run_id)).map((e) => e.type);
    expect(types).toEqual(['run_created', 'run_started', 'node_finished', 'node_finished', 'node_finished', 'run_succeeded']);
  });

  it("respects an operator's SET of status failed: the node in flight finishes, nothing after it runs", async () => {
    h.resetGate();
    const { record } = await h.submit();
    await h.gate.entered();
    const raw = JSON.parse((await h.redis.get(h.keys.run(record.run_id)))!);
    await h.redis.set(h.keys.run(record.run_id), JSON.stringify({ ...raw, status: 'failed' }));
    h.gate.open();
    const job = await h.queue.getJob(record.run_id);
    await until('job finished', async () => (await job!.getState()) === 'completed');
    expect(await statusOf(record.run_id)).toBe('failed');
    expect(h.calls.filter((c) => c.key.startsWith(`${record.run_id}:c:`))).toHaveLength(0);
    // its child runs, if it had any, are cancelled: nothing else would stop them
    expect(endedByHand).toContainEqual([record.run_id, 'parent failed']);
  });

  it('cancels the children of a run an operator deleted (DEL) while its job was parked', async () => {
    const { record } = await h.submit({}, 'park');
    await until('parked', async () => (await statusOf(record.run_id)) === 'waiting');
    await h.redis.del(h.keys.run(record.run_id), h.keys.events(record.run_id));
    // its park is a minute long: wake it now (what "promote" in the dashboard does)
    await until('the job parked', async () => (await h.queue.getJobState(record.run_id)) === 'delayed');
    await (await h.queue.getJob(record.run_id))!.promote();
    await until('the job found the run gone', async () => endedByHand.some(([id]) => id === record.run_id));
    expect(endedByHand).toContainEqual([record.run_id, 'parent deleted']);
  });

  it('a record that went back to an earlier state while its job is ours (writes lost, e.g. in a failover): the job is handed back and the run finishes', async () => {
    h.resetGate();
    const { record } = await h.submit();
    const asSubmitted = (await h.redis.get(h.keys.run(record.run_id)))!;
    await h.gate.entered(); // node b in flight; the claim and node a's commit are in Redis
    await h.redis.set(h.keys.run(record.run_id), asSubmitted); // ...and now they are not
    h.resetGate();
    h.gate.open(); // b's commit is refused (status queued): the job must not complete as 'released'
    await h.gate.entered(); // the next pass claimed the run again and reached b
    h.gate.open();
    await until('succeeded', async () => (await statusOf(record.run_id)) === 'succeeded');
    const job = (await h.queue.getJob(record.run_id))!;
    await until('job completed', async () => (await job.getState()) === 'completed');
    expect((await h.queue.getJob(record.run_id))!.returnvalue).toBe('succeeded');
    // the lost nodes ran again with the same idempotency keys; c once
    const calls = h.calls.filter((c) => c.key.startsWith(`${record.run_id}:`));
    expect(calls.map((c) => c.node)).toEqual(['a', 'b', 'a', 'b', 'c']);
    expect(calls[2]!.key).toBe(calls[0]!.key);
    expect(calls[3]!.key).toBe(calls[1]!.key);
  });

  it('aborts the tool call in flight when the run is set cancelling and its id published', async () => {
    h.resetGate();
    const { record } = await h.submit();
    await h.gate.entered();
    const rec = (await h.store.get(record.run_id))!;
    const res = await h.store.commit(record.run_id, { ifStatus: ['running'], record: { ...rec, status: 'cancelling', cancel_reason: 'wrong version' } });
    expect(res.ok).toBe(true);
    await h.redis.publish(h.keys.cancelChannel, record.run_id);
    await until('cancelled', async () => (await statusOf(record.run_id)) === 'cancelled');
    const b = h.calls.find((c) => c.key.startsWith(`${record.run_id}:b:`));
    expect(b?.aborted).toBe(true);
    expect(h.calls.filter((c) => c.key.startsWith(`${record.run_id}:c:`))).toHaveLength(0);
    // the reason the cancel request gave stays on the record and is in the final event
    expect((await h.store.get(record.run_id))?.cancel_reason).toBe('wrong version');
    expect((await h.store.events(record.run_id)).at(-1)).toMatchObject({ type: 'run_cancelled', data: { reason: 'wrong version' } });
  });

  it('an API cancel built from a record a worker has since rewritten does not overwrite it: it re-reads', async () => {
    h.resetGate();
    const { record } = await h.submit();
    await h.gate.entered();
    const stale = (await h.store.read(record.run_id))!;
    // what a worker's step commit does between the cancel's read and its write
    const newer = { ...stale.record, metadata: { step: 'committed after the read' }, updated_at: new Date().toISOString() };
    expect((await h.store.commit(record.run_id, { ifStatus: ['running'], ifLease: stale.record.lease!, record: newer })).ok).toBe(true);
    let reads = 0;
    const racing = Object.assign(Object.create(h.store) as RunStore, {
      read: async (id: string) => (reads++ === 0 ? stale : h.store.read(id)),
    });
    const cancels = new CancelService({
      store: racing, queue: h.queue, publisher: h.redis, channel: h.keys.cancelChannel, ttlSec: 600,
      log: createLogger({ service: 'worker-test', stream: new PassThrough().resume() }),
    });
    const out = await cancels.cancel(record);
    expect(reads).toBe(2);
    expect(out).toMatchObject({ status: 'cancelling', metadata: { step: 'committed after the read' } });
    await until('cancelled', async () => (await statusOf(record.run_id)) === 'cancelled');
    expect((await h.store.get(record.run_id))!.metadata).toEqual({ step: 'committed after the read' });
  });

  it("parks a waiting run's job until exactly the time its record names", async () => {
    const { record } = await h.submit({}, 'park');
    const job = (await h.queue.getJob(record.run_id))!;
    await until('delayed', async () => (await job.getState()) === 'delayed');
    const rec = (await h.store.get(record.run_id))!;
    expect(rec).toMatchObject({ status: 'waiting', waiting: { reason: 'job_running' } });
    // BullMQ scores a delayed job by due time × 0x1000 (+ a counter for ties)
    const score = Number(await h.redis.zscore(`${h.queue.qualifiedName}:delayed`, record.run_id));
    expect(Math.floor(score / 0x1000)).toBe(Date.parse(rec.waiting!.until));
    await h.queue.remove(record.run_id);
  });

  it('a graceful stop hands the run back to the queue between nodes, never failing it', async () => {
    h.resetGate();
    const { record } = await h.submit();
    await h.gate.entered();
    await h.stopGracefully(() => h.gate.open());
    const job = await h.queue.getJob(record.run_id);
    expect(await statusOf(record.run_id)).toBe('queued');
    expect(await job!.getState()).toBe('waiting');
    const rec = (await h.store.get(record.run_id))!;
    expect(rec.current_node).toBe('c');
    expect((await h.store.events(record.run_id)).at(-1)?.type).toBe('run_requeued');
    await h.start();
    await until('succeeded after requeue', async () => (await statusOf(record.run_id)) === 'succeeded');
    // c ran once, a and b were not repeated
    expect(h.calls.filter((c) => c.key.startsWith(`${record.run_id}:`)).map((c) => c.node)).toEqual(['a', 'b', 'c']);
  });
});
