import { isTerminal, type RunRecord } from '@sup/contracts';
import type { Logger } from '@sup/logging';
import { enqueueRun, type RunQueue } from '@sup/queue';
import { StoreError, type RedisClient, type RunStore } from '@sup/run-store';

type Store = Pick<RunStore, 'get' | 'liveRuns' | 'forgetLive'>;

/** Runs younger than this are left alone: the API enqueues a run's job right after creating it. */
export const JOBLESS_GRACE_MS = 5_000;
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
 * Live runs with no job to move them: the job is gone (Redis lost the write that added it — a crash
 * with `appendfsync everysec`, a failover —, the API's create succeeded where its enqueue and the
 * rollback did not, or someone removed the job in bull-board) or it completed while the run is still
 * live. Nothing would ever move them again, so each gets its job back (due when a parked run's
 * `waiting.until` says) and resumes from its last snapshot. Runs whose job failed are
 * failOrphanedRuns's. The record is read after the job was checked, and a job completes only after
 * its run's final commit, so a run that finished meanwhile is never requeued. Entries of runs
 * finished by hand, deleted or expired leave the live set here. Returns how many runs were requeued.
 */
export async function requeueJoblessRuns(queue: RunQueue, redis: RedisClient, store: Store, log: Logger, ttlSec: number, nowMs: number): Promise<number> {
  const completed = queue.toKey('completed');
  const gone: string[] = [];
  let requeued = 0;
  // offsets stay valid within the pass: its own removals wait until the end (a run finishing
  // meanwhile may shift one past this pass; the next pass sees it)
  for (let b = 0; b < MAX_BATCHES; b++) {
    const ids = await store.liveRuns(nowMs - JOBLESS_GRACE_MS, b * BATCH, BATCH);
    if (ids.length === 0) break;
    const replies = await redis.pipeline(ids.flatMap((id) => [['exists', queue.toKey(id)], ['zscore', completed, id]])).exec();
    for (const [i, id] of ids.entries()) {
      const [[e1, exists], [e2, doneAt]] = [replies![2 * i]!, replies![2 * i + 1]!];
      if (e1 || e2) throw e1 ?? e2;
      if (exists && doneAt === null) continue;
      const rec = await readable(store, id);
      if (rec === undefined) continue;
      if (rec === null || isTerminal(rec.status)) {
        gone.push(id);
        continue;
      }
      // a completed job keeps its id taken (the add would be a no-op) until it is removed
      if (exists) await queue.remove(id);
      const until = rec.status === 'waiting' && rec.waiting ? Date.parse(rec.waiting.until) - nowMs : 0;
      await enqueueRun(queue, { run_id: id, graph: rec.graph }, ttlSec, Number.isFinite(until) ? until : 0);
      log.warn('run_job_restored', { run: id, status: rec.status, node: rec.current_node ?? '-', reason: exists ? 'job_completed' : 'job_missing' });
      requeued++;
    }
    if (ids.length < BATCH) break;
  }
  await store.forgetLive(gone);
  return requeued;
}
