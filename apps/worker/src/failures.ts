import type { Job } from 'bullmq';
import { isTerminal, RunJobData, type RunRecord } from '@sup/contracts';
import type { Logger } from '@sup/logging';
import type { RunStore } from '@sup/run-store';
import { failed } from './transitions.js';

type Store = Pick<RunStore, 'read' | 'commit'>;

/** Re-reads after a refused write; another writer (a cancel, a step of a stalled pass) moved on. */
const MAX_TRIES = 5;

/**
 * One write marking the run, as read, failed (`worker_error`): it lands only if the stored JSON is
 * still exactly `read.raw`. True when it did.
 */
export async function failAsRead(store: Store, runId: string, read: { record: RunRecord; raw: string }, message: string, onFinished?: (rec: RunRecord) => void): Promise<boolean> {
  const t = failed(read.record, { code: 'worker_error', message }, Date.now());
  const res = await store.commit(runId, { ifStatus: [read.record.status], ifRaw: read.raw, record: t.record, events: t.events });
  if (res.ok) onFinished?.(t.record);
  return res.ok;
}

/**
 * Marks a live run failed (`worker_error`). The write lands only on the record exactly as read
 * (`ifRaw`): a step or a cancel committed meanwhile is re-read, never overwritten. True when this
 * call failed it; false when it was already finished or gone. Throws when Redis refuses.
 */
async function markFailed(store: Store, log: Logger, runId: string, message: string, onFinished?: (rec: RunRecord) => void): Promise<boolean> {
  for (let tries = 0; tries < MAX_TRIES; tries++) {
    const read = await store.read(runId);
    if (!read || isTerminal(read.record.status)) return false;
    if (await failAsRead(store, runId, read, message, onFinished)) return true;
  }
  log.error('run_graph error', { run: runId, error: 'record kept changing', phase: 'mark_failed' });
  return false;
}

/**
 * A job fails only on infrastructure errors (a failed node ends the run normally). Once BullMQ has
 * no attempts left, the run is marked failed so it does not sit in `running` forever. If Redis
 * refuses that write too, housekeeping finishes the job (repairLiveRuns in repair.ts).
 */
export async function onJobFailed(store: Store, log: Logger, job: Job | undefined, err: Error, onFinished?: (rec: RunRecord) => void): Promise<void> {
  if (!job) return;
  const parsed = RunJobData.safeParse(job.data);
  if (!parsed.success) return;
  const runId = parsed.data.run_id;
  // an UnrecoverableError fails the job at once, whatever attempts are left
  const final = err.name === 'UnrecoverableError' || job.attemptsMade >= (job.opts.attempts ?? 1);
  log.error('run_graph error', { run: runId, error: err.message, attempt: job.attemptsMade, final });
  if (!final) return;
  try {
    await markFailed(store, log, runId, err.message, onFinished);
  } catch (e) {
    log.error('run_graph error', { run: runId, error: (e as Error).message, phase: 'mark_failed' });
  }
}
