import { Queue, type ConnectionOptions, type JobsOptions } from 'bullmq';
import { isTerminal, QUEUES, WEBHOOK_JOB_NAME, webhookJobId, type RunRecord, type WebhookJobData } from '@sup/contracts';
import { bullPrefix } from './queue.js';

export type WebhookQueue = Queue<WebhookJobData, unknown, string>;

export function createWebhookQueue(connection: ConnectionOptions, keyPrefix: string): WebhookQueue {
  return new Queue<WebhookJobData, unknown, string>(QUEUES.webhooks, { connection, prefix: bullPrefix(keyPrefix) });
}

export interface WebhookRetry {
  attempts: number;
  /** First backoff; doubles with each attempt (1 s, 2 s, 4 s, … 256 s by default). */
  delayMs: number;
}

/**
 * 10 attempts over about 8.5 minutes (plus their timeouts): a receiver that restarts or is
 * redeployed meanwhile still gets the webhook. (5 attempts, as before 2026-11-29, were spent in 15 s.)
 */
export const DEFAULT_WEBHOOK_RETRY: WebhookRetry = { attempts: 10, delayMs: 1_000 };

/**
 * The job id makes the webhook of a run a singleton: the worker that finishes the run, the API that
 * cancels it and a re-run of a finished job may all ask, one job exists. It is kept (and so keeps
 * deduplicating) as long as the run record lives.
 */
export function webhookJobOptions(runId: string, ttlSec: number, retry: WebhookRetry = DEFAULT_WEBHOOK_RETRY): JobsOptions {
  return {
    jobId: webhookJobId(runId),
    attempts: retry.attempts,
    backoff: { type: 'exponential', delay: retry.delayMs },
    removeOnComplete: { age: ttlSec },
    removeOnFail: { age: ttlSec },
  };
}

/** Queues the webhook of a finished run; a no-op for runs without one (or not finished). */
export async function enqueueWebhook(
  queue: WebhookQueue, rec: RunRecord, ttlSec: number, retry?: WebhookRetry,
): Promise<boolean> {
  if (!rec.webhook || !isTerminal(rec.status)) return false;
  await queue.add(WEBHOOK_JOB_NAME, { run_id: rec.run_id }, webhookJobOptions(rec.run_id, ttlSec, retry));
  return true;
}
