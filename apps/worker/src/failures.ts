import type { Job } from 'bullmq';
import { isTerminal, JOB_NAMES, RunJobData, type RunRecord } from '@sup/contracts';
import type { Logger } from '@sup/logging';
import type { RunQueue } from '@sup/queue';
import { StoreError, type RunStore } from '@sup/run-store';
import { failed } from './transitions.js';

type Store = Pick<RunStore, 'read' | 'commit'>;

/** Re-reads after a refused write; another writer (a cancel, a step of a stalled pass) moved on. */
const MAX_TRIES = 5;

/**
 * Marks a live run failed (`worker_error`). The write lands only on the record exactly as read
 * (`ifRaw`): a step or a cancel committed meanwhile is re-read, never overwritten. True when this
 * call failed it; false when it was already finished or gone. Throws when Redis refuses.
 */
async function markFailed(store: Store, log: Logger, runId: string, message: string, onFinished?: (rec: RunRecord) => void): Promise<boolean> {
  for (let tries = 0; tries < MAX_TRIES; tries++) {
    const read = await store.read(runId);
    if (!read || isTerminal(read.record.status)) return false;
    const t = failed(read.record, { code: 'worker_error', message }, Date.now());
    const res = await store.commit(runId, { ifStatus: [read.record.status], ifRaw: read.raw, record: t.record, events: t.events });
    if (res.ok) {
      onFinished?.(t.record);
      return true;
    }
  }
  log.error('run_graph error', { run: runId, error: 'record kept changing', phase: 'mark_failed' });
  return false;
}

/**
 * A job fails only on infrastructure errors (a failed node ends the run normally). Once BullMQ has
 * no attempts left, the run is marked failed so it does not sit in `running` forever. If Redis
 * refuses that write too, housekeeping finishes the job (failOrphanedRuns).
 */
export async function onJobFailed(store: Store, log: Logger, job: Job | undefined, err: Error, onFinished?: (rec: RunRecord) => void): Promise<void> {
  if (!job) return;
  const parsed = RunJobData.safeParse(job.data);
  if (!parsed.success) return;
  const runId = parsed.data.run_id;
  const final = job.attemptsMade >= (job.opts.attempts ?? 1);
  log.error('run_graph error', { run: runId, error: err.message, attempt: job.attemptsMade, final });
  if (!final) return;
  try {
    await markFailed(store, log, runId, err.message, onFinished);
  } catch (e) {
    log.error('run_graph error', { run: runId, error: (e as Error).message, phase: 'mark_failed' });
  }
}

/** Failed jobs read per call, and calls per pass: one pass stays short. */
const BATCH = 500;
const MAX_BATCHES = 40;

/**
 * Runs whose job is in BullMQ's failed set (out of attempts) while the run itself is still live:
 * the final attempt's mark-failed write was refused (Redis down or out of memory then), or the
 * process died between the two. Nothing would ever move them again, so they are marked failed
 * with the job's failure reason. Returns how many.
 */
export async function failOrphanedRuns(queue: RunQueue, store: Store, log: Logger, onFinished?: (rec: RunRecord) => void): Promise<number> {
  let n = 0;
  for (let b = 0; b < MAX_BATCHES; b++) {
    const jobs = await queue.getFailed(b * BATCH, (b + 1) * BATCH - 1);
    for (const job of jobs) {
      const parsed = RunJobData.safeParse(job.data);
      if (job.name !== JOB_NAMES.step || !parsed.success) continue;
      const runId = parsed.data.run_id;
      // a hand-broken record: nothing to mark (the API reports it); Redis errors still go up
      const marked = await markFailed(store, log, runId, job.failedReason || 'job failed', onFinished).catch((e: unknown) => {
        if (e instanceof StoreError) return false;
        throw e;
      });
      if (marked) {
        log.error('run_graph error', { run: runId, error: job.failedReason, phase: 'orphan_failed' });
        n++;
      }
    }
    if (jobs.length < BATCH) break;
  }
  return n;
}
