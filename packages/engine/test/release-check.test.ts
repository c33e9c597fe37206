import { describe, expect, it } from '@jest/globals';
import { ToolError } from '@sup/contracts';
import { jittered, releaseCheck } from '@sup/graphs';
import { compileGraph, type StepOutcome } from '../src/index.js';
import { drive, fakeDeps, type ToolReq } from './helpers.js';

const g = compileGraph(releaseCheck);
const input = { service: 'payments', version: '1.4.2', checks: ['smoke', 'migrations'] };
const allPass = [{ name: 'smoke', status: 'pass', detail: 'ok' }, { name: 'migrations', status: 'pass', detail: '3 applied' }];

/** A job orchestrator that answers get_task from a script (the last answer repeats). */
function orchestrator(tasks: Array<Record<string, unknown> | Error>, start: Record<string, unknown> = { job_id: 'job_7', queue: 'ci' }) {
  let i = 0;
  return (req: ToolReq) => {
    if (req.action === 'start_task') return start;
    const t = tasks[Math.min(i++, tasks.length - 1)]!;
    if (t instanceof Error) throw t;
    return { job_id: 'job_7', ...t };
  };
}

/** Drives the run; every park moves the fake clock forward by its delay, as BullMQ would. */
async function run(tasks: Parameters<typeof orchestrator>[0], runInput: Record<string, unknown> = input, start?: Record<string, unknown>) {
  const f = fakeDeps(orchestrator(tasks, start));
  const os = await drive(g, runInput, f.deps, (o) => o.kind === 'waiting' && f.advance(o.delayMs));
  return { os, calls: f.calls, last: os.at(-1)! };
}
const summary = (os: StepOutcome[]) => os.map((o) => (o.kind === 'waiting' ? `waiting:${o.node}:${o.reason}` : `${o.kind}:${o.node}`));

describe('release_check through the engine', () => {
  it('starts the job, polls while it runs, and gives a pass verdict', async () => {
    const { os, calls, last } = await run([{ status: 'queued' }, { status: 'running' }, { status: 'succeeded', checks: allPass, extra: 1 }]);
    expect(summary(os)).toEqual([
      'advanced:start_job', 'waiting:poll_job:job_running', 'waiting:poll_job:job_running', 'advanced:poll_job', 'succeeded:result',
    ]);
    // JOB_POLL_INTERVAL_SEC ±10 %, reproducible from run id and poll number
    expect(os[1]).toMatchObject({ delayMs: jittered(3_000, 'gr_test:1') });
    expect((os[2] as { delayMs: number }).delayMs).toBe(jittered(3_000, 'gr_test:2'));
    expect(calls[0]).toMatchObject({ tool: 'job_orchestrator_tool', action: 'start_task', params: { task: 'release_check', service: 'payments', version: '1.4.2', checks: ['smoke', 'migrations'] } });
    expect(calls.slice(1).map((c) => [c.action, c.params, c.idempotencyKey])).toEqual([
      ['get_task', { job_id: 'job_7' }, 'gr_test:poll_job:1.0:0'],
      ['get_task', { job_id: 'job_7' }, 'gr_test:poll_job:1.1:0'],
      ['get_task', { job_id: 'job_7' }, 'gr_test:poll_job:1.2:0'],
    ]);
    expect(last).toMatchObject({
      kind: 'succeeded',
      result: {
        verdict: 'pass', service: 'payments', version: '1.4.2', job_id: 'job_7', job_status: 'succeeded', failed_checks: [],
        checks: allPass, summary: expect.stringContaining('2/2 checks passed'),
      },
    });
  });

  it('names the orchestrator job in its steps (refs): start_job\'s outcome, every park of poll_job, its end', async () => {
    const { os } = await run([{ status: 'running' }, { status: 'succeeded', checks: allPass }]);
    expect(os.map((o) => [o.node, o.kind, o.refs])).toEqual([
      ['start_job', 'advanced', { job_id: 'job_7' }],
      ['poll_job', 'waiting', { job_id: 'job_7' }],
      ['poll_job', 'advanced', { job_id: 'job_7' }],
      ['result', 'succeeded', undefined],
    ]);
  });

  it('gives a fail verdict naming the failed check', async () => {
    const checks = [{ name: 'smoke', status: 'pass', detail: 'ok' }, { name: 'migrations', status: 'fail', detail: 'lock timeout' }];
    const { last } = await run([{ status: 'failed', checks }]);
    expect(last).toMatchObject({ kind: 'succeeded', result: { verdict: 'fail', job_status: 'failed', failed_checks: ['migrations'], summary: expect.stringContaining('migrations') } });
  });

  it('keeps what a failed job said about itself in the verdict (job_error, and the summary)', async () => {
    for (const error of ['runner crashed: OOM', { message: 'runner crashed: OOM', code: 137 }]) {
      const { last } = await run([{ status: 'failed', checks: [], error }]);
      expect(last).toMatchObject({ kind: 'succeeded', result: { verdict: 'fail', job_error: 'runner crashed: OOM', summary: expect.stringContaining('job job_7 failed (runner crashed: OOM)') } });
    }
    // a succeeded job's stray error field is not a failure reason
    const { last } = await run([{ status: 'succeeded', checks: allPass, error: 'old' }]);
    expect((last as { result: Record<string, unknown> }).result).not.toHaveProperty('job_error');
  });

  it('omits checks from start_task when none were asked for', async () => {
    const { calls, last } = await run([{ status: 'succeeded', checks: [] }], { service: 's', version: 'v' });
    expect(calls[0]!.params).toEqual({ task: 'release_check', service: 's', version: 'v' });
    expect(last).toMatchObject({ result: { verdict: 'pass', checks: [] } });
  });

  it('fails with job_timeout once timeout_sec has passed since the first poll', async () => {
    const { os, last } = await run([{ status: 'running' }], { ...input, timeout_sec: 10 });
    // polls about every 3 s (±10 %), the last wait clipped so that the final poll lands on the 10 s deadline
    const waits = os.filter((o) => o.kind === 'waiting').map((o) => (o as { delayMs: number }).delayMs);
    expect(waits.slice(0, -1).every((d, i) => d === jittered(3_000, `gr_test:${i + 1}`))).toBe(true);
    expect(waits.slice(0, -1).every((d) => d >= 2_700 && d <= 3_300)).toBe(true);
    expect(waits.reduce((a, b) => a + b, 0)).toBe(10_000);
    expect(waits.at(-1)!).toBeLessThan(jittered(3_000, `gr_test:${waits.length}`));
    expect(last).toMatchObject({ kind: 'failed', node: 'poll_job', error: { code: 'job_timeout', node: 'poll_job', message: expect.stringContaining('job_7'), details: { attempts: 1 } } });
  });

  it('cancels the job it gives up on at job_timeout, and says so; a cancel that fails is said too', async () => {
    const { calls, last } = await run([{ status: 'running' }], { ...input, timeout_sec: 4 });
    expect(calls.at(-1)).toMatchObject({ action: 'cancel_task', params: { job_id: 'job_7' } });
    expect(calls.filter((c) => c.action === 'cancel_task')).toHaveLength(1);
    expect(last).toMatchObject({ kind: 'failed', error: { code: 'job_timeout', message: expect.stringMatching(/; cancelled it$/), details: { cancel: 'cancelled' } } });

    const f = fakeDeps((req) => {
      if (req.action === 'start_task') return { job_id: 'job_8' };
      if (req.action === 'cancel_task') throw new ToolError('gateway_unavailable', 'down', true);
      return { job_id: 'job_8', status: 'queued' };
    });
    const os = await drive(g, { ...input, timeout_sec: 4 }, f.deps, (o) => o.kind === 'waiting' && f.advance(o.delayMs));
    expect(os.at(-1)).toMatchObject({ kind: 'failed', error: { code: 'job_timeout', message: expect.stringMatching(/cancelling it failed/), details: { cancel: 'cancel_failed' } } });
  });

  it('fails with malformed_result on an unknown job status or non-array checks, without retrying', async () => {
    for (const bad of [{ status: 'exploded' }, { status: 'succeeded', checks: 'all good' }]) {
      const { os, last } = await run([bad]);
      expect(os).toHaveLength(2);
      expect(last).toMatchObject({ kind: 'failed', node: 'poll_job', error: { code: 'malformed_result', message: expect.stringContaining('get_task') } });
    }
  });

  it('fails with malformed_result when start_task returns no job_id', async () => {
    const { os, last } = await run([], input, { id: 'nope' });
    expect(os).toHaveLength(1);
    expect(last).toMatchObject({ kind: 'failed', error: { code: 'malformed_result', node: 'start_job', message: 'job_orchestrator_tool.start_task returned no usable job_id (job_id: Invalid input: expected string, received undefined)' } });
  });

  it('a malformed get_task result keeps at most 10 issues, however many items were wrong', async () => {
    const checks = Array.from({ length: 1_000 }, () => 1); // MAX_CHECKS wrong items (more are refused unread)
    const { last } = await run([{ status: 'succeeded', checks }], input);
    const error = (last as { error: { message: string; details: { issues: unknown[]; issue_count: number; job_id: string } } }).error;
    expect(error).toMatchObject({ code: 'malformed_result', node: 'poll_job' });
    expect(error.details.issues).toHaveLength(10);
    expect(error.details).toMatchObject({ issue_count: 1_000, job_id: expect.any(String) });
    expect(error.message).toMatch(/^job_orchestrator_tool\.get_task returned a malformed result for job \S+ \(checks\.0, checks\.1, .*checks\.9 and 990 more issues\)$/);
    expect(JSON.stringify(error).length).toBeLessThan(3_000);
  });

  it('retries a transient get_task failure and keeps the poll clock', async () => {
    const { os, last } = await run([{ status: 'running' }, new ToolError('upstream_5xx', '502 from router', true), { status: 'succeeded', checks: allPass }], { ...input, timeout_sec: 5 });
    expect(summary(os)).toEqual(['advanced:start_job', 'waiting:poll_job:job_running', 'waiting:poll_job:retry', 'advanced:poll_job', 'succeeded:result']);
    expect(last).toMatchObject({ result: { verdict: 'pass' } });
  });

  it('fails the first step with invalid_input when the input does not match the schema', async () => {
    const { os, last } = await run([], { version: '1' });
    expect(os).toHaveLength(1);
    expect(last).toMatchObject({ kind: 'failed', node: 'start_job', snapshot: null, error: { code: 'invalid_input' } });
  });
});
