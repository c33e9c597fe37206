import { event, toErrorData, ToolError, type ToolCaller } from '@sup/contracts';
import { callKey, progressOf, type CompiledGraph, type StepDeps } from '@sup/engine';
import type { ChildRuns } from '@sup/graphs';
import type { Logger } from '@sup/logging';
import type { RunStore } from '@sup/run-store';

export interface CompensateDeps {
  store: RunStore;
  log: Logger;
  graph(name: string): CompiledGraph | undefined;
  tools(runId: string, agentId: string): StepDeps['callTool'];
  runs(runId: string, agentId: string): ChildRuns;
  timeoutMs: number;
}

/**
 * Runs a cancelled run's graph.onCancel (release_check: cancel the orchestrator job;
 * postmortem_draft: cancel the child run). A retryable failure (gateway down, 5xx, timeout) is
 * thrown while the job has attempts left, so BullMQ tries again with backoff; the last attempt, or
 * a failure no retry can mend, records `compensation_failed`. Tool calls get stable idempotency
 * keys, so a retried compensation does not repeat side effects at a well-behaved gateway.
 */
export async function compensate(d: CompensateDeps, runId: string, lastAttempt = true): Promise<string> {
  const rec = await d.store.get(runId);
  if (!rec || rec.status !== 'cancelled') {
    // nothing to undo from: say so, a job or child it started may be left running
    d.log.warn('run_compensation_skipped', { run: runId, reason: rec ? `status ${rec.status}` : 'run_missing' });
    return 'skipped';
  }
  const graph = d.graph(rec.graph);
  const onCancel = graph?.def.onCancel;
  if (!graph || !onCancel) return 'none';
  const callTool = d.tools(runId, rec.agent_id);
  const signal = AbortSignal.timeout(d.timeoutMs);
  const p = progressOf(graph, rec.snapshot ?? null);
  let i = 0;
  const tools: ToolCaller = {
    call: (tool, action, params) => callTool({ tool, action, params, node: 'on_cancel', idempotencyKey: `${runId}:on_cancel:${i++}`, signal }),
  };
  let r = 0;
  const resend: ToolCaller = {
    call: (tool, action, params) => {
      if (!p.node) return Promise.reject(new Error('the run was in no node: nothing to resend'));
      i++;
      return callTool({ tool, action, params, node: p.node, idempotencyKey: callKey(runId, p.node, p.visit, p.park, r++), signal });
    },
  };
  let outcome: 'compensation_done' | 'compensation_failed' = 'compensation_done';
  let data: Record<string, unknown> = { tool_calls: 0 };
  try {
    await onCancel({ runId, input: rec.input, outputs: p.outputs, node: rec.current_node ?? p.node, state: p.state, tools, resend, runs: d.runs(runId, rec.agent_id), signal });
    data = { tool_calls: i };
    d.log.info('run_compensated', { run: runId, graph: rec.graph, tool_calls: i });
  } catch (err) {
    if (!lastAttempt && err instanceof ToolError && err.retryable) {
      d.log.warn('run_compensation_retry', { run: runId, graph: rec.graph, code: err.code });
      throw err;
    }
    outcome = 'compensation_failed';
    const e = toErrorData(err);
    data = { tool_calls: i, code: e.code, message: e.message };
    d.log.warn('run_compensation_failed', { run: runId, graph: rec.graph, code: e.code });
  }
  const res = await d.store.commit(runId, { ifStatus: ['cancelled'], record: rec, events: [event(outcome, undefined, data)] });
  return res.ok ? outcome : 'skipped';
}
