import { Router } from 'express';
import type { Queue } from 'bullmq';
import { createBullBoard } from '@bull-board/api';
import { BullMQAdapter } from '@bull-board/api/bullMQAdapter';
import type { QueueAdapterOptions, QueueJobJson } from '@bull-board/api/typings/app';
import { ExpressAdapter } from '@bull-board/express';
import { publicRun } from '@sup/contracts';
import type { RunStore } from '@sup/run-store';
import { requireAdmin } from './admin-auth.js';
import { loadRun } from './routes/runs.js';

export const ADMIN_BASE = '/admin/queues';

export interface AdminDeps {
  apiKeys: string[];
  /** Every queue the system uses; each one is a tab of the board. */
  queues: readonly Queue[];
  store: RunStore;
}

/**
 * Jobs of every queue carry `run_id` in their data (a run job's id is the run id itself). The link
 * points at /admin/runs/<id>, which the admin session cookie opens in a browser; /v1 takes only a
 * Bearer key, and a cookie there would make the API forgeable cross-site.
 */
export const runLink = ((job: QueueJobJson) => {
  const runId = (job.data as { run_id?: unknown } | undefined)?.run_id;
  return typeof runId === 'string' ? { href: `/admin/runs/${encodeURIComponent(runId)}`, displayText: `run ${runId}` } : undefined;
}) as NonNullable<QueueAdapterOptions['externalJobUrl']>;

/** bull-board at /admin/queues and the run view its job links open, both behind requireAdmin. */
export function adminRoutes(d: AdminDeps): Router {
  const board = new ExpressAdapter();
  board.setBasePath(ADMIN_BASE);
  createBullBoard({
    queues: d.queues.map((q) => new BullMQAdapter(q, { externalJobUrl: runLink })),
    serverAdapter: board,
    options: { uiConfig: { boardTitle: 'Graph runs' } },
  });

  const r = Router();
  r.use('/admin', requireAdmin(d.apiKeys));
  r.get('/admin/runs/:id', async (req, res) => {
    res.json(publicRun(await loadRun(d.store, req.params.id)));
  });
  r.use(ADMIN_BASE, board.getRouter() as Router);
  return r;
}
