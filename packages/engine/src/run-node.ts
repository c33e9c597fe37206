import { ToolError, type ErrorData, type ToolCaller } from '@sup/contracts';
import type { NodeDef, NodeResult } from '@sup/graphs';
import { DEFAULT_POLICY, type NodeRun, type NodeRunInput } from './machine.js';
import type { StepDeps } from './index.js';

/** Thrown by step() when deps.signal aborts: nothing advanced, the caller keeps the old snapshot. */
export class StepAborted extends Error {
  constructor(message = 'step aborted') {
    super(message);
    this.name = 'StepAborted';
  }
}

// duck-typed too, so a second copy of @sup/contracts in a bundle still counts
const asToolError = (e: unknown): ToolError | null =>
  e instanceof ToolError || (e instanceof Error && e.name === 'ToolError' && typeof (e as ToolError).retryable === 'boolean' && typeof (e as ToolError).code === 'string')
    ? (e as ToolError)
    : null;

/**
 * Rejects when the signal aborts. The listener must be removed afterwards: on Node 20 a signal
 * from AbortSignal.any() that still has listeners is never freed (nodejs/node#55328), which
 * leaked ~1.8 KB per step in long-lived workers.
 */
function abortable(signal: AbortSignal): { promise: Promise<never>; dispose(): void } {
  let onAbort: (() => void) | undefined;
  const promise = new Promise<never>((_, reject) => {
    if (signal.aborted) return reject(signal.reason);
    onAbort = () => reject(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
  });
  return { promise, dispose: () => onAbort && signal.removeEventListener('abort', onAbort) };
}

function checkResult(r: NodeResult): NodeRun {
  if (r && typeof r === 'object' && 'wait' in r) {
    const { delayMs, state, reason } = r.wait;
    if (!Number.isFinite(delayMs) || delayMs < 0) throw new Error(`wait.delayMs must be a finite number >= 0, got ${delayMs}`);
    return { type: 'wait', delayMs, state, reason: String(reason) };
  }
  if (r && typeof r === 'object' && 'output' in r) return { type: 'output', output: r.output };
  throw new Error('node returned neither { output } nor { wait }');
}

/**
 * Runs one node once: builds its context (tool caller with idempotency keys, abortable signal),
 * enforces the timeout even against a node that ignores its signal, and turns every outcome into
 * data. The only rejection is StepAborted.
 */
export async function runNode(node: NodeDef, req: NodeRunInput, deps: StepDeps, stats: { toolCalls: number }): Promise<NodeRun> {
  const timeoutMs = node.policy?.timeoutMs ?? DEFAULT_POLICY.timeoutMs;
  const timeout = new AbortController();
  const timer = setTimeout(() => timeout.abort(new ToolError('node_timeout', `node ${node.name} timed out after ${timeoutMs} ms`, true, { timeout_ms: timeoutMs })), timeoutMs);
  const signal = AbortSignal.any([deps.signal, timeout.signal]);
  let callIndex = 0;
  const tools: ToolCaller = {
    call(tool, action, params, opts) {
      signal.throwIfAborted(); // a node that ignored its timeout gets no further calls
      const idempotencyKey = `${deps.runId}:${node.name}:${req.visit}.${req.park}:${callIndex++}`;
      stats.toolCalls++;
      return deps.callTool({ tool, action, params, node: node.name, idempotencyKey, signal: opts?.signal ? AbortSignal.any([signal, opts.signal]) : signal });
    },
  };
  let aborted: ReturnType<typeof abortable> | undefined;
  try {
    const work = Promise.resolve().then(() =>
      node.run({
        runId: deps.runId, agentId: deps.agentId, node: node.name, input: req.input, outputs: req.outputs, state: req.state,
        tools, runs: deps.runs, signal, now: deps.now, settings: deps.settings,
      }),
    );
    work.catch(() => {}); // it may settle after the race is lost
    aborted = abortable(signal);
    return checkResult(await Promise.race([work, aborted.promise]));
  } catch (err) {
    if (deps.signal.aborted) throw new StepAborted();
    const e = timeout.signal.aborted ? (timeout.signal.reason as ToolError) : asToolError(err);
    if (e) return { type: 'error', error: e.toData(node.name), retryable: e.retryable };
    const error: ErrorData = { code: 'node_error', message: err instanceof Error ? err.message : String(err), node: node.name };
    return { type: 'error', error, retryable: false };
  } finally {
    clearTimeout(timer);
    aborted?.dispose();
  }
}
