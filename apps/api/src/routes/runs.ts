import { isDeepStrictEqual } from 'node:util';
import { Router } from 'express';
import { z } from 'zod';
import { AppError, CreateRunBody, publicRun, RUN_ID_RE, webhookHostAllowed, webhookLiteralPrivate, type RunRecord } from '@sup/contracts';
import type { GraphDefinition } from '@sup/graphs';
import type { RunStore } from '@sup/run-store';
import { submitRun, type SubmitDeps } from '@sup/queue';
import { OVER_CAPACITY_RETRY_SEC, type Admission } from '../admission.js';
import { parse } from '../errors.js';
import type { CancelService } from '@sup/queue';
import { streamRunEvents, type StreamDeps } from '../sse/stream.js';
import { eventsRequest } from './events-query.js';

const IdemKey = z.string().min(1).max(200).regex(/^[\x21-\x7e]+$/, 'printable ASCII without spaces');
const CancelBody = z.object({ reason: z.string().max(500).optional() }).default({});

export interface RunRoutesDeps {
  graphs: Record<string, GraphDefinition>;
  store: RunStore;
  submit: SubmitDeps;
  cancel: CancelService;
  /** SSE on the events route; without it, a stream request answers 503. */
  stream?: StreamDeps;
  /** Load shedding of creates while Redis is nearly full; without it every valid create is tried. */
  admission?: Admission;
  /** WEBHOOK_ALLOWED_HOSTS; empty or absent = a webhook may name any host. */
  webhookHosts?: readonly string[];
  /** WEBHOOK_DENY_PRIVATE: a webhook naming a private address literally is refused. */
  webhookDenyPrivate?: boolean;
}

export async function loadRun(store: RunStore, id: string): Promise<RunRecord> {
  if (!RUN_ID_RE.test(id)) throw new AppError(404, 'run_not_found', `no run ${JSON.stringify(id.slice(0, 64))}`);
  const rec = await store.get(id);
  if (!rec) throw new AppError(404, 'run_not_found', `no run ${id}`);
  return rec;
}

/**
 * What of a request differs from the run its Idempotency-Key already started, as stored: the
 * validated input (defaults applied), metadata, webhook. Compared as JSON (key order does not count).
 */
function replayDiffers(rec: RunRecord, req: { input: Record<string, unknown>; metadata?: Record<string, unknown> | undefined; webhook?: string | undefined }): string[] {
  const asJson = (v: unknown) => (v === undefined ? undefined : JSON.parse(JSON.stringify(v)) as unknown);
  const fields: Array<[string, unknown, unknown]> = [
    ['input', rec.input, req.input], ['metadata', rec.metadata, req.metadata], ['webhook', rec.webhook ?? undefined, req.webhook],
  ];
  return fields.filter(([, stored, sent]) => !isDeepStrictEqual(asJson(stored), asJson(sent))).map(([name]) => name);
}

export function runRoutes(d: RunRoutesDeps): Router {
  const r = Router();

  r.post('/v1/graphs/:graph/runs', async (req, res) => {
    const graph = Object.hasOwn(d.graphs, req.params.graph) ? d.graphs[req.params.graph] : undefined;
    if (!graph) throw new AppError(404, 'graph_not_found', `unknown graph ${JSON.stringify(req.params.graph.slice(0, 64))}`, { graphs: Object.keys(d.graphs) });
    if (!req.is('application/json')) throw new AppError(415, 'unsupported_media_type', 'send Content-Type: application/json');
    const body = parse(CreateRunBody, req.body, 'request body');
    if (body.webhook && !webhookHostAllowed(body.webhook, d.webhookHosts ?? [])) {
      throw new AppError(422, 'webhook_not_allowed', `webhook host ${new URL(body.webhook).host} is not in WEBHOOK_ALLOWED_HOSTS`, { allowed: d.webhookHosts });
    }
    if (body.webhook && d.webhookDenyPrivate && webhookLiteralPrivate(body.webhook)) {
      throw new AppError(422, 'webhook_not_allowed', `webhook host ${new URL(body.webhook).host} is a private address (WEBHOOK_DENY_PRIVATE)`, { reason: 'private_address' });
    }
    const input = parse(graph.input, body.input, `input for graph ${graph.name}`) as Record<string, unknown>;
    // no metadata, `null` and `{}` are one request (a replay of one is a replay of the others)
    const metadata = body.metadata && Object.keys(body.metadata).length > 0 ? body.metadata : undefined;
    const key = req.get('idempotency-key');
    const idempotencyKey = key === undefined ? undefined : parse(IdemKey, key, 'Idempotency-Key header');
    await d.admission?.check().catch((err: unknown) => {
      res.set('Retry-After', String(OVER_CAPACITY_RETRY_SEC));
      throw err;
    });
    const { created, record } = await submitRun(d.submit, {
      graph: graph.name, agentId: body.agent_id, input,
      ...(metadata ? { metadata } : {}),
      ...(body.webhook ? { webhook: body.webhook } : {}),
      ...(idempotencyKey ? { idempotencyKey } : {}),
    });
    if (!created && record.graph !== graph.name) {
      // the key is per agent: the same key for another graph is a client bug, not a replay
      throw new AppError(409, 'idempotency_key_reused', `Idempotency-Key already started run ${record.run_id} of graph ${record.graph}`, { run_id: record.run_id, graph: record.graph });
    }
    const differs = created ? [] : replayDiffers(record, { input, metadata, webhook: body.webhook });
    if (differs.length > 0) {
      // a key reused for another request (another version to check, say) must not answer the old run
      throw new AppError(409, 'idempotency_key_reused', `Idempotency-Key already started run ${record.run_id} with another request (${differs.join(', ')} differ${differs.length === 1 ? 's' : ''})`, {
        run_id: record.run_id, graph: record.graph, differs,
      });
    }
    // a replay answers like the first request (202 + the run), and says it is one
    res.status(202).set('Idempotent-Replayed', String(!created)).location(`/v1/runs/${record.run_id}`).json(publicRun(record));
  });

  r.get('/v1/runs/:id', async (req, res) => {
    res.json(publicRun(await loadRun(d.store, req.params.id)));
  });

  r.get('/v1/runs/:id/events', async (req, res) => {
    const rec = await loadRun(d.store, req.params.id);
    const q = await eventsRequest(req, d.store, rec.run_id);
    if (q.stream) return streamRunEvents(req, res, d.stream, rec, q.after);
    const page = await d.store.eventPage(rec.run_id, { ...(q.after ? { after: q.after } : {}), limit: q.limit });
    // a full page may have more after it (stream entries that are not events count too)
    res.json({ run_id: rec.run_id, status: rec.status, events: page.events, next_after: page.read === q.limit ? (page.last ?? null) : null });
  });

  r.post('/v1/runs/:id/cancel', async (req, res) => {
    const rec = await loadRun(d.store, req.params.id);
    const body = parse(CancelBody, req.body ?? {}, 'request body');
    const out = await d.cancel.cancel(rec, body.reason);
    res.status(202).json(publicRun(out));
  });

  return r;
}
