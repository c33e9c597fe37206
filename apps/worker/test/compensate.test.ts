import { afterAll, describe, expect, it } from '@jest/globals';
import { Redis } from 'ioredis';
import { ToolError } from '@sup/contracts';
import { compileGraph, type StepDeps } from '@sup/engine';
import { releaseCheck } from '@sup/graphs';
import { newRunRecord } from '@sup/queue';
import { RunStore } from '@sup/run-store';
import { compensate, type CompensateDeps } from '../src/compensate.js';
import { capturedLog, REDIS_URL } from './harness.js';

const prefix = `t-comp-${process.pid}:`;
const redis = new Redis(REDIS_URL);
const store = new RunStore({ redis, prefix, ttlSec: 600 });
const graph = compileGraph(releaseCheck);
const { log, logs } = capturedLog();

afterAll(async () => {
  const ks = await redis.keys(`${prefix}*`);
  if (ks.length) await redis.del(...ks);
  await redis.quit();
});

type Req = Parameters<StepDeps['callTool']>[0];

/** A release check cancelled while start_task was in flight: compensation resends it, then cancels the job. */
async function cancelledRun(): Promise<string> {
  const rec = { ...newRunRecord({ graph: 'release_check', agentId: 'sofiia', input: { service: 'billing', version: '1.0.0', timeout_sec: 600 } }), status: 'cancelled' as const, current_node: 'start_job' };
  await store.create(rec, { events: [] });
  return rec.run_id;
}

function deps(answer: (req: Req) => unknown, calls: Req[]): CompensateDeps {
  return {
    store, log, graph: () => graph, timeoutMs: 5_000,
    tools: () => async (req) => {
      calls.push(req);
      const r = answer(req);
      if (r instanceof Error) throw r;
      return r as Record<string, unknown>;
    },
    runs: () => ({ start: async () => ({ run_id: 'x' }), get: async () => null, cancel: async () => undefined, unfinished: async () => [] }),
  };
}

const types = async (id: string) => (await store.events(id)).map((e) => e.type);

describe('compensation of a cancelled run', () => {
  it('throws a retryable failure while attempts are left (BullMQ retries), records compensation_failed on the last', async () => {
    const id = await cancelledRun();
    const calls: Req[] = [];
    const down = deps(() => new ToolError('gateway_unavailable', 'gateway answered 503', true), calls);
    await expect(compensate(down, id, false)).rejects.toMatchObject({ code: 'gateway_unavailable' });
    expect(await types(id)).toEqual([]);
    expect(logs.join('')).toMatch(new RegExp(`run_compensation_retry run=${id} graph=release_check code=gateway_unavailable`));
    expect(await compensate(down, id, true)).toBe('compensation_failed');
    expect(await store.events(id)).toMatchObject([{ type: 'compensation_failed', data: { code: 'gateway_unavailable' } }]);
  });

  it('a retry that gets through cancels the job, with the same idempotency keys as the failed attempt', async () => {
    const id = await cancelledRun();
    const calls: Req[] = [];
    let up = false;
    const d = deps((req) => (!up ? new ToolError('gateway_timeout', 'timed out', true) : req.action === 'start_task' ? { job_id: 'job_9' } : { job_id: 'job_9', status: 'cancelled' }), calls);
    await expect(compensate(d, id, false)).rejects.toBeInstanceOf(ToolError);
    up = true;
    expect(await compensate(d, id, false)).toBe('compensation_done');
    expect(calls.map((c) => [c.action, c.idempotencyKey])).toEqual([
      ['start_task', calls[0]!.idempotencyKey],
      ['start_task', calls[0]!.idempotencyKey],
      ['cancel_task', `${id}:on_cancel:1`],
    ]);
    expect(calls.at(-1)!.params).toEqual({ job_id: 'job_9' });
    expect(await types(id)).toEqual(['compensation_done']);
  });

  it('says so when the run to compensate is gone (expired, deleted)', async () => {
    expect(await compensate(deps(() => ({}), []), 'gr_gone000000', true)).toBe('skipped');
    expect(logs.join('')).toMatch(/run_compensation_skipped run=gr_gone000000 reason=run_missing/);
  });

  it('records a failure no retry can mend (401) at once, attempts left or not', async () => {
    const id = await cancelledRun();
    const d = deps(() => new ToolError('gateway_unauthorized', 'check SUPERVISOR_API_KEY', false), []);
    expect(await compensate(d, id, false)).toBe('compensation_failed');
    expect(await store.events(id)).toMatchObject([{ type: 'compensation_failed', data: { code: 'gateway_unauthorized' } }]);
  });
});
