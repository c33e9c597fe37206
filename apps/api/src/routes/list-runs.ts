import { Router } from 'express';
import { AppError, ListRunsQuery, publicRun } from '@sup/contracts';
import type { ListPosition, RunStore } from '@sup/run-store';
import { parseQuery } from '../errors.js';

/**
 * The cursor is opaque to clients: base64url of `<created ms>.<run id>`, the last position of the
 * page. It stays valid when runs are added (they sort before it) or expire.
 */
export function encodeCursor(p: ListPosition): string {
  return Buffer.from(`${p.score}.${p.id}`).toString('base64url');
}

export function decodeCursor(cursor: string): ListPosition {
  const m = /^(\d{1,16})\.([A-Za-z0-9_]{1,64})$/.exec(Buffer.from(cursor, 'base64url').toString('utf8'));
  if (!m) throw new AppError(400, 'invalid_cursor', 'cursor is not a next_cursor this API returned');
  return { score: Number(m[1]), id: m[2]! };
}

export interface ListRunsDeps {
  store: RunStore;
  graphs: readonly string[];
}

/**
 * `GET /v1/runs`: newest first. A `status` filter is checked on the records of a bounded slice of
 * the index per request (of the live set for an unfinished status), so its page may hold fewer
 * than `limit` runs and still have a `next_cursor`; walk until `next_cursor` is null.
 */
export function listRunsRoutes(d: ListRunsDeps): Router {
  const r = Router();
  r.get('/v1/runs', async (req, res) => {
    const q = parseQuery(ListRunsQuery, req.query);
    if (q.graph !== undefined && !d.graphs.includes(q.graph)) {
      throw new AppError(400, 'validation_failed', `unknown graph ${JSON.stringify(q.graph)}`, { graphs: d.graphs });
    }
    const page = await d.store.list({
      limit: q.limit,
      ...(q.cursor ? { after: decodeCursor(q.cursor) } : {}),
      ...(q.graph ? { graph: q.graph } : {}),
      ...(q.agent_id ? { agentId: q.agent_id } : {}),
      ...(q.status ? { status: q.status } : {}),
      ...(q.parent_run_id ? { parentRunId: q.parent_run_id } : {}),
      ...(q.schedule_id ? { scheduleId: q.schedule_id } : {}),
    });
    const body = { runs: page.runs.map(publicRun), next_cursor: page.next ? encodeCursor(page.next) : null };
    res.json(body);
  });
  return r;
}
