import { assign, createActor, setup, type AnyActorScope, type AnyEventObject, type AnyStateMachine } from 'xstate';
import type { ErrorData } from '@sup/contracts';
import { END, type EdgeView, type GraphDefinition, type NodeDef, type NodePolicy } from '@sup/graphs';

export const FAILED = '__failed__';
export const DEFAULT_POLICY: Required<NodePolicy> = { timeoutMs: 120_000, retries: 0, backoffMs: 1_000 };

/** Everything a run needs to resume, kept in the machine context (plain JSON). */
export interface RunContext {
  input: Record<string, unknown>;
  outputs: Record<string, unknown>;
  /** Entries per node; the current node's entry is its visit number. */
  visits: Record<string, number>;
  /** Waits the node asked for in this visit; part of the idempotency key, so every poll differs. */
  park: number;
  /** Retryable failures in a row in this visit; a retry keeps the key of the attempt it repeats. */
  retries: number;
  /** Node-local state from its last wait. */
  state: unknown;
  /** The current park: how long and why. */
  delayMs: number;
  reason: string;
  error: ErrorData | null;
  last: string | null;
}

/** What a node run gets (built from the context) and what it comes back with: failures are data. */
export interface NodeRunInput { node: string; visit: number; park: number; state: unknown; input: Record<string, unknown>; outputs: Record<string, unknown> }
export type NodeRun =
  | { type: 'output'; output: unknown }
  | { type: 'wait'; delayMs: number; state: unknown; reason: string }
  | { type: 'error'; error: ErrorData; retryable: boolean };

/** The one event: the current node ran, here is how it came back. */
export interface NodeDoneEvent { type: 'DONE'; run: NodeRun }

export interface CompiledGraph {
  def: GraphDefinition;
  nodes: ReadonlyMap<string, NodeDef>;
  machine: AnyStateMachine;
  scope: AnyActorScope;
}

type Args = { context: RunContext; event: AnyEventObject };
const run = (e: Args['event']) => (e as NodeDoneEvent).run;
const outputOf = (e: Args['event']) => (run(e) as Extract<NodeRun, { type: 'output' }>).output;
const errorOf = (e: Args['event']) => (run(e) as Extract<NodeRun, { type: 'error' }>).error;
const view = (c: RunContext, node: string, output: unknown): EdgeView => ({ input: c.input, outputs: { ...c.outputs, [node]: output } });
const target = (state: string) => `#graph.${state}`;

/** The longest Retry-After a retry park honours (a far-future HTTP date is clamped to it). */
export const MAX_RETRY_AFTER_MS = 3_600_000;

/**
 * The park before a retry: the node's backoff, or longer when the failure says how long to wait
 * (`details.retry_after_ms`: the gateway's Retry-After, handed back by the gateway client instead
 * of waiting for it in-process).
 */
export function retryDelayMs(backoffMs: number, retries: number, err: ErrorData): number {
  const backoff = backoffMs * 2 ** retries;
  const asked = (err.details as { retry_after_ms?: unknown } | undefined)?.retry_after_ms;
  return typeof asked === 'number' && Number.isFinite(asked) ? Math.max(backoff, Math.min(Math.ceil(asked), MAX_RETRY_AFTER_MS)) : backoff;
}

function nodeState(def: GraphDefinition, node: NodeDef) {
  const policy = { ...DEFAULT_POLICY, ...node.policy };
  const attempts = (c: RunContext) => c.retries + 1;
  const fail = (c: RunContext, err: ErrorData): ErrorData => {
    const extra = err.details && typeof err.details === 'object' && !Array.isArray(err.details) ? err.details : err.details === undefined ? {} : { details: err.details };
    // `attempts` is the node's; a tool error's own count (HTTP attempts of its last call) stays as call_attempts
    const calls = (extra as { attempts?: unknown }).attempts;
    return { ...err, node: node.name, details: { ...extra, attempts: attempts(c), ...(calls !== undefined ? { call_attempts: calls } : {}) } };
  };
  // Edges are tried in order (first `when` that holds wins); each is a guarded transition.
  const edges = def.edges.filter((e) => e.from === node.name).map((e) => ({
    guard: ({ context, event }: Args) => run(event).type === 'output' && (!e.when || e.when(view(context, node.name, outputOf(event)))),
    target: target(e.to),
    reenter: true, // a self-loop is a new visit
    actions: assign(({ context, event }: Args) => ({ outputs: { ...context.outputs, [node.name]: outputOf(event) }, last: node.name, error: null })),
  }));
  const done = [
    ...edges,
    {
      guard: ({ event }: Args) => run(event).type === 'output',
      target: target(FAILED),
      actions: assign(({ context }: Args) => ({ error: fail(context, { code: 'no_edge', message: `no edge from ${node.name} matched its output` }) })),
    },
    {
      guard: ({ event }: Args) => run(event).type === 'wait',
      target: 'parked',
      actions: assign(({ context, event }: Args) => {
        const w = run(event) as Extract<NodeRun, { type: 'wait' }>;
        return { park: context.park + 1, retries: 0, state: w.state, delayMs: w.delayMs, reason: w.reason, error: null };
      }),
    },
    {
      guard: ({ context, event }: Args) => { const r = run(event); return r.type === 'error' && r.retryable && context.retries < policy.retries; },
      target: 'parked',
      actions: assign(({ context, event }: Args) => ({
        retries: context.retries + 1,
        delayMs: retryDelayMs(policy.backoffMs, context.retries, errorOf(event)),
        reason: 'retry',
        error: { ...errorOf(event), node: node.name },
      })),
    },
    {
      target: target(FAILED),
      actions: assign(({ context, event }: Args) => ({ error: fail(context, errorOf(event)) })),
    },
  ];
  return {
    initial: 'ready',
    entry: assign(({ context }: { context: RunContext }) => ({
      visits: { ...context.visits, [node.name]: (context.visits[node.name] ?? 0) + 1 },
      park: 0, retries: 0, state: undefined, delayMs: 0, reason: '', error: null,
    })),
    // the node runs outside the machine (step() calls it); DONE carries its result
    states: { ready: { on: { DONE: done } }, parked: { on: { DONE: done } } },
  };
}

const RESERVED = new Set([END, FAILED]);

/**
 * Graph definition (data) → a pure XState machine with one state per node, stepped by DONE events,
 * and its transition scope. Pure; call once per graph and reuse.
 */
export function compileGraph(def: GraphDefinition): CompiledGraph {
  const nodes = new Map(def.nodes.map((n) => [n.name, n]));
  const problems: string[] = [];
  if (nodes.size !== def.nodes.length) problems.push('node names are not unique');
  for (const n of def.nodes) {
    if (!/^[A-Za-z0-9_-]+$/.test(n.name) || RESERVED.has(n.name)) problems.push(`bad node name ${JSON.stringify(n.name)}`);
    if (!def.edges.some((e) => e.from === n.name)) problems.push(`node ${n.name} has no outgoing edge`);
  }
  if (!nodes.has(def.start)) problems.push(`start node ${def.start} does not exist`);
  for (const e of def.edges) {
    if (!nodes.has(e.from) || (e.to !== END && !nodes.has(e.to))) problems.push(`edge ${e.from} -> ${e.to} names an unknown node`);
  }
  if (problems.length) throw new Error(`graph ${def.name} is invalid: ${problems.join('; ')}`);

  const machine = setup({
    types: {} as { context: RunContext; input: { input: Record<string, unknown> } | undefined; events: NodeDoneEvent },
  }).createMachine({
    id: 'graph',
    initial: def.start,
    // input is absent only for the scope's own placeholder actor (below)
    context: ({ input }) => ({ input: input?.input ?? {}, outputs: {}, visits: {}, park: 0, retries: 0, state: undefined, delayMs: 0, reason: '', error: null, last: null }),
    states: {
      ...Object.fromEntries(def.nodes.map((n) => [n.name, nodeState(def, n)])),
      [END]: { type: 'final' },
      [FAILED]: { type: 'final' },
    } as any, // states are built from data; xstate's config types cannot follow them
    output: ({ context }) => {
      if (context.error) return undefined; // reached __failed__
      return def.result ? def.result({ input: context.input, outputs: context.outputs }) : context.last ? context.outputs[context.last] : undefined;
    },
  });
  return { def, nodes, machine, scope: inertScope(machine) };
}

/**
 * The actor scope for pure transitions (`machine.transition(snapshot, event, scope)`). xstate's own
 * `transition()` builds a fresh actor, and with it the machine's initial state, on every call —
 * more than the transition itself; this machine has no invoked or spawned actors and only `assign`
 * actions, so one inert scope per graph serves every transition of every run.
 */
function inertScope(machine: AnyStateMachine): AnyActorScope {
  const self = createActor(machine);
  return { self, system: self.system, id: '', sessionId: '', logger: () => {}, defer: () => {}, emit: () => {}, stopChild: () => {}, actionExecutor: () => {} };
}
