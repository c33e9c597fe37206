import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { startApp, stopProc, until, type Proc } from '../src/procs.js';
import { REDIS_URL, System } from '../src/system.js';

/**
 * apps/launcher, the `sofiia-supervisor` container's command: the API and its workers as one
 * process tree with one stdout, so the runbook's
 *   docker logs sofiia-supervisor 2>&1 | grep "gateway_call\|gateway_ok\|gateway_tool_fail"
 * finds the tool calls, as it did in the MVP's single container.
 */
describe('launcher: the API and its workers as one unit', () => {
  const sys = new System({ workers: 0, apis: 0 });
  let launcher: Proc;
  const alive = (pid: number) => { try { process.kill(pid, 0); return true; } catch { return false; } };
  const pids = (p: Proc, name: string) => p.lines.map((l) => new RegExp(`child_started name=${name} pid=(\\d+)`).exec(l)).filter((m) => m).map((m) => Number(m![1]));
  const start = async () => {
    const p = startApp('launcher', {
      REDIS_URL, KEY_PREFIX: sys.prefix, LOG_FORMAT: 'text', PORT: '0', HOST: '127.0.0.1', WORKERS: '2',
      GATEWAY_URL: sys.simUrl, SUPERVISOR_API_KEY: 'e2e-key', JOB_POLL_INTERVAL_SEC: '0.2', WORKER_LOCK_MS: '2000',
    });
    const m = await p.waitFor(/api_listening port=(\d+)/);
    await until('both workers ready', async () => p.lines.filter((l) => l.includes('worker_ready')).length === 2);
    sys.apiUrls = [`http://127.0.0.1:${m[1]}`];
    return p;
  };

  beforeAll(async () => {
    await sys.start();
    launcher = await start();
  });
  afterAll(async () => {
    await stopProc(launcher, 'SIGKILL');
    await sys.stop();
  });

  it('prints the workers\' tool calls on its own stdout, in the runbook\'s format', async () => {
    const id = await sys.submit('release_check', { service: 'billing', version: '1.4.2' });
    await sys.waitStatus(id, ['succeeded']);
    const calls = launcher.lines.filter((l) => l.includes(`run=${id}`) && /\] gateway_(call|ok|tool_fail) /.test(l));
    expect(calls.find((l) => l.includes('gateway_call'))).toMatch(/^\S+Z \[INFO\] gateway_call tool=job_orchestrator_tool action=start_task node=start_job run=gr_\w+ hash=\w+ size=\d+ attempt=1$/);
    expect(calls.some((l) => /\[INFO\] gateway_ok tool=job_orchestrator_tool node=start_job run=\S+ elapsed_ms=\d+/.test(l))).toBe(true);
  });

  it('starts a killed worker again, and its runs go on', async () => {
    const [first] = pids(launcher, 'worker1');
    process.kill(first!, 'SIGKILL');
    await launcher.waitFor(/child_exited name=worker1 code=null signal=SIGKILL/);
    await until('worker1 ready again', async () => pids(launcher, 'worker1').length === 2 && launcher.lines.filter((l) => l.includes('worker_ready')).length === 3);
    const id = await sys.submit('incident_triage', { service: 'billing' });
    await sys.waitStatus(id, ['succeeded']);
  });

  it('SIGTERM stops the workers, then the API, and exits 0 with no process left', async () => {
    const children = [...pids(launcher, 'api'), ...pids(launcher, 'worker\\d')].filter(alive);
    expect(children).toHaveLength(3);
    launcher.child.kill('SIGTERM');
    expect(await launcher.exited).toBe(0);
    const text = launcher.lines.join('\n');
    expect(text).toMatch(/child_stopped name=worker\d[\s\S]*child_stopped name=worker\d[\s\S]*api_stopping[\s\S]*launcher_stopped code=0/);
    expect(children.filter(alive)).toEqual([]);
  });

  it('a bad variable of the API or the workers is one line and exit 1, before any child starts', async () => {
    for (const [env, line] of [[{ PORT: 'eighty' }, /^invalid configuration: PORT="eighty"/], [{ WORKER_CONCURRENCY: '0' }, /^invalid configuration: WORKER_CONCURRENCY="0"/]] as const) {
      const p = startApp('launcher', { REDIS_URL, KEY_PREFIX: sys.prefix, ...env });
      expect(await p.exited).toBe(1);
      expect(p.lines).toEqual([expect.stringMatching(line)]);
    }
  });

  it('killed itself (SIGKILL), takes its children along: they stop as on SIGTERM', async () => {
    launcher = await start();
    const children = [...pids(launcher, 'api'), ...pids(launcher, 'worker\\d')];
    expect(children.filter(alive)).toHaveLength(3);
    launcher.child.kill('SIGKILL');
    await until('every child gone', async () => children.every((pid) => !alive(pid)));
  });
});
