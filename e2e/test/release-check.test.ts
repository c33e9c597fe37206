import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { until } from '../src/procs.js';
import { System } from '../src/system.js';

describe('release_check end to end (api + 2 workers + gateway-sim, real Redis)', () => {
  const sys = new System({ workers: 2, simEnv: { SIM_JOB_DURATION_MS: '600' } });
  beforeAll(() => sys.start());
  afterAll(() => sys.stop());

  it('answers the runbook health check', async () => {
    const res = await sys.api('GET', '/healthz');
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ status: 'ok', service: 'sofiia-supervisor', state_backend: 'redis', gateway_url: sys.simUrl });
    expect(res.body.graphs).toContain('release_check');
  });

  it('runs start_job → poll_job → result to a pass verdict, stored under run:<id> with a TTL', async () => {
    const id = await sys.submit('release_check', { service: 'billing', version: '1.4.2' });
    expect(id).toMatch(/^gr_/);
    const run = await sys.waitStatus(id, ['succeeded', 'failed']);
    expect(run.status).toBe('succeeded');
    expect(run.result).toMatchObject({ verdict: 'pass', service: 'billing', version: '1.4.2' });
    expect(run.nodes.map((n: any) => n.node)).toEqual(['start_job', 'poll_job', 'result']);
    expect(run.nodes.every((n: any) => n.status === 'succeeded')).toBe(true);
    expect(run.nodes[1].tool_calls).toBeGreaterThanOrEqual(2); // it polled and parked at least once

    const raw = JSON.parse((await sys.redis.get(`${sys.prefix}run:${id}`))!);
    expect(raw).toMatchObject({ run_id: id, status: 'succeeded' });
    const ttl = await sys.redis.ttl(`${sys.prefix}run:${id}`);
    expect(ttl).toBeGreaterThan(0);
    expect(ttl).toBeLessThanOrEqual(86_400);
    expect(await sys.redis.ttl(`${sys.prefix}run:${id}:events`)).toBeGreaterThan(0);

    const ev = await sys.api('GET', `/v1/runs/${id}/events`);
    // parking again to poll and waking up are not events: one node_waiting however often it polled
    expect(ev.body.events.map((e: any) => `${e.type}${e.node ? `:${e.node}` : ''}`)).toEqual([
      'run_created', 'run_started:start_job', 'node_finished:start_job', 'node_waiting:poll_job',
      'node_finished:poll_job', 'node_finished:result', 'run_succeeded',
    ]);
  });

  it('turns a failing check into a fail verdict with the check named', async () => {
    const id = await sys.submit('release_check', { service: 'billing', version: '2.0.0-bad' });
    const run = await sys.waitStatus(id, ['succeeded', 'failed']);
    expect(run.status).toBe('succeeded');
    expect(run.result.verdict).toBe('fail');
    expect(run.result.failed_checks.length).toBeGreaterThan(0);
  });

  it('logs gateway calls without the payload', async () => {
    const secret = 'svc-secret-payload-marker';
    const id = await sys.submit('release_check', { service: secret, version: '1.0.0' });
    await sys.waitStatus(id, ['succeeded', 'failed']);
    const lines = sys.workers.flatMap((w) => w.lines);
    expect(lines.some((l) => /\[INFO\] gateway_call tool=job_orchestrator_tool action=start_task node=start_job run=gr_\w+ hash=[0-9a-f]{6} size=\d+ attempt=1/.test(l))).toBe(true);
    // one summary line per finished run at info; the per-step node_done lines are debug only
    await until('the run_finished line', async () => sys.workers.flatMap((w) => w.lines).some((l) => l.includes(`run_finished run=${id}`)));
    const done = sys.workers.flatMap((w) => w.lines).filter((l) => l.includes(`run_finished run=${id}`));
    expect(done).toHaveLength(1);
    expect(done[0]).toMatch(new RegExp(`\\[INFO\\] run_finished run=${id} graph=release_check status=succeeded nodes=\\d+ tool_calls=\\d+ attempt=1 elapsed_ms=\\d+$`));
    expect(lines.some((l) => l.includes('node_done'))).toBe(false);
    expect(lines.some((l) => l.includes(secret))).toBe(false);
  });
});
