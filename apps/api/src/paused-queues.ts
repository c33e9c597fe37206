import type { Queue } from 'bullmq';

/** What stops while each queue is paused (bull-board's pause, /admin/queues). */
const STOPS: Record<string, string> = {
  runs: 'no run starts or resumes',
  schedules: 'no schedule fires (next_fire_at passes by)',
  webhooks: 'no webhook is delivered',
  housekeeping: 'no housekeeping pass runs (no repairs)',
};

/** Which of `queues` are paused now, by name (Queue#isPaused: one HEXISTS each). */
export async function pausedQueues(queues: readonly Pick<Queue, 'name' | 'isPaused'>[]): Promise<Map<string, boolean>> {
  const paused = await Promise.all(queues.map((q) => q.isPaused()));
  return new Map(queues.map((q, i) => [q.name, paused[i]!]));
}

/**
 * /healthz `warnings` for the paused queues. A paused queue is an operator's choice, so the status
 * stays ok; but it was invisible: waiting jobs only, and the workers healthy.
 */
export async function pausedWarnings(queues: readonly Pick<Queue, 'name' | 'isPaused'>[]): Promise<string[]> {
  return [...(await pausedQueues(queues))].filter(([, p]) => p)
    .map(([name]) => `queue ${name} is paused (bull-board, /admin/queues): ${STOPS[name] ?? 'no job of it is taken'} until it is resumed`);
}
