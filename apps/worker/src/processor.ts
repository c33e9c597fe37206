import { DelayedError, UnrecoverableError, WaitingError, type Job } from 'bullmq';
import { isTerminal, JOB_NAMES, RUN_ID_RE, RunJobData, type ErrorData, type RunRecord } from '@sup/contracts';
import { nodeOf, step, StepAborted, type CompiledGraph, type StepDeps, type StepOutcome } from '@sup/engine';
import type { ChildRuns } from '@sup/graphs';
import type { Logger } from '@sup/logging';
import { StoreError, type RunStore } from '@sup/run-store';
import type { ParentCancel } from './adapters.js';
import type { CancelWatcher } from './cancels.js';
import { ProgressWatch, showNode } from './progress.js';
import { parkOnRefusal, REDIS_RETRY_MS } from './refusals.js';
import { createRunWriter, runSummary, unrecoverable } from './run-writer.js';
import { afterStep, claim, lostInARow, requeued } from './transitions.js';

export interface ProcessorDeps {
  store: RunStore;
  log: Logger;
  cancels: CancelWatcher;
  graph(name: string): CompiledGraph | undefined;
  tools(runId: string, agentId: string): StepDeps['callTool'];
  /** `signal`: the run's cancel (a child started as it fires is cancelled). */
  runs(runId: string, agentId: string, signal?: ParentCancel): ChildRuns;
  settings: StepDeps['settings'];
  /** host:pid, recorded in run_started/run_resumed events so operators see who ran what. */
  workerId: string;
  /** True once a graceful stop began: hand runs back between two nodes. */
  isClosing(): boolean;
  /** This host's clock: BullMQ compares the absolute times it is given (a park's moveToDelayed) with it. */
  now(): number;
  /**
   * The clock runs are stamped with and nodes read (`ctx.now`): record times (started_at,
   * finished_at, a park's `waiting.until`), node durations, a time one node stores in its state
   * (release_check's first poll) and another pass compares, maybe on another host. main.ts gives
   * Redis' clock (RedisClock), so hosts whose clocks disagree still agree; default `now`.
   */
  recordNow?(): number;
  onStep?(rec: RunRecord, o: StepOutcome): void;
  onFinished?(rec: RunRecord): void;
  /** A run found left by a lost worker: taken over ('resumed') or failed at CRASH_LOOP_LIMIT. */
  onTakeover?(rec: RunRecord, outcome: 'resumed' | 'crash_loop'): void;
  /**
   * After a run's final commit (queues its webhook). The job completes only once this resolves: a
   * rejection fails the job attempt, BullMQ retries it, and the retry finds the run finished and
   * calls this again — so a Redis error or a crash right after the final commit loses nothing.
   * Must be idempotent (the webhook job id is).
   */
  afterFinish?(rec: RunRecord): Promise<void>;
  /** A cancelled run that had started work gets its graph's compensation queued. */
  compensateLater(rec: RunRecord): Promise<void>;
  /**
   * Cancels the unfinished child runs of a run that an operator ended or deleted (a hand SET of a
   * final status, a DEL): nothing else would stop them. Best effort.
   */
  cancelChildren?(runId: string, reason: string): Promise<void>;
  /** `lastAttempt`: no retry follows a failure (see compensate.ts). */
  compensate(runId: string, lastAttempt: boolean): Promise<string>;
  /** How long a run waits after Redis refused one of its pass's commands (default REDIS_RETRY_MS). */
  redisRetryMs?: number;
  /**
   * A run is failed (`crash_loop`) instead of being taken over once the same node was in flight at
   * this many lost passes in a row — a node that kills its worker does not go on to the next one.
   * 0 or absent: never.
   */
  crashLoopLimit?: number;
}

/**
 * The run a job moves. A run job's id is its run id, and that is what is left when Redis lost the
 * job hash while the job was active: BullMQ's stall check then re-creates the hash with nothing
 * but its stall count (`HINCRBY … stc`) and puts the id back in `wait` — a job with no data, which
 * must still resume its run rather than fail it.
 */
function runOf(job: Job): string {
  const data = RunJobData.safeParse(job.data);
  if (data.success) return data.data.run_id;
  if (job.id && RUN_ID_RE.test(job.id)) return job.id;
  throw new UnrecoverableError(`job ${job.id ?? '?'} names no run`);
}

/** A capped commit refused for its size comes back as that error, to fail the run with; the rest is thrown. */
function sizeRefused(err: unknown): StoreError {
  if (err instanceof StoreError && err.code === 'record_too_large') return err;
  throw err;
}

/**
 * One BullMQ job = one run. Each pass claims the run, then steps it node by node: run the node,
 * then one compare-and-set writes snapshot + history + events and at the same time checks that
 * nobody cancelled, force-set or took over the run meanwhile. A park moves the job to delayed.
 */
export function createProcessor(d: ProcessorDeps) {
  const stamp = d.recordNow ?? d.now;
  const { commit, endedByHand, letGo, finishCancelled, failWith } = createRunWriter({ ...d, now: stamp });

  /** The error that ends a run whose node keeps losing its worker, or null to take it over. */
  function crashLoop(rec: RunRecord, losses: number): ErrorData | null {
    const limit = d.crashLoopLimit ?? 0;
    if (limit === 0 || losses < limit) return null;
    const node = rec.current_node ?? 'start';
    return {
      code: 'crash_loop', node: rec.current_node ?? undefined, details: { losses, limit },
      message: `node ${node} was in flight each time its worker was lost, ${losses} times in a row (it died, froze or was cut off past its lock); the run is failed so it takes down no more workers`,
    };
  }

  // a pass Redis refused is parked and redone, not failed (see parkOnRefusal)
  return parkOnRefusal(pass, {
    delayMs: d.redisRetryMs ?? REDIS_RETRY_MS, log: d.log, now: d.now,
    event: 'run_redis_retry', fields: (job) => ({ run: (job.data as { run_id?: string }).run_id ?? '-' }),
  });

  async function pass(job: Job, token: string | undefined): Promise<string> {
    const runId = runOf(job);
    // a run has one job, whose id is the run id (its compensation: <run id>-cancel). Another job
    // naming the run (added, duplicated or edited by hand in the dashboard) would run its nodes
    // beside the run's own job, each pass taking the lease from the other: it is let go untouched.
    const ownId = job.name === JOB_NAMES.compensate ? `${runId}-cancel` : runId;
    if (job.id !== ownId) {
      d.log.warn('job_not_the_runs', { job: job.id ?? '-', run: runId, expected: ownId });
      return 'ignored';
    }
    if (job.name === JOB_NAMES.compensate) return d.compensate(runId, job.attemptsMade + 1 >= (job.opts.attempts ?? 1));
    const lease = token ?? `job:${job.id}`;
    // a hand-edited record that is not JSON: nothing to resume from, and retrying will not help
    let rec = await d.store.get(runId).catch(unrecoverable);
    if (!rec) {
      d.log.warn('run_missing', { run: runId });
      await endedByHand(runId, 'deleted');
      return 'missing';
    }
    if (isTerminal(rec.status)) {
      // finished by an earlier attempt whose afterFinish failed or never ran (crash), or by hand; or
      // its finished job retried in bull-board, which does not run a finished run again (rerun it)
      d.log.info('job_for_finished_run', { run: runId, status: rec.status });
      await d.afterFinish?.(rec);
      await endedByHand(runId, rec.status);
      return rec.status;
    }
    if (rec.status === 'cancelling') {
      await finishCancelled(runId);
      return 'cancelled';
    }
    const graph = d.graph(rec.graph);
    if (!graph) return failWith(rec, { code: 'unknown_graph', message: `graph ${rec.graph} is not known to this worker` });
    const losses = lostInARow(rec, job.stalledCounter);
    const lost = crashLoop(rec, losses);
    if (losses > 0) d.onTakeover?.(rec, lost ? 'crash_loop' : 'resumed');
    if (lost) return failWith(rec, lost);

    const next = nodeOf(graph, rec.snapshot ?? null);
    if (next === null) {
      return failWith(rec, { code: 'corrupt_snapshot', message: `the stored snapshot names no node of graph ${rec.graph} to run next (edited by hand?)` });
    }
    // listen for a cancel before claiming, so one published right after the claim is not missed
    const cancel = d.cancels.watch(runId);
    const progress = new ProgressWatch(job);
    try {
      const c = claim(rec, lease, next, stamp(), d.workerId, job.stalledCounter);
      // capped too: a run created over RUN_RECORD_MAX_BYTES (its input and metadata) fails here,
      // before its first node starts anything, not after; the first snapshot will hold the input again
      const firstSnapshot = rec.snapshot == null ? Buffer.byteLength(JSON.stringify(rec.input)) : 0;
      const claimed = await commit(rec, c, [rec.status], { capped: true, reserveBytes: firstSnapshot }).catch(sizeRefused);
      if (claimed instanceof StoreError) return failWith(rec, { code: 'record_too_large', message: `${claimed.message} before its first step (its input and metadata)` });
      if (claimed !== 'ok') return await letGo(claimed, job, token, runId);
      rec = c.record;
      // the same for every step of this pass
      const stepDeps: StepDeps = {
        runId, agentId: rec.agent_id, callTool: d.tools(runId, rec.agent_id), runs: d.runs(runId, rec.agent_id, cancel),
        signal: cancel, now: stamp, settings: d.settings,
      };
      for (;;) {
        if (d.isClosing()) {
          const handed = await commit(rec, requeued(rec, stamp()), ['running'], { ifLease: lease });
          if (handed !== 'ok') return await letGo(handed, job, token, runId);
          await job.moveToWait(token);
          throw new WaitingError();
        }
        const startedMs = stamp();
        progress.start(rec.current_node);
        let o: StepOutcome;
        try {
          o = await step(graph, rec.snapshot ?? null, rec.input, stepDeps);
        } catch (err) {
          progress.stop();
          if (!(err instanceof StepAborted)) throw err;
          await finishCancelled(runId);
          return 'cancelled';
        }
        progress.stop();
        const endedMs = stamp();
        // the same instant on this host's clock, for BullMQ (the same reading when there is one clock)
        const hostEndedMs = d.recordNow ? d.now() : endedMs;
        const t = afterStep(rec, o, startedMs, endedMs);
        const written = await commit(rec, t, ['running'], { ifLease: lease, capped: true }).catch(sizeRefused);
        // what the node returned would make the record too large to rewrite on every step: the
        // run fails with the record as it was before the node
        if (written instanceof StoreError) return failWith(rec, { code: 'record_too_large', node: o.node, message: written.message });
        if (written !== 'ok') return await letGo(written, job, token, runId);
        rec = t.record;
        d.onStep?.(rec, o);
        // per step at debug (every poll of a waiting run is a step); once per run at info
        d.log.debug('node_done', { run: runId, node: o.node, outcome: o.kind, tool_calls: o.toolCalls, elapsed_ms: o.durationMs });
        if (o.kind === 'succeeded' || o.kind === 'failed') d.log.info('run_finished', runSummary(rec));
        if (o.kind === 'failed') d.log.error('run_graph error', { run: runId, graph: rec.graph, node: o.node, code: o.error.code });
        if (o.kind === 'waiting') {
          await showNode(job, o.node);
          // due when the record's `waiting.until` says, on this host's clock (BullMQ's)
          await job.moveToDelayed(hostEndedMs + o.delayMs, token);
          throw new DelayedError();
        }
        if (o.kind === 'succeeded' || o.kind === 'failed') return o.kind;
      }
    } finally {
      progress.close();
      d.cancels.unwatch(runId, cancel);
    }
  }
}
