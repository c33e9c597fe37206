import { ToolError, type ErrorData, type ToolCaller } from '@sup/contracts';
import type { NodeDef, NodeResult } from '@sup/graphs';
import { DEFAULT_POLICY, type NodeRun, type NodeRunInput } from './machine.js';
import type { CancelSignal, StepDeps } from './index.js';

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
 * The idempotency key of a node's tool call: `<run>:<node>:<visit>.<park>:<call>`. Stable when the
 * same node visit runs again (a crash, a retry), new for every poll (park).
 */
export function callKey(runId: string, node: string, visit: number, park: number, call: number): string {
  return `${runId}:${node}:${visit}.${park}:${call}`;
}

/**
 * A node's abort: on cancel/shutdown (the job's signal) or on the node's timeout. The AbortSignal
 * the node sees is built only when the node (or a tool call) asks for it: an AbortController plus
 * AbortSignal.any per step cost ~8 % of a worker's CPU on quick nodes that never read it.
 * The listener on the job's signal is removed in dispose(): on Node 20 a signal with listeners left
 * on it is never freed (nodejs/node#55328; this leaked ~1.8 KB per step before).
 */
class NodeAbort {
  reason: unknown;
  aborted = false;
  private ctl: AbortController | undefined;
  private lose: ((reason: unknown) => void) | undefined;
  private readonly onParent = () => this.abort(this.parent.reason);

  constructor(private readonly parent: CancelSignal) {
    if (parent.aborted) this.abort(parent.reason);
    // removed in dispose(); the job's signal aborts once, so no `{ once: true }` (which costs more)
    else parent.addEventListener('abort', this.onParent);
  }

  get signal(): AbortSignal {
    if (!this.ctl) {
      this.ctl = new AbortController();
      if (this.aborted) this.ctl.abort(this.reason);
    }
    return this.ctl.signal;
  }

  /**
   * `work`, unless this aborts first: then a rejection with the reason, whatever the work (which
   * may ignore its signal) does after. One promise per node, rather than Promise.race over the
   * work and a promise kept for the abort (~2 µs per step).
   */
  race<T>(work: Promise<T>): Promise<T> {
    if (this.aborted) {
      work.catch(() => {}); // it may settle after the race is lost
      return Promise.reject(this.reason);
    }
    return new Promise<T>((resolve, reject) => {
      this.lose = reject;
      work.then(resolve, reject);
    });
  }

  abort(reason: unknown): void {
    if (this.aborted) return;
    this.aborted = true;
    this.reason = reason;
    this.ctl?.abort(reason);
    this.lose?.(reason);
  }

  dispose(): void {
    this.parent.removeEventListener('abort', this.onParent);
  }
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
  const abort = new NodeAbort(deps.signal);
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    abort.abort(new ToolError('node_timeout', `node ${node.name} timed out after ${timeoutMs} ms`, true, { timeout_ms: timeoutMs }));
  }, timeoutMs);
  let callIndex = 0;
  const tools: ToolCaller = {
    call(tool, action, params, opts) {
      if (abort.aborted) throw abort.reason; // a node that ignored its timeout gets no further calls
      const idempotencyKey = callKey(deps.runId, node.name, req.visit, req.park, callIndex++);
      stats.toolCalls++;
      const signal = opts?.signal ? AbortSignal.any([abort.signal, opts.signal]) : abort.signal;
      return deps.callTool({ tool, action, params, node: node.name, idempotencyKey, signal });
    },
  };
  try {
    const work = Promise.resolve().then(() =>
      node.run({
        runId: deps.runId, agentId: deps.agentId, node: node.name, input: req.input, outputs: req.outputs, state: req.state,
        tools, runs: deps.runs, get signal() { return abort.signal; }, now: deps.now, settings: deps.settings,
      }),
    );
    return checkResult(await abort.race(work));
  } catch (err) {
    if (deps.signal.aborted) throw new StepAborted();
    const e = timedOut ? (abort.reason as ToolError) : asToolError(err);
    if (e) return { type: 'error', error: e.toData(node.name), retryable: e.retryable };
    const error: ErrorData = { code: 'node_error', message: err instanceof Error ? err.message : String(err), node: node.name };
    return { type: 'error', error, retryable: false };
  } finally {
    clearTimeout(timer);
    abort.dispose();
  }
}
