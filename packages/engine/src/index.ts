import type { ErrorData } from '@sup/contracts';
import type { ChildRuns } from '@sup/graphs';

/**
 * The cancel of a run as step() watches it: an AbortSignal, or anything that behaves as one in
 * these members. The worker passes a lighter one (apps/worker/src/cancels.ts): an AbortController
 * per job pass and an EventTarget listener added and removed around every step showed as ~2 % of
 * its CPU. A listener added after the abort is never called, as with an AbortSignal.
 */
export interface CancelSignal {
  readonly aborted: boolean;
  readonly reason: unknown;
  addEventListener(type: 'abort', listener: () => void): void;
  removeEventListener(type: 'abort', listener: () => void): void;
}

/** What a step needs from the outside world; the engine itself does no I/O. */
export interface StepDeps {
  runId: string;
  agentId: string;
  callTool(req: { tool: string; action: string; params: Record<string, unknown>; node: string; idempotencyKey: string; signal: AbortSignal }): Promise<Record<string, unknown>>;
  runs: ChildRuns;
  /** Cancel / shutdown: aborts the node in flight, and step() throws StepAborted. */
  signal: CancelSignal;
  now(): number;
  settings: { jobPollIntervalMs: number };
}

interface StepStats {
  node: string; visit: number; toolCalls: number; durationMs: number; snapshot: unknown;
  /** The node's refs (NodeDef.refs) of its output, or of its wait state when it parks. */
  refs?: Record<string, string>;
}

export type StepOutcome =
  | (StepStats & { kind: 'advanced'; output: unknown; next: string })
  /**
   * A park: the node asked to wait, or a retryable failure with retries left (reason 'retry', with
   * attempt and error). `again`: the step woke from a park of this node for the same reason and parks
   * once more (the next poll of a job still running).
   */
  | (StepStats & { kind: 'waiting'; delayMs: number; reason: string; again: boolean; attempt?: number; error?: ErrorData })
  | (StepStats & { kind: 'succeeded'; output: unknown; result: unknown })
  /** error.node is set; error.details.attempts counts the tries of the failing visit. */
  | (StepStats & { kind: 'failed'; error: ErrorData });

export { DEFAULT_POLICY, MAX_RETRY_AFTER_MS, type CompiledGraph } from './machine.js';
export { compileGraph } from './machine.js';
export { step, nodeOf, progressOf } from './step.js';
export { callKey, StepAborted } from './run-node.js';
