import { isTerminal, type RunRecord } from '@sup/contracts';
import type { Logger } from '@sup/logging';
import { enqueueRun, type RunQueue } from '@sup/queue';
import { StoreError, type RedisClient, type RunStore } from '@sup/run-store';
import { markFailed } from './failures.js';

type Store = Pick<RunStore, 'get' | 'read' | 'commit' | 'liveRuns' | 'forgetLive'>;

export interface RepairDeps {
  queue: RunQueue;
  redis: RedisClient;
  store: Store;
  log: Logger;
  ttlSec: number;
  /** A run this marked failed (queues its webhook, as any finished run's). */
  onFailed?(rec: RunRecord): void;
}

/** Runs younger than this are left alone: the API enqueues a run's job right after creating it. */
export const REPAIR_GRACE_MS = 5_000;
/** Live runs checked per pipeline, and pipelines per pass: one pass stays short. */
const BATCH = 1_000;
const MAX_BATCHES = 50;

/** The record, or undefined for one that is not JSON (nothing to resume; the API reports it). */
async function readable(store: Store, runId: string): Promise<RunRecord | null | undefined> {
  try {
    return await store.get(runId);
  } catch (err) {
    if (err instanceof StoreError) return undefined;
    throw err;
  }
}

/**
 * Every live run (`runs:live`) needs a job that will move it. This checks each one's job and mends
 * the two ways a run is left with none:
 * - **failed for good** (out of attempts) while the run is live: the final attempt's mark-failed
 *   write was refused (Redis down or out of memory then) or the process died between the two. The
 *   run is marked failed with the job's reason (`phase=orphan_failed`).
 * - **gone, or completed** while the run is live: Redis lost the write that added it (a crash with
 *   `appendfsync everysec`, a failover), the API's enqueue and its rollback both failed, or someone
 *   removed the job in bull-board. The run gets its job back (due when a parked run's
 *   `waiting.until` says) and resumes from its last snapshot (`run_job_restored`).
 * The record is read after its job was checked, and a job completes or fails for good only after
 * its run's last commit, so a run that finished meanwhile is left alone. Entries of runs finished
 * by hand, deleted or expired leave the live set here.
 */
export async function repairLiveRuns(d: RepairDeps, nowMs: number): Promise<{ restored: number; failed: number }> {
  const [completed, failedSet] = [d.queue.toKey('completed'), d.queue.toKey('failed')];
  const gone: string[] = [];
  const out = { restored: 0, failed: 0 };
  // offsets stay valid within the pass: its own removals wait until the end (a run finishing
  // meanwhile may shift one past this pass; the next pass sees it)
  for (let b = 0; b < MAX_BATCHES; b++) {
    const ids = await d.store.liveRuns(nowMs - REPAIR_GRACE_MS, b * BATCH, BATCH);
    if (ids.length === 0) break;
    const replies = await d.redis.pipeline(ids.flatMap((id) => [
      ['exists', d.queue.toKey(id)], ['zscore', completed, id], ['zscore', failedSet, id],
    ])).exec();
    for (const [i, id] of ids.entries()) {
      const [exists, doneAt, failedAt] = [0, 1, 2].map((k) => {
        const [err, v] = replies![3 * i + k]!;
        if (err) throw err;
        return v;
      });
      if (exists && doneAt === null && failedAt === null) continue;
      const rec = await readable(d.store, id);
      if (rec === undefined) continue;
      if (rec === null || isTerminal(rec.status)) {
        gone.push(id);
        continue;
      }
      if (exists && failedAt !== null) {
        const reason = (await d.redis.hget(d.queue.toKey(id), 'failedReason')) || 'job failed';
        if (await markFailed(d.store, d.log, id, reason, d.onFailed)) {
          d.log.error('run_graph error', { run: id, error: reason, phase: 'orphan_failed' });
          out.failed++;
        }
        continue;
      }
      // a completed job keeps its id taken (the add would be a no-op) until it is removed
      if (exists) await d.queue.remove(id);
      const until = rec.status === 'waiting' && rec.waiting ? Date.parse(rec.waiting.until) - nowMs : 0;
      await enqueueRun(d.queue, { run_id: id, graph: rec.graph }, d.ttlSec, Number.isFinite(until) ? until : 0);
      d.log.warn('run_job_restored', { run: id, status: rec.status, node: rec.current_node ?? '-', reason: exists ? 'job_completed' : 'job_missing' });
      out.restored++;
    }
    if (ids.length < BATCH) break;
  }
  await d.store.forgetLive(gone);
  return out;
}
