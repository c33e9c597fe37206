import { jest } from '@jest/globals';
import { makeNoopGraph, type EdgeDef, type GraphDefinition, type NodeDef } from '@sup/graphs';
import { step, type CompiledGraph, type StepDeps, type StepOutcome } from '../src/index.js';

export type ToolReq = Parameters<StepDeps['callTool']>[0];

/** A graph from nodes and edges; the input schema accepts any object. */
export function graph(nodes: NodeDef[], edges: EdgeDef[], extra: Partial<GraphDefinition> = {}): GraphDefinition {
  return { name: 'test', description: 'test graph', input: makeNoopGraph('x', 1).input, start: nodes[0]!.name, nodes, edges, ...extra };
}

export function fakeDeps(handler: (req: ToolReq) => Promise<Record<string, unknown>> | Record<string, unknown> = () => ({ ok: 1 }), over: Partial<StepDeps> = {}) {
  const calls: ToolReq[] = [];
  let clock = 1_000_000;
  const deps: StepDeps = {
    runId: 'gr_test',
    agentId: 'tester',
    callTool: jest.fn(async (req: ToolReq) => {
      calls.push(req);
      return handler(req);
    }),
    runs: { start: async () => ({ run_id: 'gr_child' }), get: async () => null, cancel: async () => undefined, unfinished: async () => [] },
    signal: new AbortController().signal,
    now: () => clock,
    settings: { jobPollIntervalMs: 3_000 },
    ...over,
  };
  return { deps, calls, advance: (ms: number) => void (clock += ms) };
}

/** JSON round trip, as the worker persists the snapshot in Redis between steps. */
export const viaJson = (s: unknown): unknown => (s === null ? null : JSON.parse(JSON.stringify(s)));

/** Steps a run to its end, round-tripping the snapshot through JSON between every step. */
export async function drive(g: CompiledGraph, input: Record<string, unknown>, deps: StepDeps, onStep?: (o: StepOutcome) => void, max = 50): Promise<StepOutcome[]> {
  const out: StepOutcome[] = [];
  let snapshot: unknown = null;
  for (let i = 0; i < max; i++) {
    const o = await step(g, snapshot, input, deps);
    out.push(o);
    onStep?.(o);
    if (o.kind === 'succeeded' || o.kind === 'failed') return out;
    snapshot = viaJson(o.snapshot);
  }
  throw new Error(`run did not finish in ${max} steps`);
}
