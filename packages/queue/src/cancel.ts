import { AppError, event, isTerminal, unparked, type RunRecord } from '@sup/contracts';
import type { Logger } from '@sup/logging';
import type { RedisClient, RunStore } from '@sup/run-store';
import { enqueueCompensation, type RunQueue } from './queue.js';

export interface CancelDeps {
  store: RunStore;
  queue: RunQueue;
  publisher: RedisClient;
  channel: string;
  log: Logger;
  ttlSec: number;
  /**
   * Called after this service itself finished a run (queued/waiting → cancelled), to queue its
   * webhook. A rejection is logged, never turned into a failed cancel (the cancel did happen), and
   * the run's job is then left in the queue: the worker that picks it up finds the run finished and
   * queues the webhook itself (apps/worker processor, afterFinish).
   */
  onFinished?(rec: RunRecord): Promise<unknown> | void;
  /** The clock a cancel is stamped with (Redis', RedisClock, in the apps); default the host's. */
  now?: () => number;
}

/**
 * The record of a run that ends cancelled now: the node it was in (running or parked) is closed as
 * cancelled too. Used by this service and by the worker that finishes a `cancelling` run.
 */
export function cancelledRecord(rec: RunRecord, nowMs: number): RunRecord {
  const now = new Date(nowMs).toISOString();
  const nodes = rec.nodes.map((n) => (n.status === 'running' || n.status === 'waiting' ? { ...n, status: 'cancelled' as const, finished_at: now } : n));
  return { ...unparked(rec), nodes, status: 'cancelled', lease: null, finished_at: now, updated_at: now };
}

/**
 * Queued and waiting runs become `cancelled` at once by a compare-and-set on their status: a worker
 * that picks the job up at the same moment fails its own claim and leaves the run alone. A running
 * run becomes `cancelling`, and its owner — in any process — is told on the cancel channel to abort
 * the call in flight. Each write is built from the record as read and only lands if nobody wrote it
 * since (`ifRaw`): a worker's step committed in between is re-read, never overwritten.
 */
export class CancelService {
  constructor(private readonly d: CancelDeps) {}

  /** `initial` names the run; its record is read again, with the stored JSON each write checks. */
  async cancel(initial: RunRecord, reason?: string): Promise<RunRecord> {
    let read = await this.d.store.read(initial.run_id);
    for (let tries = 0; tries < 10 && read; tries++) {
      const { record: rec, raw } = read;
      if (isTerminal(rec.status)) {
        throw new AppError(409, 'run_finished', `run ${rec.run_id} already finished as ${rec.status}`, { status: rec.status });
      }
      if (rec.status === 'cancelling') return rec;
      const now = new Date((this.d.now ?? Date.now)()).toISOString();
      const requested = event('run_cancel_requested', rec.current_node ?? undefined, reason ? { reason } : {});
      if (rec.status === 'running') {
        const next: RunRecord = { ...rec, status: 'cancelling', updated_at: now, ...(reason ? { cancel_reason: reason } : {}) };
        const res = await this.d.store.commit(rec.run_id, { ifStatus: ['running'], ifRaw: raw, record: next, events: [requested] });
        if (res.ok) {
          await this.d.publisher.publish(this.d.channel, rec.run_id);
          this.d.log.info('run_cancel_requested', { run: rec.run_id, status: 'cancelling' });
          return next;
        }
      } else {
        const next = { ...cancelledRecord(rec, Date.parse(now)), ...(reason ? { cancel_reason: reason } : {}) };
        const done = event('run_cancelled', rec.current_node ?? undefined, { from: rec.status, ...(reason ? { reason } : {}) });
        const res = await this.d.store.commit(rec.run_id, { ifStatus: [rec.status], ifRaw: raw, record: next, events: [requested, done] });
        if (res.ok) {
          this.d.log.info('run_cancelled', { run: rec.run_id, from: rec.status });
          let hooked = true;
          try {
            await this.d.onFinished?.(next);
          } catch (err) {
            hooked = false;
            this.d.log.error('run_finished_hook_failed', { run: rec.run_id, error: (err as Error).message, run_job: 'kept' });
          }
          // best effort: a job that a worker holds right now cannot be removed, and needs not be
          if (hooked) await this.d.queue.remove(rec.run_id).catch(() => 0);
          if (rec.snapshot) await enqueueCompensation(this.d.queue, { run_id: rec.run_id, graph: rec.graph }, this.d.ttlSec);
          return next;
        }
      }
      read = await this.d.store.read(rec.run_id);
    }
    if (!read) throw new AppError(404, 'run_not_found', `no run ${initial.run_id}`);
    throw new AppError(409, 'cancel_conflict', `run ${initial.run_id} kept changing state; try again`);
  }
}
