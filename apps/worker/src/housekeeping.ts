import type { Queue } from 'bullmq';
import type { Logger } from '@sup/logging';
import type { RunStore } from '@sup/run-store';

export interface HousekeepingDeps {
  /** The queues whose finished jobs are kept RUN_TTL_SEC (`removeOnComplete/removeOnFail: {age}`). */
  queues: readonly Queue[];
  store: Pick<RunStore, 'trimIndex' | 'fillLive' | 'keepListed'>;
  /** repairLiveRuns (repair.ts): live runs whose job failed for good, is gone or completed, or who would expire waiting. */
  repairRuns(): Promise<{ restored: number; failed: number; kept: number }>;
  ttlSec: number;
  log: Logger;
  now(): number;
}

/** Jobs removed per `clean` call, and calls per state per pass: one pass stays short. */
const BATCH = 1_000;
const MAX_BATCHES = 20;

/**
 * BullMQ applies `removeOnComplete: {age}` only when a later job of the queue completes, and
 * create.lua trims the listing index only when a run is created: on a deployment that went idle,
 * the last burst's job hashes and index entries would stay. This removes them (BullMQ's own
 * `queue.clean`, with the same age), once per HOUSEKEEPING_EVERY_SEC, on one worker. First it
 * repairs live runs left without a job that will move them (before the clean-up removes a failed
 * job that tells of one) — on a deployment's first pass after the upgrade that brought `runs:live`,
 * once that set holds the runs created before it too (fillLive). Live runs older than a TTL are kept
 * listable past the indexes' trim (keepListed).
 */
export async function housekeeping(d: HousekeepingDeps): Promise<{ jobs: number; index: number; orphans: number; requeued: number; kept: number; long: number }> {
  const filled = await d.store.fillLive(d.now());
  if (filled !== null) d.log.info('runs_live_filled', { added: filled });
  const { failed: orphans, restored: requeued, kept } = await d.repairRuns();
  let jobs = 0;
  for (const queue of d.queues) {
    for (const state of ['completed', 'failed'] as const) {
      for (let i = 0; i < MAX_BATCHES; i++) {
        const removed = await queue.clean(d.ttlSec * 1000, BATCH, state);
        jobs += removed.length;
        if (removed.length < BATCH) break;
      }
    }
  }
  const index = await d.store.trimIndex(d.now());
  const long = await d.store.keepListed(d.now());
  d.log.info('housekeeping', {
    removed_jobs: jobs, removed_index_entries: index, orphaned_runs_failed: orphans, jobless_runs_requeued: requeued, waiting_runs_kept: kept,
    long_runs_listed: long.added,
  });
  return { jobs, index, orphans, requeued, kept, long: long.added };
}
