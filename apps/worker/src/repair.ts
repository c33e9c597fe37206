import { isTerminal, type RunRecord } from '@sup/contracts';
import type { Logger } from '@sup/logging';
import { enqueueRun, type RunQueue } from '@sup/queue';
import { isRedisUnavailable, StoreError, type RedisClient, type RunStore } from '@sup/run-store';
import { failAsRead } from './failures.js';

type Store = Pick<RunStore, 'read' | 'commit' | 'liveEntries' | 'forgetLive' | 'keepLive'>;

export interface RepairDeps {
  queue: RunQueue;
  redis: RedisClient;
  store: Store;
  log: Logger;
  ttlSec: number;
  /**
   * A live run whose job is still due is kept from expiring at least this long past the pass
   * (RunStore.keepLive; keepLiveFloorSec below); 0 = not at all.
   */
  keepLiveSec?: number;
  /** A run this marked failed (queues its webhook, as any finished run's). */
  onFailed?(rec: RunRecord): void;
}

/** Runs younger than this are left alone: the API enqueues a run's job right after creating it. */
export const REPAIR_GRACE_MS = 5_000;
/**
 * A `running`/`cancelling` run without a job is restored only once its record has been still this
 * long: a worker that lost the job (Redis lost it) may still be inside a node, and it commits at
 * the latest when the node's timeout (15–60 s in our graphs) ends.
 */
export const RUNNING_QUIET_MS = 5 * 60_000;
/** Live runs looked at per pass (oldest first), and per pipeline. */
const MAX_PER_PASS = 50_000;
const BATCH = 1_000;

/**
 * How long housekeeping keeps a waiting live run's record from expiring: three passes and a minute,
 * so one missed or late pass cannot let it go.
 */
export const keepLiveFloorSec = (everySec: number): number => 3 * everySec + 60;

type Found = 'ok' | 'failed' | 'missing' | 'completed' | 'hollow';

/**
 * What BullMQ holds for each run: its job hash, and whether it sits in `completed` or `failed`. A
 * finished job's hash without `data` is `hollow`: not a job BullMQ added but what its stall check
 * re-creates when the hash of an active job was lost (`HINCRBY … stc` on a missing key) — it says
 * nothing about the run. Three commands per run; the `data` check only for the few finished ones.
 */
async function jobsOf(d: RepairDeps, ids: string[]): Promise<Found[]> {
  const [completed, failedSet] = [d.queue.toKey('completed'), d.queue.toKey('failed')];
  const replies = await d.redis.pipeline(ids.flatMap((id) => [
    ['exists', d.queue.toKey(id)], ['zscore', completed, id], ['zscore', failedSet, id],
  ])).exec();
  const found = ids.map((_, i): Found => {
    const [exists, doneAt, failedAt] = [0, 1, 2].map((k) => {
      const [err, v] = replies![3 * i + k]!;
      if (err) throw err;
      return v;
    });
    if (!exists) return 'missing';
    if (failedAt !== null) return 'failed';
    return doneAt !== null ? 'completed' : 'ok';
  });
  const finished = ids.flatMap((id, i) => (found[i] === 'failed' || found[i] === 'completed' ? [i] : []));
  if (finished.length === 0) return found;
  const hasData = await d.redis.pipeline(finished.map((i) => ['hexists', d.queue.toKey(ids[i]!), 'data'])).exec();
  finished.forEach((i, k) => {
    const [err, v] = hasData![k]!;
    if (err) throw err;
    if (!v) found[i] = 'hollow';
  });
  return found;
}

/**
 * Every live run (`runs:live`) needs a job that will move it. This checks each one's job and mends
 * the two ways a run is left without one:
 * - **failed for good** (out of attempts) while the run is live: the final attempt's mark-failed
 *   write was refused (Redis down or out of memory then) or the process died between the two. The
 *   run is marked failed with the job's reason (`phase=orphan_failed`).
 * - **gone, or completed** while the run is live: Redis lost the write that added it (a crash with
 *   `appendfsync everysec`, a failover), the API's enqueue and its rollback both failed, or someone
 *   removed the job in bull-board. The run gets its job back (due when a parked run's
 *   `waiting.until` says) and resumes from its last snapshot (`run_job_restored`).
 * The record is read after its job was checked, and a job completes only after its run's final
 * commit, so a run that finished meanwhile is left alone. Failing is one compare-and-set on the
 * record as read, after checking the job is still failed: a job retried by hand and claimed
 * meanwhile changed the record, so the write is refused and the run left alone. Entries of runs
 * finished by hand, deleted or expired leave the live set here. A run whose job is due but whose
 * record would expire before it moves (it waited longer than RUN_TTL_SEC) is kept alive (`kept`).
 */
export async function repairLiveRuns(d: RepairDeps, nowMs: number): Promise<{ restored: number; failed: number; kept: number }> {
  // one read of the ids: the pass's own writes (a run it fails leaves the set) shift nothing. Every
  // live run is kept alive, however young: its creation time is another host's clock, and a
  // housekeeper behind it skipped the runs created within its lag, which then expired at a small
  // RUN_TTL_SEC (until 2026-11-29, clock-skew probe: 10 min behind, RUN_TTL_SEC=60, all three lost)
  const entries = await d.store.liveEntries(MAX_PER_PASS);
  const ids = entries.map((e) => e.id);
  const young = new Set(entries.filter((e) => !(e.createdMs < nowMs - REPAIR_GRACE_MS)).map((e) => e.id));
  const gone: string[] = [];
  const out = { restored: 0, failed: 0, kept: 0 };
  for (let b = 0; b < ids.length; b += BATCH) {
    const batch = ids.slice(b, b + BATCH);
    const jobs = await jobsOf(d, batch);
    // runs whose job will move them, but maybe not before their record expires (a paused queue, a
    // backlog, every worker down): their record, events and idempotency key are kept
    if (d.keepLiveSec) out.kept += await d.store.keepLive(batch.filter((_, i) => jobs[i] === 'ok'), d.keepLiveSec);
    for (const [i, id] of batch.entries()) {
      const job = jobs[i]!;
      // a run just created may not have its job yet (the API adds it right after)
      if (job === 'ok' || young.has(id)) continue;
      const read = await d.store.read(id).catch((err: unknown) => {
        if (err instanceof StoreError) return undefined; // hand-broken: nothing to resume (the API reports it)
        throw err;
      });
      if (read === undefined) continue;
      if (read === null || isTerminal(read.record.status)) {
        gone.push(id);
        continue;
      }
      let what: Awaited<ReturnType<typeof failRun | typeof restoreRun>>;
      try {
        what = job === 'failed' ? await failRun(d, id, read) : await restoreRun(d, id, read.record, job, nowMs);
      } catch (err) {
        // one run's trouble (its events key made another type by hand, say) must not stop the pass
        // for every other run; Redis itself unavailable ends the pass (the next one retries)
        if (isRedisUnavailable(err)) throw err;
        d.log.warn('run_repair_skipped', { run: id, error: err instanceof Error ? err.message : String(err) });
        continue;
      }
      if (what === 'failed') out.failed++;
      if (what === 'restored') out.restored++;
    }
  }
  for (let b = 0; b < gone.length; b += BATCH) await d.store.forgetLive(gone.slice(b, b + BATCH));
  return out;
}

async function failRun(d: RepairDeps, id: string, read: { record: RunRecord; raw: string }): Promise<'failed' | 'skipped'> {
  // retried by hand since the check (and maybe claimed before the read): only a job still failed
  // for good fails the run, and only the record as read (a claim since changed it)
  if ((await jobsOf(d, [id]))[0] !== 'failed') return 'skipped';
  const message = (await d.redis.hget(d.queue.toKey(id), 'failedReason')) || 'job failed';
  if (!(await failAsRead(d.store, id, read, message, d.onFailed))) return 'skipped';
  d.log.error('run_graph error', { run: id, error: message, phase: 'orphan_failed' });
  return 'failed';
}

const REASONS = { missing: 'job_missing', completed: 'job_completed', hollow: 'job_hollow' } as const;

async function restoreRun(d: RepairDeps, id: string, rec: RunRecord, kind: 'missing' | 'completed' | 'hollow', nowMs: number): Promise<'restored' | 'skipped'> {
  const busy = rec.status === 'running' || rec.status === 'cancelling';
  if (busy && nowMs - Date.parse(rec.updated_at) < RUNNING_QUIET_MS) return 'skipped';
  // a finished (or hollow) job keeps its id taken (the add would be a no-op) until it is removed
  if (kind !== 'missing' && (await d.queue.remove(id)) !== 1) return 'skipped';
  const until = rec.status === 'waiting' && rec.waiting ? Date.parse(rec.waiting.until) - nowMs : 0;
  await enqueueRun(d.queue, { run_id: id, graph: rec.graph }, d.ttlSec, Number.isFinite(until) ? until : 0);
  d.log.warn('run_job_restored', { run: id, status: rec.status, node: rec.current_node ?? '-', reason: REASONS[kind] });
  return 'restored';
}
