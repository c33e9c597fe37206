import { createActor, fromPromise, waitFor } from 'xstate';
import { END, type GraphDefinition } from '@sup/graphs';
import { FAILED, graphMachine, type CompiledGraph, type NodeRun, type NodeRunInput, type RunContext } from './machine.js';
import { runNode, StepAborted } from './run-node.js';
import type { StepDeps, StepOutcome } from './index.js';

/**
 * The node runner of each step in flight, by actor system. `machine.provide()` rebuilds every
 * state node (milliseconds for a large graph), so it runs once per graph, not once per step.
 */
const runners = new WeakMap<object, (req: NodeRunInput) => Promise<NodeRun>>();

/** Graph definition → machine with its node runner provided. Pure; call once per graph and reuse. */
export function compileGraph(def: GraphDefinition): CompiledGraph {
  const g = graphMachine(def);
  const nodeActor = fromPromise<NodeRun, NodeRunInput>(({ input, system }) => runners.get(system)!(input));
  return { ...g, machine: g.machine.provide({ actors: { runNode: nodeActor } }) };
}

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
 * Runs exactly one node: restore the actor, send STEP, wait until the node leaves `running`,
 * persist, stop. A persisted snapshot never holds a running node, so restoring it runs nothing.
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

  let options: Parameters<typeof createActor>[1];
  if (snapshot) options = { snapshot: snapshot as never };
  else {
    const parsed = graph.def.input.safeParse(input);
    if (!parsed.success) {
      return { kind: 'failed', visit: 1, error: { code: 'invalid_input', message: `input for graph ${graph.def.name} is invalid`, node, details: { issues: parsed.error.issues } }, snapshot: null, ...common() };
    }
    options = { input: { input: parsed.data as Record<string, unknown> } };
  }

  let aborted = false;
  const actor = createActor(graph.machine, options);
  runners.set(actor.system, (req) =>
    runNode(graph.nodes.get(req.node)!, req, deps, stats).catch((err) => {
      if (err instanceof StepAborted) aborted = true;
      throw err;
    }),
  );
  try {
    actor.start();
    const visit = (actor.getSnapshot().context as RunContext).visits[node] ?? 1;
    actor.send({ type: 'STEP' });
    let after;
    try {
      after = await waitFor(actor, (s) => !s.matches({ [node]: 'running' }));
    } catch (err) {
      // a throwing edge guard or graph.result: the machine itself errored
      if (aborted) throw new StepAborted();
      return { kind: 'failed', visit, error: { code: 'node_error', message: err instanceof Error ? err.message : String(err), node }, snapshot, ...common() };
    }
    if (aborted) throw new StepAborted();
    const ctx = after.context as RunContext;
    const persisted = actor.getPersistedSnapshot();
    if (after.matches(END)) return { kind: 'succeeded', visit, output: ctx.outputs[node], result: after.output, snapshot: persisted, ...common() };
    if (after.matches(FAILED)) return { kind: 'failed', visit, error: ctx.error!, snapshot: persisted, ...common() };
    if (after.matches({ [node]: 'parked' })) {
      const retry = ctx.reason === 'retry' ? { attempt: ctx.retries, error: ctx.error! } : {};
      return { kind: 'waiting', visit, delayMs: ctx.delayMs, reason: ctx.reason, ...retry, snapshot: persisted, ...common() };
    }
    return { kind: 'advanced', visit, output: ctx.outputs[node], next: nodeOf(graph, persisted)!, snapshot: persisted, ...common() };
  } finally {
    actor.stop();
    runners.delete(actor.system);
  }
}

/** What a run had done, read from its snapshot: for compensation when it is cancelled. */
export function progressOf(graph: CompiledGraph, snapshot: unknown | null): { outputs: Record<string, unknown>; node: string | null; state: unknown } {
  const ctx = (snapshot as Persisted | null)?.context;
  return { outputs: ctx?.outputs ?? {}, node: nodeOf(graph, snapshot), state: ctx?.state };
}
