import type { Job } from 'bullmq';
import { isTerminal, RunJobData, type RunRecord } from '@sup/contracts';
import type { Logger } from '@sup/logging';
import type { RunStore } from '@sup/run-store';
import { failed } from './transitions.js';

/** Re-reads after a refused write; another writer (a cancel, a step of a stalled pass) moved on. */
const MAX_TRIES = 5;

/**
 * A job fails only on infrastructure errors (a failed node ends the run normally). Once BullMQ has
 * no attempts left, the run is marked failed so it does not sit in `running` forever. The write
 * lands only on the record exactly as read (`ifRaw`): a step or a cancel committed meanwhile is
 * re-read, never overwritten.
 */
export async function onJobFailed(store: Pick<RunStore, 'read' | 'commit'>, log: Logger, job: Job | undefined, err: Error, onFinished?: (rec: RunRecord) => void): Promise<void> {
  if (!job) return;
  const parsed = RunJobData.safeParse(job.data);
  if (!parsed.success) return;
  const runId = parsed.data.run_id;
  const final = job.attemptsMade >= (job.opts.attempts ?? 1);
  log.error('run_graph error', { run: runId, error: err.message, attempt: job.attemptsMade, final });
  if (!final) return;
  try {
    for (let tries = 0; tries < MAX_TRIES; tries++) {
      const read = await store.read(runId);
      if (!read || isTerminal(read.record.status)) return;
      const t = failed(read.record, { code: 'worker_error', message: err.message }, Date.now());
      const res = await store.commit(runId, { ifStatus: [read.record.status], ifRaw: read.raw, record: t.record, events: t.events });
      if (res.ok) return onFinished?.(t.record);
    }
    log.error('run_graph error', { run: runId, error: 'record kept changing', phase: 'mark_failed' });
  } catch (e) {
    log.error('run_graph error', { run: runId, error: (e as Error).message, phase: 'mark_failed' });
  }
}
