import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { Cluster } from 'ioredis';
import { System } from '../src/system.js';
import { startApp, until } from '../src/procs.js';
import { LocalCluster, nearlyFull } from '../src/redis-servers.js';

interface Call { run_id: string; action: string; outcome: string; idempotency_key: string; executed: boolean; duplicate: boolean }

/**
 * The core end-to-end cases on a real 3-master Redis Cluster, reached by configuration alone
 * (REDIS_CLUSTER_NODES + a hash-tagged KEY_PREFIX): store, Lua scripts, BullMQ and the cancel channel.
 */
describe('on a 3-master Redis Cluster (api + 2 workers + gateway-sim)', () => {
  let cluster: LocalCluster | undefined;
  let sys: System | undefined;
  const s = () => sys!;

  beforeAll(async () => {
    cluster = new LocalCluster(); // assigned first: afterAll stops what started even if start() fails
    await cluster.start(3);
    sys = new System({ workers: 2, redis: { clusterNodes: cluster.nodes }, simEnv: { SIM_JOB_DURATION_MS: '1200', SIM_LATENCY_MS: '100' } });
    await sys.start();
  });
  afterAll(async () => {
    await sys?.stop();
    await cluster?.stop();
  });

  it('refuses to start on a Cluster without a hash-tagged KEY_PREFIX, naming the variable', async () => {
    const api = startApp('api', { REDIS_CLUSTER_NODES: cluster!.nodes, KEY_PREFIX: 'plain:', PORT: '0' }, 'api-bad-prefix');
    expect(await api.exited).toBe(1);
    expect(api.lines.join('\n')).toMatch(/^invalid configuration: KEY_PREFIX="plain:": with REDIS_CLUSTER_NODES set, KEY_PREFIX must contain a hash tag/m);
  });

  it('runs release_check to a verdict, every key of the deployment in one slot on one master', async () => {
    const health = await s().api('GET', '/healthz');
    expect(health.status).toBe(200);
    expect(health.body.warnings).toBeUndefined(); // every master runs noeviction

    const id = await s().submit('release_check', { service: 'billing', version: '1.4.2' });
    const run = await s().waitStatus(id, ['succeeded', 'failed']);
    expect(run.status).toBe('succeeded');
    expect(run.result).toMatchObject({ verdict: 'pass', service: 'billing' });
    expect(run.nodes.map((n: { node: string }) => n.node)).toEqual(['start_job', 'poll_job', 'result']);
    const types = (await s().api('GET', `/v1/runs/${id}/events`)).body.events.map((e: { type: string }) => e.type);
    expect(types).toContain('node_waiting');
    expect(types.at(-1)).toBe('run_succeeded');

    // where the keys really are: scan every master
    const redis = s().redis as Cluster;
    const byNode = new Map<string, string[]>();
    for (const node of await s().masters()) {
      const [, keys] = await node.scan('0', 'MATCH', `${s().prefix}*`, 'COUNT', 10_000);
      if (keys.length) byNode.set(`${node.options.host}:${node.options.port}`, keys);
    }
    expect(byNode.size).toBe(1);
    const keys = [...byNode.values()][0]!;
    expect(keys).toEqual(expect.arrayContaining([`${s().prefix}run:${id}`, `${s().prefix}run:${id}:events`]));
    // BullMQ's queue keys share the slot (prefix "{e2e…}" → "{e2e…}:runs:…")
    expect(keys.some((k) => k.startsWith(`${s().prefix}runs:`))).toBe(true);
    const slots = new Set(await Promise.all(keys.map((k) => redis.cluster('KEYSLOT', k))));
    expect(slots.size).toBe(1);
  });

  it('cancels a running run by aborting its tool call (the cancel channel crosses the cluster) and a waiting one at once', async () => {
    await s().simApi('PATCH', '/_sim/config', { latencyByTool: { 'job_orchestrator_tool.start_task': 30_000 } });
    const hanging = await s().submit('release_check', { service: 'hang', version: '1.0.0' });
    await until('start_task in flight', async () => {
      const { calls } = await s().simApi<{ calls: Call[] }>('GET', `/_sim/calls?run_id=${hanging}&action=start_task`);
      return calls.some((c) => c.outcome === 'pending');
    });
    // the call in flight keeps its 30 s; compensation's resend of it is answered at once
    await s().simApi('PATCH', '/_sim/config', { latencyByTool: null });
    const res = await s().api('POST', `/v1/runs/${hanging}/cancel`, {});
    expect(res.status).toBe(202);
    expect(res.body.status).toBe('cancelling');
    expect((await s().waitStatus(hanging, ['cancelled', 'succeeded', 'failed'])).status).toBe('cancelled');
    await until('compensation done', async () => {
      const e = await s().api('GET', `/v1/runs/${hanging}/events`);
      return e.body.events.some((x: { type: string }) => x.type === 'compensation_done');
    });
    const { calls } = await s().simApi<{ calls: Call[] }>('GET', `/_sim/calls?run_id=${hanging}&action=start_task`);
    expect(calls.map((c) => c.outcome)).toEqual(['aborted', 'ok']);

    const waiter = await s().submit('release_check', { service: 'waiter', version: '1.0.0' });
    await s().waitStatus(waiter, ['waiting']);
    const res2 = await s().api('POST', `/v1/runs/${waiter}/cancel`, {});
    expect(res2.status).toBe(202);
    expect(res2.body.status).toBe('cancelled');
    expect((await s().api('POST', `/v1/runs/${waiter}/cancel`, {})).status).toBe(409);
  });

  it('a worker killed with SIGKILL mid-run costs nothing: its runs resume on the other worker and succeed', async () => {
    const ids = await Promise.all(Array.from({ length: 6 }, (_, i) => s().submit('release_check', { service: `ksvc${i}`, version: '1.0.0' })));
    const victim = s().workers[0]!;
    const pid = victim.child.pid!;
    const ofOurs = (l: string) => /gateway_call .*run=/.test(l) && ids.some((id) => l.includes(id));
    await until('the victim worker to own runs', async () => victim.lines.filter(ofOurs).length >= 2);
    // calls sent from now on take 3 s: the kill lands while one of the victim's is in flight
    await s().simApi('PATCH', '/_sim/config', { latencyMs: 3_000 });
    const from = victim.lines.length;
    await until('a call of the victim in flight', async () => victim.lines.slice(from).some(ofOurs));
    victim.child.kill('SIGKILL');
    await victim.exited;
    await s().simApi('PATCH', '/_sim/config', { latencyMs: 100 });

    const runs = await Promise.all(ids.map((id) => s().waitStatus(id, ['succeeded', 'failed', 'cancelled'], 90_000)));
    expect(runs.map((r) => [r.status, r.error?.code ?? null])).toEqual(ids.map(() => ['succeeded', null])); // error codes in the failure message
    const { calls } = await s().simApi<{ calls: Call[] }>('GET', '/_sim/calls?action=start_task');
    for (const id of ids) {
      const starts = calls.filter((c) => c.run_id === id);
      // a repeated start_task (the one in flight at the kill) carries the same idempotency key
      expect(new Set(starts.map((c) => c.idempotency_key)).size).toBe(1);
      expect(starts.filter((c) => c.executed && !c.duplicate)).toHaveLength(1);
    }
    const events = await Promise.all(ids.map((id) => s().api('GET', `/v1/runs/${id}/events`)));
    const takenOver = events.filter((e) => {
      const claims = e.body.events.filter((x: { type: string }) => x.type === 'run_started' || x.type === 'run_resumed');
      const i = claims.findIndex((x: { data?: { worker?: string } }) => String(x.data?.worker).endsWith(`:${pid}`));
      return i >= 0 && claims.slice(i + 1).some((x: { data?: { worker?: string } }) => !String(x.data?.worker).endsWith(`:${pid}`));
    });
    // on failure, the victim's last tool calls show whether any was still in flight at the kill
    const lastCalls = victim.lines.filter((l) => /gateway_(call|ok) /.test(l)).slice(-6);
    expect([takenOver.length > 0, lastCalls]).toEqual([true, lastCalls]);
  });

  it('housekeeping\'s scripts work on the cluster: it fills runs:live once and gives a run whose job was lost its job back', async () => {
    const id = await s().submit('release_check', { service: 'lost-job', version: '1.0.0' });
    await s().waitStatus(id, ['waiting']);
    // Redis loses the parked run's job (a failover): its hash and its place in the delayed set. In
    // one script, and only while the job is parked: polls wake it every 0.2 s, and a job lost while
    // active is another case (a hollow job, apps/worker/test/hollow-job.test.ts)
    const redis = s().redis as Cluster;
    const [job, delayed] = [`${s().bullPrefix}:runs:${id}`, `${s().bullPrefix}:runs:delayed`];
    const loseIfParked = "if redis.call('ZSCORE', KEYS[2], ARGV[1]) then redis.call('DEL', KEYS[1]); redis.call('ZREM', KEYS[2], ARGV[1]); return 1 end return 0";
    await until('the parked job lost', async () => (await redis.eval(loseIfParked, 2, job, delayed, id)) === 1);
    // a worker that runs housekeeping every second (the scheduler is the deployment's: all follow)
    const hk = await s().startWorker({ HOUSEKEEPING_EVERY_SEC: '1' });
    const run = await s().waitStatus(id, ['succeeded', 'failed'], 60_000);
    expect([run.status, run.error]).toEqual(['succeeded', null]); // the error, if any, in the failure message
    const restored = s().workers.flatMap((w) => w.lines).filter((l) => l.includes('run_job_restored') && l.includes(id));
    expect(restored.join('\n')).toMatch(/reason=job_missing/);
    expect(await redis.get(`${s().prefix}runs:live:filled`)).toMatch(/^\d{4}-/);
    expect(hk.lines.join('\n')).not.toMatch(/\[ERROR\]/);
  });

  it('admission looks at the master of the deployment\'s slot: another full master does not shed its creates', async () => {
    const redis = s().redis as Cluster;
    const slot = Number(await redis.call('CLUSTER', 'KEYSLOT', `${s().prefix}runs:live`));
    const masters = await s().masters();
    const ours = masters.find((n) => `${n.options.host}:${n.options.port}` === redis.slots[slot]![0])!;
    const other = masters.find((n) => n !== ours)!;
    const create = () => s().api('POST', '/v1/graphs/release_check/runs', { agent_id: 'sofiia', input: { service: 'admission', version: '1.0.0' } });
    try {
      await nearlyFull(other, 0.92);
      expect((await create()).status).toBe(202);
      await nearlyFull(ours, 0.92);
      const refused = await until('creates refused', async () => { const r = await create(); return r.status === 503 && r; });
      expect(refused.body.error.code).toBe('over_capacity');
    } finally {
      for (const node of masters) await node.config('SET', 'maxmemory', '0');
    }
    await until('creates accepted again', async () => (await create()).status === 202);
  });
});
