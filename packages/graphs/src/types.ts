import type { z } from 'zod';
import type { ToolCaller } from '@sup/contracts';

/** What a node can do besides calling tools: start and watch child runs (postmortem_draft). */
export interface ChildRuns {
  start(graph: string, input: Record<string, unknown>): Promise<{ run_id: string }>;
  get(runId: string): Promise<{ run_id: string; status: string; result: unknown; error: unknown } | null>;
  /** Cancel a child run (best effort; a finished child is left alone). */
  cancel(runId: string, reason: string): Promise<void>;
  /** This run's children that have not finished (from the listing index by parent). */
  unfinished(): Promise<string[]>;
}

/** What a graph's compensation sees when its run is cancelled. */
export interface CancelContext<I = Record<string, unknown>> {
  runId: string;
  input: I;
  /** Outputs of the nodes that had finished, plus the parked node's wait state under `state`. */
  outputs: Record<string, unknown>;
  /** The node the run was in (in flight or parked), if any, and its wait state. */
  node: string | null;
  state: unknown;
  tools: ToolCaller;
  /**
   * Sends calls again with the idempotency keys the interrupted node's calls had, in order (the
   * first `resend.call` gets the key of the node's first call): at a well-behaved gateway the very
   * same call, answered from what it did — so onCancel can learn, say, the job an aborted
   * `start_task` created. If the gateway never received the original, the call happens now.
   */
  resend: ToolCaller;
  runs: ChildRuns;
  signal: AbortSignal;
}

export interface NodeContext<I = Record<string, unknown>> {
  runId: string;
  agentId: string;
  node: string;
  input: I;
  /** Outputs of the nodes that finished before this one, by node name. */
  outputs: Record<string, unknown>;
  /** Node-local state carried across parks (`wait`); undefined on the first call of a visit. */
  state: unknown;
  tools: ToolCaller;
  runs: ChildRuns;
  /** Aborted on cancel, node timeout or worker shutdown. Pass it on to anything slow. */
  signal: AbortSignal;
  now(): number;
  settings: { jobPollIntervalMs: number };
}

/**
 * A node either finishes with an output, or asks to be parked: the worker persists `state`, frees
 * its slot and calls the node again with that state after `delayMs` (no sleeping in a worker).
 */
export type NodeResult =
  | { output: unknown }
  | { wait: { delayMs: number; state: unknown; reason: string } };

export interface NodePolicy {
  /** Abort the node's work (and its tool calls) after this long; counts as a retryable failure. */
  timeoutMs?: number;
  /** Extra attempts after a retryable failure; each waits `backoffMs * 2^n` parked, not sleeping. */
  retries?: number;
  backoffMs?: number;
}

export interface NodeDef<I = any> {
  name: string;
  description: string;
  policy?: NodePolicy;
  run(ctx: NodeContext<I>): Promise<NodeResult>;
  /**
   * Ids of what the node started elsewhere (an orchestrator job, a child run), from its output or
   * its wait state: shown in its node_finished / node_waiting event and in the record's `waiting`,
   * so an operator can find them without reading the snapshot. Small strings only.
   */
  refs?(value: unknown): Record<string, string> | undefined;
}

export interface EdgeView<I = any> {
  input: I;
  outputs: Record<string, unknown>;
}

/** `to: END` finishes the run. Edges from one node are tried in order; the first whose `when` holds wins. */
export interface EdgeDef<I = any> {
  from: string;
  to: string;
  when?: (v: EdgeView<I>) => boolean;
  /** Shown in GET /v1/graphs for conditional edges. */
  label?: string;
}

export const END = '__end__';

/** NodeDef.refs for a node whose output or wait state names what it started in one string field. */
export const refField = (field: string) => (value: unknown): Record<string, string> | undefined => {
  const id = (value as Record<string, unknown> | null | undefined)?.[field];
  return typeof id === 'string' ? { [field]: id } : undefined;
};

export interface GraphDefinition<I = any> {
  name: string;
  description: string;
  input: z.ZodType<I>;
  start: string;
  nodes: NodeDef<I>[];
  edges: EdgeDef<I>[];
  /** The run's result from all node outputs; defaults to the last node's output. */
  result?: (v: EdgeView<I>) => unknown;
  /**
   * Best-effort compensation when a run is cancelled (release_check cancels its orchestrator job,
   * postmortem_draft its child triage run). Errors are logged, never retried forever.
   */
  onCancel?: (ctx: CancelContext<I>) => Promise<void>;
}
