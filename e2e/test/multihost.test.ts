import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { mkdtempSync, rmSync } from 'node:fs';
import { Redis } from 'ioredis';
import { ROOT, until, type Proc } from '../src/procs.js';
import { httpUnix, netnsUnavailable, startRelay, TestNetwork } from '../src/netns.js';

interface Call { run_id: string; action: string; outcome: string; executed: boolean; duplicate: boolean }
interface Ev { type: string; node?: string; data?: { worker?: string; visit?: number } }

const unavailable = netnsUnavailable();
if (unavailable) {
  // eslint-disable-next-line no-console
  console.warn(`SKIPPED multi-host test: this machine cannot create network namespaces (${unavailable})`);
}
const suite = unavailable ? describe.skip : describe;

/**
 * Four test hosts on one machine (network namespaces on one bridge, 10.77.0.0/24 inside them only):
 * Redis | API + gateway-sim | worker host A | worker host B. Host A is cut off (link down) while
 * its runs are in a tool call; they resume on host B. When A's link comes back, A gets its tool
 * answers and tries to commit them, and the run store's lease check (commit.lua) refuses every write.
 */
suite('several hosts (network namespaces): a cut-off worker host', () => {
  const net = new TestNetwork();
  // Unix sockets and Redis' dir; made in beforeAll (a skipped suite still runs this body)
  let dir = '';
  const apiSock = () => `${dir}/api.sock`;
  const simSock = () => `${dir}/sim.sock`;
  let redis: Redis | undefined;
  const PATH = process.env.PATH ?? '';
  const addr = (h: string) => net.host(h).addr;

  const api = <T = any>(method: string, path: string, body?: unknown) => httpUnix<T>(apiSock(), method, path, body);
  const sim = <T = any>(method: string, path: string, body?: unknown) => httpUnix<T>(simSock(), method, path, body).then((r) => r.body);
  const submit = async (service: string) => {
    const res = await api('POST', '/v1/graphs/release_check/runs', { agent_id: 'sofiia', input: { service, version: '1.0.0' } });
    if (res.status !== 202) throw new Error(`submit: ${res.status} ${JSON.stringify(res.body)}`);
    return res.body.run_id as string;
  };
  const events = async (id: string) => (await api<{ events: Ev[] }>('GET', `/v1/runs/${id}/events`)).body.events;
  const pendingStarts = async (ids: string[]) => {
    const { calls } = await sim<{ calls: Call[] }>('GET', '/_sim/calls?action=start_task');
    return calls.filter((c) => ids.includes(c.run_id) && c.outcome === 'pending').length;
  };
  const startWorker = async (host: string, concurrency: number): Promise<Proc> => {
    const w = net.start(host, process.execPath, [`${ROOT}apps/worker/dist/main.js`], {
      PATH, LOG_LEVEL: 'info', LOG_FORMAT: 'text', REDIS_URL: `redis://${addr('redis')}:6379`, KEY_PREFIX: 'hosts:',
      GATEWAY_URL: `http://${addr('api')}:8000`, SUPERVISOR_API_KEY: 'hosts-key', WORKER_CONCURRENCY: String(concurrency),
      WORKER_LOCK_MS: '2000', JOB_POLL_INTERVAL_SEC: '0.2',
    }, `worker-${host}`);
    await w.waitFor(/worker_ready/);
    return w;
  };

  beforeAll(async () => {
    dir = mkdtempSync('/tmp/sup-hosts-');
    net.create(['redis', 'api', 'wa', 'wb']);
    const r = net.start('redis', 'redis-server', [
      '--bind', addr('redis'), '--port', '6379', '--protected-mode', 'no', '--unixsocket', `${dir}/redis.sock`, '--unixsocketperm', '700',
      '--save', '', '--appendonly', 'no', '--maxmemory-policy', 'noeviction', '--dir', dir,
    ], { PATH }, 'redis');
    await r.waitFor(/Ready to accept connections/);
    redis = new Redis({ path: `${dir}/redis.sock`, maxRetriesPerRequest: 3 });
    const s = net.start('api', process.execPath, [`${ROOT}apps/gateway-sim/dist/main.js`], {
      PATH, SIM_HOST: '0.0.0.0', SIM_PORT: '8000', SIM_API_KEY: 'hosts-key', SIM_JOB_DURATION_MS: '1000',
    }, 'sim');
    await s.waitFor(/listening on/);
    const a = net.start('api', process.execPath, [`${ROOT}apps/api/dist/main.js`], {
      PATH, LOG_LEVEL: 'info', LOG_FORMAT: 'text', REDIS_URL: `redis://${addr('redis')}:6379`, KEY_PREFIX: 'hosts:',
      PORT: '8084', HOST: '0.0.0.0', GATEWAY_URL: `http://${addr('api')}:8000`,
    }, 'api');
    await a.waitFor(/api_listening/);
    await startRelay(net, 'api', { [apiSock()]: 8084, [simSock()]: 8000 });
  });

  afterAll(async () => {
    redis?.disconnect();
    await net.destroy();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('moves the cut-off host\'s runs to the other host; back online, the old owner writes nothing to them', async () => {
    // every start_task answers after 10 s: the runs sit in a tool call when host A is cut off
    await sim('PATCH', '/_sim/config', { latencyByTool: { 'job_orchestrator_tool.start_task': 10_000 } });
    const wa = await startWorker('wa', 4);
    const moved = await Promise.all([0, 1, 2, 3].map((i) => submit(`moved${i}`)));
    await until('host A to hold 4 runs in start_task', async () => (await pendingStarts(moved)) === 4, 30_000);
    // host B joins; its own 4 runs fill half its slots, so it has room for A's
    const wb = await startWorker('wb', 8);
    const stayed = await Promise.all([0, 1, 2, 3].map((i) => submit(`stayed${i}`)));
    await until('host B to hold its 4 runs in start_task', async () => (await pendingStarts(stayed)) === 4, 30_000);
    for (const id of moved) expect(wa.lines.some((l) => l.includes('gateway_call') && l.includes(`run=${id}`))).toBe(true);

    net.cut('wa');
    const byB = (e: Ev) => (e.type === 'run_resumed' || e.type === 'run_started') && String(e.data?.worker).endsWith(`:${wb.child.pid}`);
    await until('host B to take over every run of host A', async () => {
      for (const id of moved) if (!(await events(id)).some(byB)) return false;
      return true;
    }, 60_000, 200);
    // back online while B is still in its (repeated) start_task: A's answers now reach it
    net.restore('wa');

    const runs = await Promise.all([...moved, ...stayed].map((id) => until(`run ${id} to finish`, async () => {
      const r = (await api('GET', `/v1/runs/${id}`)).body;
      return ['succeeded', 'failed', 'cancelled'].includes(r.status) ? r : undefined;
    }, 90_000, 200)));
    expect(runs.map((r) => [r.status, r.error?.code ?? null])).toEqual(runs.map(() => ['succeeded', null])); // error codes in the failure message

    // A got its answers and tried to commit each moved run: commit.lua refused on the lease
    const refused = await until('host A to be refused on the lease for every moved run', async () => {
      const ids = moved.filter((id) => wa.lines.some((l) => new RegExp(`run_released run=${id} reason=lease`).test(l)));
      return ids.length === moved.length ? ids : undefined;
    }, 60_000, 200);
    expect(refused).toHaveLength(4);

    const { calls } = await sim<{ calls: Call[] }>('GET', '/_sim/calls?action=start_task');
    for (const id of moved) {
      const ev = await events(id);
      const takeover = ev.findIndex(byB);
      // nothing A computed landed: each node finished once, after B's takeover, and the run once
      const finished = ev.filter((e) => e.type === 'node_finished').map((e) => `${e.node}#${e.data?.visit}`);
      expect(new Set(finished).size).toBe(finished.length);
      expect(ev.findIndex((e) => e.type === 'node_finished' && e.node === 'start_job')).toBeGreaterThan(takeover);
      expect(ev.filter((e) => e.type === 'run_succeeded')).toHaveLength(1);
      const rec = (await api('GET', `/v1/runs/${id}`)).body;
      expect(rec.nodes.map((n: { node: string }) => n.node)).toEqual(['start_job', 'poll_job', 'result']);
      expect(rec.result.verdict).toBe('pass');
      // both hosts called start_task with one idempotency key; the side effect happened once
      const starts = calls.filter((c) => c.run_id === id);
      expect(starts.length).toBe(2);
      expect(starts.filter((c) => c.executed && !c.duplicate)).toHaveLength(1);
    }
    // the record in Redis (read over its Unix socket, not the network) agrees with the API
    const raw = JSON.parse((await redis!.get(`hosts:run:${moved[0]}`))!);
    expect(raw.status).toBe('succeeded');
    expect(raw.lease).toBeNull();
  });
});
