import { afterAll, describe, expect, it } from '@jest/globals';
import { Redis } from 'ioredis';
import { ToolError } from '@sup/contracts';
import { CancelService, createRunQueue, newRunRecord, submitRun } from '@sup/queue';
import { createKeys, RunStore } from '@sup/run-store';
import { cancelUnfinishedChildren, childKey, childRuns } from '../src/adapters.js';
import { capturedLog, REDIS_URL } from './harness.js';

const prefix = `t-child-${process.pid}:`;
const redis = new Redis(REDIS_URL);
const bull = new Redis(REDIS_URL, { maxRetriesPerRequest: null });
const store = new RunStore({ redis, prefix, ttlSec: 600 });
const queue = createRunQueue(bull, prefix);
const { log } = capturedLog();
const cancels = new CancelService({ store, queue, publisher: redis, channel: createKeys(prefix).cancelChannel, log, ttlSec: 600 });
const deps = { store, queue, ttlSec: 600 };
const triage = { service: 'payments' };

afterAll(async () => {
  await queue.obliterate({ force: true }).catch(() => undefined);
  await queue.close();
  const ks = await redis.keys(`${prefix}*`);
  if (ks.length) await redis.del(...ks);
  await Promise.all([redis.quit(), bull.quit()]);
});

async function parent(): Promise<string> {
  const { record } = await submitRun(deps, { graph: 'postmortem_draft', agentId: 'sofiia', input: { incident_id: 'inc_1' } });
  return record.run_id;
}

describe('child runs of a postmortem', () => {
  it('start one child per parent and graph, found again by a re-run of the node', async () => {
    const p = await parent();
    const runs = childRuns(deps, cancels, { runId: p, agentId: 'sofiia' });
    const first = await runs.start('incident_triage', triage);
    expect(await runs.start('incident_triage', triage)).toEqual(first);
    expect(await store.get(first.run_id)).toMatchObject({ parent_run_id: p, graph: 'incident_triage', agent_id: 'sofiia' });
    expect(await runs.unfinished()).toEqual([first.run_id]);
  });

  it('use a key no API client can send (it has spaces), and refuse a run under that key that is not the child', async () => {
    expect(childKey('gr_abc123', 'incident_triage')).toMatch(/ /);
    const p = await parent();
    // what a client sending the key first would have made: an unrelated run under the child's key
    const planted = newRunRecord({ graph: 'incident_triage', agentId: 'sofiia', input: { service: 'search' } });
    expect((await store.create(planted, { events: [], idempotencyKey: childKey(p, 'incident_triage') })).created).toBe(true);
    const runs = childRuns(deps, cancels, { runId: p, agentId: 'sofiia' });
    const err = await runs.start('incident_triage', triage).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ToolError);
    expect(err).toMatchObject({ code: 'child_run_conflict', retryable: false });
  });

  it('cancel a child started while the parent\'s cancel fired, and start none once it has', async () => {
    const p = await parent();
    const ac = new AbortController();
    // the cancel lands while the child is being created (the start cannot be aborted half-way)
    const racing = { ...deps, store: Object.create(store, { create: { value: async (...a: Parameters<RunStore['create']>) => { const r = await store.create(...a); ac.abort(); return r; } } }) as RunStore };
    const runs = childRuns(racing, cancels, { runId: p, agentId: 'sofiia' }, ac.signal);
    const { run_id } = await runs.start('incident_triage', triage);
    expect((await store.get(run_id))?.status).toBe('cancelled');
    expect(await runs.unfinished()).toEqual([]);

    const other = await parent();
    const late = childRuns(deps, cancels, { runId: other, agentId: 'sofiia' }, ac.signal);
    await expect(late.start('incident_triage', triage)).rejects.toThrow();
    expect((await store.list({ parentRunId: other, limit: 10 })).runs).toEqual([]);
  });

  it('cancelUnfinishedChildren cancels the unfinished children of a run, with the reason, and leaves finished ones', async () => {
    const p = await parent();
    const runs = childRuns(deps, cancels, { runId: p, agentId: 'sofiia' });
    const a = await runs.start('incident_triage', triage);
    const b = await runs.start('release_check', { service: 'x', version: '1' });
    await cancels.cancel((await store.get(b.run_id))!, 'done already');
    expect(await cancelUnfinishedChildren(store, cancels, p, 'parent failed')).toBe(1);
    expect((await store.get(a.run_id))?.status).toBe('cancelled');
    expect((await store.events(a.run_id)).at(-1)).toMatchObject({ type: 'run_cancelled', data: { reason: 'parent failed' } });
    expect(await cancelUnfinishedChildren(store, cancels, p, 'again')).toBe(0);
  });
});
