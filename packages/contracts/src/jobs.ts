import { z } from 'zod';

/**
 * The job catalog, shared by producer (api) and consumer (worker). Every payload is parsed with
 * its schema on dequeue.
 */
export const QUEUES = { runs: 'runs', schedules: 'schedules', webhooks: 'webhooks', housekeeping: 'housekeeping' } as const;

/** A schedule's BullMQ job scheduler emits one `tick` job per fire time on queue `schedules`. */
export const TickJobData = z.object({ schedule_id: z.string() });
export type TickJobData = z.infer<typeof TickJobData>;
export const TICK_JOB_NAME = 'tick';

/**
 * Housekeeping has a queue of its own, `housekeeping`: one BullMQ job scheduler emits a
 * `housekeeping` job every HOUSEKEEPING_EVERY_SEC, which one worker takes (the queue's global
 * concurrency is 1, so passes never overlap, however many workers there are). It removes what only
 * a later write would otherwise clean up (finished BullMQ jobs past RUN_TTL_SEC, listing-index
 * entries past their window), so an idle deployment empties too, and repairs live runs.
 * Until 2026-11-29 it rode on queue `schedules`, so pausing the schedules also stopped it; a worker
 * that still gets a `housekeeping` job there removes that old scheduler (`legacySchedulerId`).
 */
export const HOUSEKEEPING = { schedulerId: 'housekeeping', jobName: 'housekeeping', legacySchedulerId: '_housekeeping' } as const;

export const RunJobData = z.object({ run_id: z.string(), graph: z.string() });
export type RunJobData = z.infer<typeof RunJobData>;

/** `run` steps a run; `compensate` runs a cancelled run's graph.onCancel (best effort, once). */
export const JOB_NAMES = { step: 'run', compensate: 'compensate' } as const;

/**
 * One `deliver` job per finished run that has a webhook, on queue `webhooks`, job id
 * `<run_id>-webhook` (so a run's webhook is queued once however many processes see it finish).
 * Only the run id travels: the payload is built from the stored record when it is delivered.
 */
export const WebhookJobData = z.object({ run_id: z.string() });
export type WebhookJobData = z.infer<typeof WebhookJobData>;
export const WEBHOOK_JOB_NAME = 'deliver';
/** The one id a run's webhook job has: a job by another id (added by hand in bull-board) delivers nothing. */
export const webhookJobId = (runId: string): string => `${runId}-webhook`;
