import type { AnyMachineSnapshot } from 'xstate';
import { END, type NodeDef } from '@sup/graphs';
import { FAILED, type CompiledGraph, type NodeDoneEvent, type RunContext } from './machine.js';
import { runNode, StepAborted } from './run-node.js';
import { persistSnapshot } from './persist.js';
import type { StepDeps, StepOutcome } from './index.js';

interface Persisted { status?: string; value?: unknown; context?: RunContext }

/** The node the next step will run; null when the run is finished (or failed). */
export function nodeOf(graph: CompiledGraph, snapshot: unknown | null): string | null {
  if (snapshot === null || snapshot === undefined) return graph.def.start;
  const { status, value } = snapshot as Persisted;
  if (status !== 'active' || !value || typeof value !== 'object') return null;
  const node = Object.keys(value)[0];
  return node && graph.nodes.has(node) ? node : null;
}

/**
 * The machine snapshot behind each persisted snapshot step() returned, so the next step of the
 * same job pass goes on from it instead of restoring it again. Keyed by the (never mutated)
 * persisted object: a snapshot read back from Redis is a new object and is restored.
 */
const live = new WeakMap<object, AnyMachineSnapshot>();

/**
 * Runs exactly one node: restore the machine snapshot, run the current node, feed its result to
 * the machine as one pure transition (DONE), return the persisted snapshot. A persisted snapshot
 * is always between two nodes (ready or parked), so restoring it runs nothing.
 */
export async function step(graph: CompiledGraph, snapshot: unknown | null, input: Record<string, unknown>, deps: StepDeps): Promise<StepOutcome> {
  if (deps.signal.aborted) throw new StepAborted();
  const node = nodeOf(graph, snapshot);
  if (!node) {
    const active = (snapshot as Persisted).status === 'active';
    throw new Error(`step: ${active ? `snapshot names a node graph ${graph.def.name} does not have` : `run of graph ${graph.def.name} has already finished`}`);
  }
  const started = deps.now();
  const stats = { toolCalls: 0 };
  const common = () => ({ node, toolCalls: stats.toolCalls, durationMs: deps.now() - started });
  const { machine, scope } = graph;

  let current: AnyMachineSnapshot;
  if (snapshot) current = live.get(snapshot as object) ?? machine.restoreSnapshot!(snapshot as never, scope);
  else {
    const parsed = graph.def.input.safeParse(input);
    if (!parsed.success) {
      return { kind: 'failed', visit: 1, error: { code: 'invalid_input', message: `input for graph ${graph.def.name} is invalid`, node, details: { issues: parsed.error.issues } }, snapshot: null, ...common() };
    }
    current = machine.getInitialSnapshot(scope, { input: parsed.data as Record<string, unknown> });
  }

  const ctx = current.context as RunContext;
  const visit = ctx.visits[node] ?? 1;
  // rejects only with StepAborted: every other outcome of the node is data
  const def = graph.nodes.get(node)!;
  const run = await runNode(def, { node, visit, park: ctx.park, state: ctx.state, input: ctx.input, outputs: ctx.outputs }, deps, stats);

  let after: AnyMachineSnapshot;
  let persisted: object;
  try {
    after = machine.transition(current, { type: 'DONE', run } satisfies NodeDoneEvent, scope);
    if (after.status === 'error') throw after.error;
    // walks the context: throws on an output nested too deep for the stack
    persisted = persistSnapshot(machine, after);
  } catch (err) {
    // a throwing edge guard or graph.result, or an output that cannot be kept: nothing advanced
    return { kind: 'failed', visit, error: { code: 'node_error', message: err instanceof Error ? err.message : String(err), node }, snapshot, ...common() };
  }
  const c = after.context as RunContext;
  live.set(persisted, after);
  // the state values, read directly (snapshot.matches parses its argument into a state value on
  // every call): the final states are top-level and atomic, so their value is their name
  const at = after.value as string | Record<string, string>;
  const took = deps.now() - started;
  if (at === END) return outcome({ kind: 'succeeded', visit, output: c.outputs[node], result: after.output }, persisted, node, stats, took, def, c.outputs[node]);
  if (at === FAILED) return outcome({ kind: 'failed', visit, error: c.error! }, persisted, node, stats, took);
  if (typeof at === 'object' && at[node] === 'parked') {
    const was = current.value as string | Record<string, string>;
    const again = typeof was === 'object' && was[node] === 'parked' && ctx.reason === c.reason;
    const o: Bare<Extract<StepOutcome, { kind: 'waiting' }>> = { kind: 'waiting', visit, delayMs: c.delayMs, reason: c.reason, again };
    if (c.reason === 'retry') {
      o.attempt = c.retries;
      o.error = c.error!;
      return outcome(o, persisted, node, stats, took);
    }
    return outcome(o, persisted, node, stats, took, def, c.state);
  }
  return outcome({ kind: 'advanced', visit, output: c.outputs[node], next: nodeOf(graph, persisted)! }, persisted, node, stats, took, def, c.outputs[node]);
}

type Common = 'snapshot' | 'node' | 'toolCalls' | 'durationMs' | 'refs';
/** An outcome before `outcome()` completes it. */
type Bare<T> = T extends unknown ? Omit<T, Common> : never;

/**
 * Completes an outcome in place: the snapshot, the step's figures and the node's refs (of `value`,
 * when a `def` is given). Not a literal with spreads of helper objects: spreads into a literal that
 * already has keys take V8's slow path, and this runs once per node.
 */
function outcome(o: Bare<StepOutcome>, snapshot: unknown, node: string, stats: { toolCalls: number }, durationMs: number, def?: NodeDef, value?: unknown): StepOutcome {
  const out = o as StepOutcome;
  out.snapshot = snapshot;
  if (def) {
    const refs = refsOf(def, value);
    if (refs) out.refs = refs;
  }
  out.node = node;
  out.toolCalls = stats.toolCalls;
  out.durationMs = durationMs;
  return out;
}

/**
 * The refs of a node's output or wait state for its outcome (undefined when it has none): at most
 * 5 strings of 200 characters; a refs function that throws gives none.
 */
function refsOf(def: NodeDef, value: unknown): Record<string, string> | undefined {
  if (!def.refs || value === undefined) return undefined;
  try {
    const r = def.refs(value);
    if (!r) return undefined;
    const kept = Object.entries(r).filter(([, v]) => typeof v === 'string').slice(0, 5).map(([k, v]) => [k.slice(0, 64), v.slice(0, 200)]);
    return kept.length ? Object.fromEntries(kept) : undefined;
  } catch {
    return undefined;
  }
}

/**
 * What a run had done, read from its snapshot: for compensation when it is cancelled. `visit` and
 * `park` are those of the node it was in — what its interrupted tool calls' keys were made of.
 */
export function progressOf(graph: CompiledGraph, snapshot: unknown | null): { outputs: Record<string, unknown>; node: string | null; state: unknown; visit: number; park: number } {
  const ctx = (snapshot as Persisted | null)?.context;
  const node = nodeOf(graph, snapshot);
  return { outputs: ctx?.outputs ?? {}, node, state: ctx?.state, visit: (node && ctx?.visits[node]) || 1, park: ctx?.park ?? 0 };
}
