import { PassThrough } from 'node:stream';
import { afterAll, describe, expect, it } from '@jest/globals';
import { UnrecoverableError, type Job } from 'bullmq';
import { createLogger } from '@sup/logging';
import type { RunStore } from '@sup/run-store';
import { onJobFailed } from '../src/failures.js';
import { harness } from './harness.js';

// no worker started: the runs stay where each test puts them
const h = harness();
afterAll(() => h.close());

const log = createLogger({ service: 'worker-test', stream: new PassThrough().resume() });
const jobOf = (runId: string, attemptsMade: number) => ({ data: { run_id: runId, graph: 'abc' }, attemptsMade, opts: { attempts: 3 } }) as unknown as Job;
const boom = new Error('redis went away');

describe('a job out of attempts marks its run failed', () => {
  it('on the last attempt only, with the error, once', async () => {
    const { record } = await h.submit();
    const finished: string[] = [];
    await onJobFailed(h.store, log, jobOf(record.run_id, 2), boom, (r) => finished.push(r.status));
    expect((await h.store.get(record.run_id))!.status).toBe('queued');
    await onJobFailed(h.store, log, jobOf(record.run_id, 3), boom, (r) => finished.push(r.status));
    const rec = (await h.store.get(record.run_id))!;
    expect(rec).toMatchObject({ status: 'failed', error: { code: 'worker_error', message: 'redis went away' }, lease: null });
    expect(finished).toEqual(['failed']);
    // a finished run is left alone
    await onJobFailed(h.store, log, jobOf(record.run_id, 3), new Error('again'), (r) => finished.push(r.status));
    expect((await h.store.get(record.run_id))!.error?.message).toBe('redis went away');
    expect(finished).toEqual(['failed']);
    expect((await h.store.events(record.run_id)).filter((e) => e.type === 'run_failed')).toHaveLength(1);
  });

  it('an UnrecoverableError is final on any attempt: the run is marked failed at once', async () => {
    const { record } = await h.submit();
    await onJobFailed(h.store, log, jobOf(record.run_id, 1), new UnrecoverableError('cannot go on'));
    expect((await h.store.get(record.run_id))!).toMatchObject({ status: 'failed', error: { code: 'worker_error', message: 'cannot go on' } });
  });

  it('does not overwrite a step committed between its read and its write: it re-reads', async () => {
    const { record } = await h.submit();
    const stale = (await h.store.read(record.run_id))!;
    // a step of a pass that is still going (its job stalled out) lands after the read
    const newer = { ...stale.record, metadata: { step: 'committed after the read' }, updated_at: new Date().toISOString() };
    expect((await h.store.commit(record.run_id, { ifStatus: ['queued'], record: newer })).ok).toBe(true);
    let reads = 0;
    const racing = Object.assign(Object.create(h.store) as RunStore, {
      read: async (id: string) => (reads++ === 0 ? stale : h.store.read(id)),
    });
    await onJobFailed(racing, log, jobOf(record.run_id, 3), boom);
    expect(reads).toBe(2);
    expect((await h.store.get(record.run_id))!).toMatchObject({ status: 'failed', metadata: { step: 'committed after the read' } });
  });
});
