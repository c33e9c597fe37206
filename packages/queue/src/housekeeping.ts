import { Queue, type ConnectionOptions } from 'bullmq';
import { QUEUES } from '@sup/contracts';
import { bullPrefix } from './queue.js';

export type HousekeepingQueue = Queue<Record<string, never>, unknown, string>;

/** The queue of housekeeping passes (see HOUSEKEEPING in @sup/contracts). */
export function createHousekeepingQueue(connection: ConnectionOptions, keyPrefix: string): HousekeepingQueue {
  return new Queue<Record<string, never>, unknown, string>(QUEUES.housekeeping, { connection, prefix: bullPrefix(keyPrefix) });
}
