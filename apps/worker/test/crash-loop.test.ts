import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { event, isoTime, type RunRecord } from '@sup/contracts';
import { enqueueRun, newRunRecord } from '@sup/queue';
import { createWorkerMetrics } from '../src/metrics.js';
// the Prometheus text parser the end-to-end tests use
import { sample } from '../../../e2e/src/metrics.js';
import { harness, until } from './harness.js';

// a crash loop at 2 lost passes in a row; the worker's metrics see each takeover
const metrics = createWorkerMetrics();
const h = harness({ crashLoopLimit: 2, onTakeover: metrics.onTakeover });
const takeovers = async (outcome: string) => sample(await metrics.registry.metrics(), 'sup_run_takeovers_total', { graph: 'abc', outcome });
beforeAll(() => h.start());
afterAll(() => h.close());

/**
 * A run as a pass that ended in its first node without a commit leaves it: `running`, the dead
 * pass's lease, `takeovers` lost workers so far. `stalled`: BullMQ's stall detection moved its job
 * back (the worker was lost) — otherwise the pass ended on its own (parked after a Redis refusal).
 */
async function interruptedRun(takeovers: number | undefined, stalled: boolean): Promise<RunRecord> {
  const stalls = takeovers ?? 0;
  const rec: RunRecord = {
    ...newRunRecord({ graph: 'abc', agentId: 'sofiia', input: {} }), status: 'running', lease: 'dead-worker-token', attempt: 1,
    started_at: isoTime(Date.now()), current_node: 'a', ...(takeovers ? { takeovers, stalls } : {}),
  };
  await h.store.create(rec, { events: [event('run_created'), event('run_started', 'a')] });
  // the job is set as the stall check leaves it, then made due
  await enqueueRun(h.queue, { run_id: rec.run_id, graph: rec.graph }, 600, 3_600_000);
  await h.redis.hset(h.queue.toKey(rec.run_id), 'stc', stalls + (stalled ? 1 : 0));
  await (await h.queue.getJob(rec.run_id))!.promote();
  return rec;
}
const eventsOf = async (id: string) => (await h.store.events(id)).map((e) => ({ type: e.type, node: e.node, data: e.data }));

describe('crash loop: a node in flight at CRASH_LOOP_LIMIT lost passes in a row', () => {
  it('a pass that ended without a stall (parked after a Redis refusal) is no loss: the node runs, even at limit − 1', async () => {
    h.resetGate();
    const rec = await interruptedRun(1, false);
    await h.gate.entered();
    const resumed = (await eventsOf(rec.run_id)).find((e) => e.type === 'run_resumed');
    expect(resumed?.data).toEqual({ from: 'running', attempt: 2, worker: 'test:1' });
    h.gate.open();
    await until('succeeded', async () => (await h.store.get(rec.run_id))?.status === 'succeeded');
    expect((await h.store.get(rec.run_id))!.takeovers).toBeUndefined();
    expect(await takeovers('resumed')).toBeUndefined();
  });

  it('a first loss is a takeover: counted in the record and the run_resumed event, cleared by the node commit', async () => {
    h.resetGate();
    const rec = await interruptedRun(undefined, true);
    await h.gate.entered(); // a is committed, b is in flight
    const mid = (await h.store.get(rec.run_id))!;
    expect([mid.status, mid.current_node, mid.attempt, 'takeovers' in mid, mid.stalls]).toEqual(['running', 'b', 2, false, 1]);
    expect((await eventsOf(rec.run_id)).find((e) => e.type === 'run_resumed')).toMatchObject({ node: 'a', data: { from: 'running', attempt: 2, takeovers: 1 } });
    expect(await takeovers('resumed')).toBe(1);
    h.gate.open();
    await until('succeeded', async () => (await h.store.get(rec.run_id))?.status === 'succeeded');
  });

  it('the loss that reaches the limit fails the run with crash_loop, and its node is not run again', async () => {
    const rec = await interruptedRun(1, true);
    const done = await until('failed', async () => {
      const r = await h.store.get(rec.run_id);
      return r?.status === 'failed' && r;
    });
    expect(done.error).toEqual({
      code: 'crash_loop', node: 'a', details: { losses: 2, limit: 2 },
      message: 'node a was in flight each time its worker was lost, 2 times in a row (it died, froze or was cut off past its lock); the run is failed so it takes down no more workers',
    });
    expect([done.lease, done.takeovers, done.finished_at !== null]).toEqual([null, 1, true]);
    expect(h.calls.filter((c) => c.key.startsWith(`${rec.run_id}:`))).toEqual([]);
    expect((await eventsOf(rec.run_id)).at(-1)).toMatchObject({ type: 'run_failed', node: 'a', data: { code: 'crash_loop' } });
    const job = (await h.queue.getJob(rec.run_id))!;
    await until('job completed', async () => (await job.getState()) === 'completed');
    expect([await takeovers('resumed'), await takeovers('crash_loop')]).toEqual([1, 1]);
  });
});
