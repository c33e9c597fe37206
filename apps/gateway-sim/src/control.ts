import { Router } from 'express';
import { z } from 'zod';
import { ConfigPatch, applyPatch } from './config.js';
import { errorBody } from './faults.js';
import type { SimState } from './state.js';
import { jobView } from './tools/orchestrator.js';

const CallsQuery = z.object({
  run_id: z.string().optional(),
  tool: z.string().optional(),
  action: z.string().optional(),
  node: z.string().optional(),
  idempotency_key: z.string().optional(),
  outcome: z.string().optional(),
  since_seq: z.coerce.number().int().min(0).optional(),
  full: z.enum(['0', '1', 'true', 'false']).optional(),
});

/** Test/demo/benchmark control surface under `/_sim`. Not part of the router's contract. */
export function controlRouter(state: SimState): Router {
  const r = Router();

  r.get('/calls', (req, res) => {
    const q = CallsQuery.safeParse(req.query);
    if (!q.success) {
      res.status(400).json(errorBody('bad_request', 'invalid query', { issues: q.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`) }));
      return;
    }
    const { full, ...filter } = q.data;
    res.json({ calls: state.calls.list(filter, full === '1' || full === 'true') });
  });

  r.delete('/calls', (_req, res) => {
    state.calls.clear();
    res.status(204).end();
  });

  r.get('/stats', (_req, res) => {
    res.json(state.calls.stats());
  });

  r.get('/config', (_req, res) => {
    res.json(state.config);
  });

  r.patch('/config', (req, res) => {
    const p = ConfigPatch.safeParse(req.body ?? {});
    if (!p.success) {
      res.status(400).json(errorBody('bad_request', 'invalid config patch', { issues: p.error.issues.map((i) => `${i.path.join('.') || 'body'}: ${i.message}`) }));
      return;
    }
    state.config = applyPatch(state.config, p.data);
    res.json(state.config);
  });

  r.get('/jobs', (_req, res) => {
    const now = state.now();
    res.json({
      jobs: [...state.stores.jobs.values()].map((j) => ({ ...jobView(j, now), duration_ms: j.duration_ms, checks_requested: j.checks })),
    });
  });

  r.get('/incidents', (_req, res) => {
    res.json({ incidents: [...state.stores.incidents.values()] });
  });

  r.post('/reset', (_req, res) => {
    state.reset();
    res.status(204).end();
  });

  return r;
}
