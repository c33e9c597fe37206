import { UnrecoverableError, WaitingError, type Job } from 'bullmq';
import { isTerminal, type ErrorData, type RunRecord, type RunStatus } from '@sup/contracts';
import { StoreError, type CommitRequest } from '@sup/run-store';
import type { ProcessorDeps } from './processor.js';
import { cancelled, failed, type Transition } from './transitions.js';

/**
 * A rejection handler: a StoreError is a key an operator broke by hand (not JSON, another Redis
 * type), which a retry cannot mend — except record_too_large, which the step path turns into a
 * failed run.
 */
export function unrecoverable(err: unknown): never {
  if (err instanceof StoreError && err.code !== 'record_too_large') throw new UnrecoverableError(err.message);
  throw err;
}

/** The `run_finished` log line: what an operator greps for, no payload. */
export function runSummary(rec: RunRecord) {
  const elapsed = rec.started_at && rec.finished_at ? Date.parse(rec.finished_at) - Date.parse(rec.started_at) : -1;
  const toolCalls = rec.nodes.reduce((n, e) => n + e.tool_calls, 0);
  return { run: rec.run_id, graph: rec.graph, status: rec.status, nodes: rec.nodes.length, tool_calls: toolCalls, attempt: rec.attempt, elapsed_ms: elapsed };
}

export type RunWriterDeps = Pick<ProcessorDeps, 'store' | 'log' | 'now' | 'onFinished' | 'afterFinish' | 'compensateLater' | 'cancelChildren'>;

/**
 * How a job pass writes its run, and ends the pass when the write is refused: the compare-and-set
 * commit (and what a refusal means — cancelled, ended or deleted by hand, taken over), finishing a
 * cancel, failing a run, handing a job back. The pass itself (processor.ts) decides what to write.
 */
export function createRunWriter(d: RunWriterDeps) {
  /**
   * Writes a transition. 'ok'; 'released' when the run is no longer this pass's to continue
   * (cancelled — finished here —, ended or deleted by an operator, unreadable); 'changed' when it is
   * still live but not as this pass left it (another lease, or an older status: taken over, or the
   * latest writes lost, e.g. in a Redis failover) — see letGo.
   */
  async function commit(rec: RunRecord, t: Transition, ifStatus: RunStatus[], o: Pick<CommitRequest, 'ifLease' | 'capped' | 'reserveBytes'> = {}): Promise<'ok' | 'released' | 'changed'> {
    const res = await d.store.commit(rec.run_id, { ifStatus, record: t.record, events: t.events, ...o }).catch(unrecoverable);
    if (res.ok) {
      if (isTerminal(t.record.status)) {
        d.onFinished?.(t.record);
        await d.afterFinish?.(t.record);
      }
      return 'ok';
    }
    const meta = { run: rec.run_id, reason: res.reason, ...(res.status ? { status: res.status } : {}) };
    if (res.reason === 'status' && res.status === 'cancelling') {
      await finishCancelled(rec.run_id);
      return 'released';
    }
    d.log.warn('run_released', meta);
    const live = res.reason === 'lease' || (res.reason === 'status' && res.status !== undefined && !isTerminal(res.status));
    if (!live && res.reason !== 'corrupt') await endedByHand(rec.run_id, res.status ?? 'deleted');
    return live ? 'changed' : 'released';
  }

  /** A run ended or removed by someone else than its worker: its children would go on alone. */
  async function endedByHand(runId: string, status: string): Promise<void> {
    await d.cancelChildren?.(runId, `parent ${status}`).catch((err: Error) => d.log.warn('child_cancel_failed', { run: runId, error: err.message }));
  }

  /**
   * Ends a pass whose commit was refused. A 'released' run is simply let go. A 'changed' one may
   * still be this pass's job: if BullMQ confirms it (moveToWait with our lock token succeeds), the
   * job goes back to the queue and the next pass re-reads the record — completing the job instead
   * would leave a live run with no job at all. If the job is not ours (another worker took it
   * over), that worker owns the run.
   */
  async function letGo(outcome: 'released' | 'changed', job: Job, token: string | undefined, runId: string): Promise<string> {
    if (outcome === 'released' || !token) return 'released';
    try {
      await job.moveToWait(token);
    } catch {
      return 'released';
    }
    d.log.warn('run_handed_back', { run: runId });
    throw new WaitingError();
  }

  async function finishCancelled(runId: string): Promise<void> {
    const rec = await d.store.get(runId);
    if (!rec || rec.status !== 'cancelling') return;
    if ((await commit(rec, cancelled(rec, d.now(), rec.cancel_reason), ['cancelling'])) !== 'ok') return;
    d.log.info('run_cancelled', { run: runId, node: rec.current_node ?? '-' });
    // cancelling implies the run was claimed: even without a snapshot (its first node was in flight)
    // it may have started something (release_check's start_task) for compensation to undo
    await d.compensateLater(rec);
  }

  async function failWith(rec: RunRecord, error: ErrorData): Promise<string> {
    const t = failed(rec, error, d.now());
    // one run_finished line per run, as a run that failed in a node has
    if ((await commit(rec, t, [rec.status])) === 'ok') d.log.info('run_finished', runSummary(t.record));
    d.log.error('run_graph error', { run: rec.run_id, graph: rec.graph, ...(error.node ? { node: error.node } : {}), code: error.code });
    return 'failed';
  }

  return { commit, endedByHand, letGo, finishCancelled, failWith };
}
