import { isTerminal, toErrorData, ToolError } from '@sup/contracts';
import type { StepDeps } from '@sup/engine';
import type { GatewayClient } from '@sup/gateway-client';
import { getGraph, type ChildRuns } from '@sup/graphs';
import { submitRun, type CancelService, type SubmitDeps } from '@sup/queue';

/** The engine's tool port, served by the HTTP tool gateway. */
export function gatewayTools(gateway: GatewayClient, runId: string, agentId: string): StepDeps['callTool'] {
  return (req) =>
    gateway.execute(
      { tool: req.tool, action: req.action, params: req.params, context: { agent_id: agentId, run_id: runId, node: req.node, idempotency_key: req.idempotencyKey } },
      { signal: req.signal },
    );
}

/**
 * The idempotency key of a parent's child run. It has spaces, which the API refuses in an
 * Idempotency-Key: a client cannot create the run a parent would take for its child. (Until
 * 2026-11-29 it was `child:<parent>:<graph>`, which a client could send first.)
 */
export const childKey = (parentRunId: string, graph: string): string => `child ${parentRunId} ${graph}`;

/**
 * Child runs are ordinary runs with `parent_run_id`. The idempotency key makes a re-run of the
 * starting node (worker crash) find the child it already started instead of starting another.
 * `signal` is the parent's cancel: a child started while it fired is cancelled at once (the start
 * cannot be aborted half-way, and the parent's compensation may already have looked for children).
 */
/** What a child-run port reads of its parent's cancel: an AbortSignal, or the worker's RunCancel. */
export interface ParentCancel {
  readonly aborted: boolean;
  throwIfAborted(): void;
}

export function childRuns(deps: SubmitDeps, cancels: CancelService, parent: { runId: string; agentId: string }, signal?: ParentCancel): ChildRuns {
  return {
    async start(graph, input) {
      signal?.throwIfAborted();
      const def = getGraph(graph);
      if (!def) throw new Error(`unknown graph ${graph}`);
      const parsed = def.input.safeParse(input);
      if (!parsed.success) throw Object.assign(new Error(`child input invalid for ${graph}`), { details: toErrorData(parsed.error) });
      const { record } = await submitRun(deps, {
        graph,
        agentId: parent.agentId,
        input: parsed.data as Record<string, unknown>,
        parentRunId: parent.runId,
        idempotencyKey: childKey(parent.runId, graph),
      });
      if (record.parent_run_id !== parent.runId || record.graph !== graph) {
        throw new ToolError('child_run_conflict', `the child run key of ${parent.runId} names run ${record.run_id}, which is not its ${graph} child`, false);
      }
      if (signal?.aborted && !isTerminal(record.status)) await cancels.cancel(record, 'parent cancelled');
      return { run_id: record.run_id };
    },
    async unfinished() {
      return (await unfinishedChildren(deps.store, parent.runId)).map((r) => r.run_id);
    },
    async get(runId) {
      const r = await deps.store.get(runId);
      return r ? { run_id: r.run_id, status: r.status, result: r.result, error: r.error } : null;
    },
    async cancel(runId, reason) {
      const r = await deps.store.get(runId);
      if (r && !isTerminal(r.status)) await cancels.cancel(r, reason);
    },
  };
}

/** The child runs of `parentRunId` not finished yet (listing index by parent; a parent has few). */
async function unfinishedChildren(store: SubmitDeps['store'], parentRunId: string) {
  return (await store.list({ parentRunId, limit: 100 })).runs.filter((r) => !isTerminal(r.status));
}

/** Cancels every unfinished child run of `parentRunId`, with `reason`; how many there were. */
export async function cancelUnfinishedChildren(store: SubmitDeps['store'], cancels: CancelService, parentRunId: string, reason: string): Promise<number> {
  const open = await unfinishedChildren(store, parentRunId);
  for (const r of open) await cancels.cancel(r, reason).catch(() => undefined); // finished meanwhile: 409
  return open.length;
}
