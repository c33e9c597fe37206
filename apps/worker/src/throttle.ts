import type { Queue } from 'bullmq';

/**
 * Why BullMQ holds jobs of `queue` back on purpose right now, or null: a global rate limit whose
 * window is used up, or a global concurrency the fleet's active jobs have reached (both can be set
 * in bull-board, /admin/queues). Jobs waiting then are throttled, not a stuck worker.
 */
export async function queueThrottle(queue: Pick<Queue, 'name' | 'getGlobalRateLimit' | 'getRateLimitTtl' | 'getGlobalConcurrency' | 'isMaxed'>): Promise<string | null> {
  const [limit, concurrency] = await Promise.all([queue.getGlobalRateLimit(), queue.getGlobalConcurrency()]);
  if (limit) {
    // with the configured max: a limiter key left from a limit since removed does not count
    const ttl = await queue.getRateLimitTtl(limit.max);
    if (ttl > 0) return `queue ${queue.name} is rate limited to ${limit.max} jobs per ${limit.duration} ms (next job in ${ttl} ms)`;
  }
  if (concurrency !== null && (await queue.isMaxed())) return `queue ${queue.name} is at its global concurrency of ${concurrency} active jobs`;
  return null;
}
