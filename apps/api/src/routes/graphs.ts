import { Router } from 'express';
import { z } from 'zod';
import { END, type GraphDefinition } from '@sup/graphs';

/** A graph as the API shows it: nodes, edges (conditional ones labelled) and input JSON Schema. */
export function describeGraph(g: GraphDefinition) {
  return {
    name: g.name,
    description: g.description,
    start: g.start,
    nodes: g.nodes.map((n) => ({ name: n.name, description: n.description, policy: n.policy ?? {} })),
    edges: g.edges.map((e) => ({ from: e.from, to: e.to === END ? 'end' : e.to, conditional: Boolean(e.when), ...(e.label ? { label: e.label } : {}) })),
    input_schema: z.toJSONSchema(g.input, { io: 'input', unrepresentable: 'any' }),
  };
}

export function graphRoutes(graphs: Record<string, GraphDefinition>): Router {
  const r = Router();
  const body = { graphs: Object.values(graphs).map(describeGraph) };
  r.get('/v1/graphs', (_req, res) => void res.json(body));
  return r;
}
