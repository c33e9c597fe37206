import { isTerminal, toErrorData } from '@sup/contracts';
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
 * Child runs are ordinary runs with `parent_run_id`. The idempotency key makes a re-run of the
 * starting node (worker crash) find the child it already started instead of starting another.
 */
export function childRuns(deps: SubmitDeps, cancels: CancelService, parent: { runId: string; agentId: string }): ChildRuns {
  return {
    async start(graph, input) {
      const def = getGraph(graph);
      if (!def) throw new Error(`unknown graph ${graph}`);
      const parsed = def.input.safeParse(input);
      if (!parsed.success) throw Object.assign(new Error(`child input invalid for ${graph}`), { details: toErrorData(parsed.error) });
      const { record } = await submitRun(deps, {
        graph,
        agentId: parent.agentId,
        input: parsed.data as Record<string, unknown>,
        parentRunId: parent.runId,
        idempotencyKey: `child:${parent.runId}:${graph}`,
      });
      return { run_id: record.run_id };
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
