import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { System } from '../src/system.js';
import { until } from '../src/procs.js';

interface Call { run_id: string; node: string; tool: string; action: string; idempotency_key: string; duplicate: boolean; executed: boolean }

describe('a worker killed with SIGKILL mid-run costs nothing', () => {
  const sys = new System({ workers: 2, simEnv: { SIM_JOB_DURATION_MS: '1500', SIM_LATENCY_MS: '150' } });
  beforeAll(() => sys.start());
  afterAll(() => sys.stop());

  it('every run still succeeds and no finished node runs again', async () => {
    const ids = await Promise.all(Array.from({ length: 12 }, (_, i) => sys.submit('release_check', { service: `svc${i}`, version: '1.0.0' })));
    const victim = sys.workers[0]!;
    const pid = victim.child.pid!;
    // wait until the victim really holds runs, then kill it without warning while a call of its is in
    // flight: calls sent from now on take 3 s, so the kill cannot land after the answer
    await until('the victim worker to own runs', async () => victim.lines.filter((l) => l.includes('gateway_call')).length >= 3);
    await sys.simApi('PATCH', '/_sim/config', { latencyMs: 3_000 });
    const from = victim.lines.length;
    await until('a call of the victim in flight', async () => victim.lines.slice(from).some((l) => l.includes('gateway_call')));
    const before = await Promise.all(ids.map((id) => sys.run(id)));
    victim.child.kill('SIGKILL');
    await victim.exited;
    await sys.simApi('PATCH', '/_sim/config', { latencyMs: 150 });

    const runs = await Promise.all(ids.map((id) => sys.waitStatus(id, ['succeeded', 'failed', 'cancelled'], 90_000)));
    expect(runs.map((r) => [r.status, r.error?.code ?? null])).toEqual(ids.map(() => ['succeeded', null])); // error codes in the failure message

    const { calls } = await sys.simApi<{ calls: Call[] }>('GET', '/_sim/calls');
    for (const [i, id] of ids.entries()) {
      const mine = calls.filter((c) => c.run_id === id);
      // the side effect happened once: one key for start_task; a repeat (the call in flight when the
      // worker died) carries the same key, and the gateway executed it at most once
      const starts = mine.filter((c) => c.action === 'start_task');
      expect(new Set(starts.map((c) => c.idempotency_key)).size).toBe(1);
      expect(starts.filter((c) => c.executed && !c.duplicate)).toHaveLength(1);
      // a node that had finished before the kill is never called with a new key afterwards
      const finishedBefore = new Set(before[i].nodes.filter((n: any) => n.status === 'succeeded').map((n: any) => n.node));
      if (finishedBefore.has('start_job')) expect(starts).toHaveLength(1);
    }
    // runs the victim held were resumed by the other worker
    const events = await Promise.all(ids.map((id) => sys.api('GET', `/v1/runs/${id}/events`)));
    const takenOver = events.filter((e) => {
      const starts = e.body.events.filter((x: any) => x.type === 'run_started' || x.type === 'run_resumed');
      const victimIdx = starts.findIndex((x: any) => String(x.data?.worker).endsWith(`:${pid}`));
      return victimIdx >= 0 && starts.slice(victimIdx + 1).some((x: any) => !String(x.data?.worker).endsWith(`:${pid}`));
    });
    // on failure, the victim's last tool calls show whether any was still in flight at the kill
    const lastCalls = victim.lines.filter((l) => /gateway_(call|ok) /.test(l)).slice(-6);
    expect([takenOver.length > 0, lastCalls]).toEqual([true, lastCalls]);
  });
});

describe('a node whose worker keeps dying fails the run (crash loop) instead of taking down the next worker', () => {
  // start_task hangs for 10 minutes: each worker that takes the run over is killed with the call in flight
  const sys = new System({ workers: 1, simEnv: { SIM_LATENCY_MS: '600000' }, workerEnv: { CRASH_LOOP_LIMIT: '3' } });
  beforeAll(() => sys.start());
  afterAll(() => sys.stop());

  it('after 3 workers lost in a row in start_job the 4th fails the run with crash_loop and does not call the tool again', async () => {
    const id = await sys.submit('release_check', { service: 'poison', version: '1.0.0' });
    const pids: number[] = [];
    for (let loss = 1; loss <= 3; loss++) {
      const w = sys.workers.at(-1)!;
      // the gateway has the call (a worker logs gateway_call just before it sends it)
      await until(`worker ${loss}'s start_task to reach the gateway`, async () =>
        (await sys.simApi<{ calls: Call[] }>('GET', `/_sim/calls?run_id=${id}`)).calls.length === loss);
      pids.push(w.child.pid!);
      w.child.kill('SIGKILL');
      await w.exited;
      await sys.startWorker();
    }
    const run = await sys.waitStatus(id, ['succeeded', 'failed', 'cancelled'], 90_000);
    expect(run.status).toBe('failed');
    expect(run.error).toMatchObject({ code: 'crash_loop', node: 'start_job', details: { losses: 3, limit: 3 } });
    expect(run.takeovers).toBe(2);
    const last = sys.workers.at(-1)!;
    await until('the crash_loop error line', async () => last.lines.some((l) => /\[ERROR\] run_graph error .*node=start_job code=crash_loop/.test(l) && l.includes(id)));
    expect(last.lines.some((l) => l.includes('gateway_call') && l.includes(id))).toBe(false);

    const { calls } = await sys.simApi<{ calls: Call[] }>('GET', `/_sim/calls?run_id=${id}`);
    expect(calls.map((c) => c.action)).toEqual(['start_task', 'start_task', 'start_task']);
    expect(new Set(calls.map((c) => c.idempotency_key)).size).toBe(1);
    // each takeover is in the run's events, with the count so far
    const { body } = await sys.api('GET', `/v1/runs/${id}/events`);
    const resumed = body.events.filter((e: any) => e.type === 'run_resumed').map((e: any) => e.data.takeovers);
    expect(resumed).toEqual([1, 2]);
    const workers = body.events.filter((e: any) => e.type === 'run_started' || e.type === 'run_resumed').map((e: any) => Number(String(e.data.worker).split(':').at(-1)));
    expect(workers).toEqual(pids);
  });
});
