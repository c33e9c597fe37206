import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { createServer } from 'node:net';
import { ROOT, startProcess, stopProc, until, type Proc } from '../src/procs.js';
import { startRedisServer, stopRedisServer, type RedisServer } from '../src/redis-servers.js';

/**
 * The README's first command, `bash scripts/start.sh`, as a user runs it: the development gateway,
 * the API and two workers on the Redis of REDIS_URL (a throwaway one here), a run through them, and
 * Ctrl-C (SIGINT to start.sh alone: its processes run in sessions of their own) stopping everything
 * in order with nothing left behind.
 */
const freePort = () => new Promise<number>((resolve) => {
  const s = createServer().listen(0, '127.0.0.1', () => {
    const { port } = s.address() as { port: number };
    s.close(() => resolve(port));
  });
});

describe('scripts/start.sh', () => {
  let redis: RedisServer;
  let start: Proc;
  let api = '';
  const alive = (pid: number) => { try { process.kill(pid, 0); return true; } catch { return false; } };

  beforeAll(async () => {
    redis = await startRedisServer(['--maxmemory-policy', 'noeviction'], 'start');
    start = startProcess('bash', [`${ROOT}scripts/start.sh`], {
      PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/root',
      REDIS_URL: redis.url, PORT: '0', SIM_PORT: String(await freePort()), JOB_POLL_INTERVAL_SEC: '0.2', WORKERS: '2',
    }, 'start.sh');
    // install (a no-op here) and build (cached) come first
    const m = await start.waitFor(/^\[api\] .* api_listening port=(\d+)/, 120_000);
    api = `http://127.0.0.1:${m[1]}`;
    await until('both workers ready', async () => start.lines.filter((l) => /^\[worker[12]\] .* worker_ready/.test(l)).length === 2, 60_000);
  }, 180_000);
  afterAll(async () => {
    await stopProc(start, 'SIGKILL');
    await stopRedisServer(redis);
  });

  it('runs a release_check through the development gateway; each line names its process', async () => {
    const res = await fetch(`${api}/v1/graphs/release_check/runs`, {
      method: 'POST', headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ agent_id: 'sofiia', input: { service: 'billing', version: '1.4.2' } }),
    });
    expect(res.status).toBe(202);
    const { run_id: id } = (await res.json()) as { run_id: string };
    const done = await until('the run to finish', async () => {
      const r = (await (await fetch(`${api}/v1/runs/${id}`)).json()) as { status: string };
      return ['succeeded', 'failed', 'cancelled'].includes(r.status) ? r : undefined;
    }, 60_000, 100);
    expect(done.status).toBe('succeeded');
    expect(start.lines.some((l) => new RegExp(`^\\[worker[12]\\] \\S+Z \\[INFO\\] gateway_call tool=job_orchestrator_tool action=start_task node=start_job run=${id} `).test(l))).toBe(true);
    expect(start.lines.some((l) => /^\[gateway-sim\] /.test(l))).toBe(true);
  });

  it('Ctrl-C stops the workers first, then the API, then the gateway, and leaves no process', async () => {
    const pids = start.lines.map((l) => /child_started name=\w+ pid=(\d+)/.exec(l)).filter((m) => m).map((m) => Number(m![1]));
    expect(pids.filter(alive)).toHaveLength(3);
    start.child.kill('SIGINT');
    expect(await start.exited).toBe(130);
    const text = start.lines.join('\n');
    expect(text).toMatch(/==> stopping[\s\S]*\[worker\d\] .*worker_stopped[\s\S]*\[worker\d\] .*worker_stopped[\s\S]*\[api\] .*api_stopping[\s\S]*\[gateway-sim\] .*gateway_sim_stop/);
    expect(pids.filter(alive)).toEqual([]);
  });
});
