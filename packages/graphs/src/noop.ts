import { z } from 'zod';
import { END, type GraphDefinition, type NodeDef } from './types.js';

/**
 * A linear graph of `n` nodes (`node_0` … `node_{n-1}`) that call no tools; each outputs `{ i }`.
 * For engine/worker tests and benchmarks only — not registered in `graphs`.
 */
export function makeNoopGraph(name: string, n: number): GraphDefinition<Record<string, unknown>> {
  if (!Number.isInteger(n) || n < 1) throw new Error(`makeNoopGraph: n must be a positive integer, got ${n}`);
  const names = Array.from({ length: n }, (_, i) => `node_${i}`);
  const nodes: NodeDef<Record<string, unknown>>[] = names.map((node, i) => ({
    name: node,
    description: `no-op ${i + 1}/${n}`,
    run: async () => ({ output: { i } }),
  }));
  return {
    name,
    description: `${n} no-op nodes in a line (test graph)`,
    input: z.record(z.string(), z.unknown()),
    start: names[0]!,
    nodes,
    edges: names.map((from, i) => ({ from, to: names[i + 1] ?? END })),
  };
}
