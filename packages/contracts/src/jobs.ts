import { z } from 'zod';

/**
 * The job catalog, shared by producer (api) and consumer (worker). Every payload is parsed with
 * its schema on dequeue.
 */
export const QUEUES = { runs: 'runs', schedules: 'schedules' } as const;

/** A schedule's BullMQ job scheduler emits one `tick` job per fire time on queue `schedules`. */
export const TickJobData = z.object({ schedule_id: z.string() });
export type TickJobData = z.infer<typeof TickJobData>;
export const TICK_JOB_NAME = 'tick';

export const RunJobData = z.object({ run_id: z.string(), graph: z.string() });
export type RunJobData = z.infer<typeof RunJobData>;

/** `run` steps a run; `compensate` runs a cancelled run's graph.onCancel (best effort, once). */
export const JOB_NAMES = { step: 'run', compensate: 'compensate' } as const;
