import type { Job } from 'bullmq';
import { TickJobData } from '@sup/contracts';
import { fireSchedule, type FireDeps, type FireResult } from './fire.js';
import { tickTimeOf } from './scheduler.js';

export interface TickProcessorDeps extends FireDeps {
  /** Removes the BullMQ job scheduler of a schedule that is gone or disabled (an orphan). */
  removeScheduler(id: string): Promise<unknown>;
  /** Metric hook: one call per tick outcome. */
  onTick?(outcome: FireResult['outcome'], scheduleId: string): void;
}

/** Thrown for a tick that met another tick of its schedule mid-submit; BullMQ retries it. */
export class ScheduleBusyError extends Error {
  constructor(id: string) {
    super(`schedule ${id} is busy with another tick`);
    this.name = 'ScheduleBusyError';
  }
}

/** The worker's processor for queue `schedules`: one `tick` job = one fire time of one schedule. */
export function createTickProcessor(d: TickProcessorDeps) {
  return async (job: Job<TickJobData>): Promise<FireResult['outcome']> => {
    const { schedule_id: id } = TickJobData.parse(job.data);
    const at = tickTimeOf(job);
    const res = await fireSchedule(d, id, { key: String(at), scheduledAt: at });
    d.onTick?.(res.outcome, id);
    if (res.outcome === 'busy') throw new ScheduleBusyError(id);
    // 'missing' may be a schedule deleted and created again mid-tick: the new one keeps its scheduler
    if (res.outcome === 'disabled' || (res.outcome === 'missing' && !(await d.store.get(id)))) {
      await d.removeScheduler(id);
      d.log.warn('schedule_orphan_removed', { schedule: id, reason: res.outcome });
    }
    return res.outcome;
  };
}
