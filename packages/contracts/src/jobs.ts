import { z } from 'zod';

/**
 * The job catalog, shared by producer (api) and consumer (worker). Every payload is parsed with
 * its schema on dequeue.
 */
export const QUEUES = { runs: 'runs' } as const;

export const RunJobData = z.object({ run_id: z.string(), graph: z.string() });
export type RunJobData = z.infer<typeof RunJobData>;

/** `run` steps a run; `compensate` runs a cancelled run's graph.onCancel (best effort, once). */
export const JOB_NAMES = { step: 'run', compensate: 'compensate' } as const;
