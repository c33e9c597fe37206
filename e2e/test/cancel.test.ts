import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { System } from '../src/system.js';
import { until } from '../src/procs.js';

interface Call { run_id: string; node: string; action: string; outcome: string; aborted: boolean; params?: { job_id?: string } }

/** Waits until the gateway-sim holds an unanswered call of this run, i.e. a tool call is in flight. */
const inFlight = (sys: System, runId: string, action: string) =>
  until(`${action} of ${runId} in flight`, async () => {
    const { calls } = await sys.simApi<{ calls: Call[] }>('GET', `/_sim/calls?run_id=${runId}&action=${action}`);
    return calls.some((c) => c.outcome === 'pending');
  });

/** Waits until the run's compensation finished, and says it did its work. */
async function compensated(sys: System, runId: string): Promise<void> {
  const done = await until('compensation recorded', async () => {
    const e = await sys.api('GET', `/v1/runs/${runId}/events`);
    return e.body.events.find((x: { type: string }) => x.type === 'compensation_done' || x.type === 'compensation_failed');
  });
  expect(done.type).toBe('compensation_done');
}

describe('cancellation (api ×2, workers ×2, gateway-sim; real processes)', () => {
  const sys = new System({ apis: 2, workers: 2, simEnv: { SIM_JOB_DURATION_MS: '60000' } });
  beforeAll(() => sys.start());
  afterAll(() => sys.stop());

  it('a queued run is cancelled at once and never starts', async () => {
    // fill every worker slot (2 workers × concurrency 10) with calls that hang
    await sys.simApi('PATCH', '/_sim/config', { latencyByTool: { 'job_orchestrator_tool.start_task': 120_000 } });
    const blockers = await Promise.all(Array.from({ length: 20 }, (_, i) => sys.submit('release_check', { service: `blk${i}`, version: '1' })));
    await until('20 hanging calls', async () => {
      const { calls } = await sys.simApi<{ calls: Call[] }>('GET', '/_sim/calls?action=start_task&outcome=pending');
      return calls.length === 20;
    });
    const queued = await sys.submit('release_check', { service: 'queued-one', version: '1' });
    const res = await sys.api('POST', `/v1/runs/${queued}/cancel`, { reason: 'e2e' });
    expect(res.status).toBe(202);
    expect(res.body.status).toBe('cancelled');
    const again = await sys.api('POST', `/v1/runs/${queued}/cancel`, {});
    expect(again.status).toBe(409);
    expect(again.body.error.details).toEqual({ status: 'cancelled' });
    // free the slots: cancelling the blockers aborts their hanging calls (the calls in flight keep
    // their latency; their compensation's are answered at once)
    await sys.simApi('PATCH', '/_sim/config', { latencyByTool: null });
    await Promise.all(blockers.map((id) => sys.api('POST', `/v1/runs/${id}/cancel`, {})));
    await Promise.all(blockers.map((id) => sys.waitStatus(id, ['cancelled'])));
    await Promise.all(blockers.map((id) => compensated(sys, id)));
    // with free slots now, the cancelled run still never starts
    const probe = await sys.submit('release_check', { service: 'probe', version: '1' });
    await sys.waitStatus(probe, ['waiting', 'succeeded']);
    const { calls } = await sys.simApi<{ calls: Call[] }>('GET', `/_sim/calls?run_id=${queued}`);
    expect(calls).toEqual([]);
    expect((await sys.run(queued)).status).toBe('cancelled');
    await sys.api('POST', `/v1/runs/${probe}/cancel`, {});
  });

  it('a waiting release_check is cancelled at once and its orchestrator job is cancelled too', async () => {
    const id = await sys.submit('release_check', { service: 'waiter', version: '1.0.0' });
    const waiting = await sys.waitStatus(id, ['waiting']);
    expect(waiting.current_node).toBe('poll_job');
    const res = await sys.api('POST', `/v1/runs/${id}/cancel`, { reason: 'release aborted' });
    expect(res.status).toBe(202);
    expect(res.body.status).toBe('cancelled');
    // the parked node is closed as cancelled, as a worker closes a node it was running
    expect(res.body.nodes.find((n: { node: string }) => n.node === 'poll_job').status).toBe('cancelled');
    const { calls: started } = await sys.simApi<{ calls: Call[] }>('GET', `/_sim/calls?run_id=${id}&action=start_task&full=1`);
    const cancelCall = await until('cancel_task at the gateway', async () => {
      const { calls } = await sys.simApi<{ calls: Call[] }>('GET', `/_sim/calls?run_id=${id}&action=cancel_task&full=1`);
      return calls.find((c) => c.outcome === 'ok');
    });
    const { jobs } = await sys.simApi<{ jobs: { job_id: string; status: string }[] }>('GET', '/_sim/jobs');
    const jobId = cancelCall.params?.job_id;
    expect(jobId).toBeDefined();
    expect(jobs.find((j) => j.job_id === jobId)?.status).toBe('cancelled');
    expect(started).toHaveLength(1);
    const ev = await sys.api('GET', `/v1/runs/${id}/events`);
    await until('compensation recorded', async () => {
      const e = await sys.api('GET', `/v1/runs/${id}/events`);
      return e.body.events.some((x: { type: string }) => x.type === 'compensation_done');
    });
    expect(ev.body.events.map((e: { type: string }) => e.type)).toContain('run_cancelled');
  });

  it('a run whose tool call hangs for 30 s is cancelled by aborting that call, and nothing after it runs', async () => {
    await sys.simApi('PATCH', '/_sim/config', { latencyByTool: { 'job_orchestrator_tool.start_task': 30_000 } });
    const id = await sys.submit('release_check', { service: 'hang', version: '1.0.0' });
    await inFlight(sys, id, 'start_task');
    // the call in flight keeps its 30 s; compensation's calls below are answered at once
    await sys.simApi('PATCH', '/_sim/config', { latencyByTool: null });
    const res = await sys.api('POST', `/v1/runs/${id}/cancel`, {});
    expect(res.status).toBe(202);
    expect(res.body.status).toBe('cancelling');
    const final = await sys.waitStatus(id, ['cancelled', 'succeeded', 'failed']);
    expect(final.status).toBe('cancelled');
    await compensated(sys, id);
    // the gateway saw the connection closed before it answered: the call did not run to its end,
    // and no node ran after it; compensation sent the same start_task again (it now started the
    // job, which this sim had not) and cancelled that job
    const { calls } = await sys.simApi<{ calls: Call[] }>('GET', `/_sim/calls?run_id=${id}&full=1`);
    expect(calls.filter((c) => c.action === 'start_task').map((c) => [c.node, c.outcome])).toEqual([['start_job', 'aborted'], ['start_job', 'ok']]);
    expect(calls.some((c) => c.action === 'get_task')).toBe(false);
    expect(calls.filter((c) => c.action === 'cancel_task').map((c) => [c.node, c.outcome])).toEqual([['on_cancel', 'ok']]);
  });

  it('a job the gateway created for a start_task the cancel aborted is found by that call\'s key and cancelled', async () => {
    // the orchestrator starts the job, then its answer never comes: the worst moment for a cancel
    await sys.simApi('PATCH', '/_sim/config', { timeoutRate: 1, timeoutExecutes: true });
    const id = await sys.submit('release_check', { service: 'orphan', version: '1.0.0' });
    await inFlight(sys, id, 'start_task');
    await sys.simApi('PATCH', '/_sim/config', { timeoutRate: null, timeoutExecutes: null });
    expect((await sys.api('POST', `/v1/runs/${id}/cancel`, {})).status).toBe(202);
    expect((await sys.waitStatus(id, ['cancelled', 'succeeded', 'failed'])).status).toBe('cancelled');
    await compensated(sys, id);
    const { calls } = await sys.simApi<{ calls: (Call & { idempotency_key: string })[] }>('GET', `/_sim/calls?run_id=${id}&full=1`);
    const starts = calls.filter((c) => c.action === 'start_task');
    // the same call twice (same key): the second answered from the first, no second job
    expect(starts.map((c) => c.outcome)).toEqual(['aborted', 'replayed']);
    expect(new Set(starts.map((c) => c.idempotency_key))).toEqual(new Set([`${id}:start_job:1.0:0`]));
    const { jobs } = await sys.simApi<{ jobs: { job_id: string; service: string; status: string }[] }>('GET', '/_sim/jobs');
    const mine = jobs.filter((j) => j.service === 'orphan');
    expect(mine).toHaveLength(1);
    expect(mine[0]!.status).toBe('cancelled');
    expect(calls.filter((c) => c.action === 'cancel_task').map((c) => c.params?.job_id)).toEqual([mine[0]!.job_id]);
  });

  it('a cancel sent to another API process reaches the worker that owns the run', async () => {
    await sys.simApi('PATCH', '/_sim/config', { latencyByTool: { 'job_orchestrator_tool.start_task': 30_000 } });
    const res0 = await sys.api('POST', '/v1/graphs/release_check/runs', { agent_id: 'sofiia', input: { service: 'cross', version: '1' } }, {}, sys.apiUrls[0]);
    const id = res0.body.run_id as string;
    await inFlight(sys, id, 'start_task');
    await sys.simApi('PATCH', '/_sim/config', { latencyByTool: null });
    const res1 = await sys.api('POST', `/v1/runs/${id}/cancel`, {}, {}, sys.apiUrls[1]);
    expect(res1.status).toBe(202);
    expect((await sys.waitStatus(id, ['cancelled', 'succeeded', 'failed'])).status).toBe('cancelled');
    await compensated(sys, id);
    // the node's call aborted; then compensation's resend of it
    const { calls } = await sys.simApi<{ calls: Call[] }>('GET', `/_sim/calls?run_id=${id}&action=start_task`);
    expect(calls.map((c) => c.outcome)).toEqual(['aborted', 'ok']);
  });
});
