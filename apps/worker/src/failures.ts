import type { Job } from 'bullmq';
import { isTerminal, RunJobData, type RunRecord } from '@sup/contracts';
import type { Logger } from '@sup/logging';
import type { RunStore } from '@sup/run-store';
import { failed } from './transitions.js';

/**
 * A job fails only on infrastructure errors (a failed node ends the run normally). Once BullMQ has
 * no attempts left, the run is marked failed so it does not sit in `running` forever.
 */
export async function onJobFailed(store: RunStore, log: Logger, job: Job | undefined, err: Error, onFinished?: (rec: RunRecord) => void): Promise<void> {
  if (!job) return;
  const parsed = RunJobData.safeParse(job.data);
  if (!parsed.success) return;
  const runId = parsed.data.run_id;
  const final = job.attemptsMade >= (job.opts.attempts ?? 1);
  log.error('run_graph error', { run: runId, error: err.message, attempt: job.attemptsMade, final });
  if (!final) return;
  try {
    const rec = await store.get(runId);
    if (!rec || isTerminal(rec.status)) return;
    const t = failed(rec, { code: 'worker_error', message: err.message }, Date.now());
    const res = await store.commit(runId, { ifStatus: [rec.status], record: t.record, events: t.events });
    if (res.ok) onFinished?.(t.record);
  } catch (e) {
    log.error('run_graph error', { run: runId, error: (e as Error).message, phase: 'mark_failed' });
  }
}
