import { Queue, type ConnectionOptions, type JobsOptions } from 'bullmq';
import { QUEUES, JOB_NAMES, type RunJobData } from '@sup/contracts';

/**
 * BullMQ's key prefix. A deployment on Redis Cluster sets KEY_PREFIX to a hash tag such as
 * "{sup}:", and the queue keys then share the run keys' slot ("{sup}:runs:...").
 */
export function bullPrefix(keyPrefix: string): string {
  return keyPrefix ? keyPrefix.replace(/:$/, '') : 'bull';
}

/**
 * One job per run, id = run id, so a run can never be enqueued twice. Failed jobs are retried for
 * infrastructure errors only (a failed node ends the run, not the job). Finished jobs are kept as
 * long as the run record, so bull-board can show them, and no longer.
 */
export function runJobOptions(runId: string, ttlSec: number): JobsOptions {
  return {
    jobId: runId,
    attempts: 5,
    backoff: { type: 'exponential', delay: 1_000 },
    removeOnComplete: { age: ttlSec },
    removeOnFail: { age: ttlSec },
  };
}

export type RunQueue = Queue<RunJobData, unknown, string>;

export function createRunQueue(connection: ConnectionOptions, keyPrefix: string): RunQueue {
  return new Queue<RunJobData, unknown, string>(QUEUES.runs, { connection, prefix: bullPrefix(keyPrefix) });
}

/** A no-op when the run's job exists (in any state): the job id is the run id. */
export async function enqueueRun(queue: RunQueue, data: RunJobData, ttlSec: number, delayMs = 0): Promise<void> {
  await queue.add(JOB_NAMES.step, data, { ...runJobOptions(data.run_id, ttlSec), ...(delayMs > 0 ? { delay: delayMs } : {}) });
}

export const COMPENSATION_ATTEMPTS = 7;

/** Queues the compensation of a cancelled run that had started work (its graph's onCancel). */
export async function enqueueCompensation(queue: RunQueue, data: RunJobData, ttlSec: number): Promise<void> {
  await queue.add(JOB_NAMES.compensate, data, {
    // a gateway down for up to ~1 minute still gets the cancel: 1, 2, 4 … 32 s apart
    jobId: `${data.run_id}-cancel`, attempts: COMPENSATION_ATTEMPTS, backoff: { type: 'exponential', delay: 1_000 },
    removeOnComplete: { age: ttlSec }, removeOnFail: { age: ttlSec },
  });
}
