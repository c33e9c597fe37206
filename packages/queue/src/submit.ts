import { event, newRunId, type RunRecord, type Trigger } from '@sup/contracts';
import type { RunStore } from '@sup/run-store';
import { enqueueRun, type RunQueue } from './queue.js';

export interface SubmitParams {
  graph: string;
  agentId: string;
  /** Already validated against the graph's input schema by the caller. */
  input: Record<string, unknown>;
  metadata?: Record<string, unknown>;
  webhook?: string;
  trigger?: Trigger;
  parentRunId?: string;
  idempotencyKey?: string;
}

export interface SubmitDeps {
  store: RunStore;
  queue: RunQueue;
  ttlSec: number;
  /** The clock a new record is stamped with (created_at, the listing order): Redis' (RedisClock) in the apps; default the host's. */
  now?: () => number;
}

export function newRunRecord(p: SubmitParams, now = new Date()): RunRecord {
  const ts = now.toISOString();
  return {
    // these four first: the stored form starts with them (serializeRecord in @sup/run-store)
    run_id: newRunId(),
    status: 'queued',
    lease: null,
    graph: p.graph,
    agent_id: p.agentId,
    current_node: null,
    created_at: ts,
    started_at: null,
    finished_at: null,
    updated_at: ts,
    attempt: 0,
    input: p.input,
    ...(p.metadata ? { metadata: p.metadata } : {}),
    webhook: p.webhook ?? null,
    trigger: p.trigger ?? { type: p.parentRunId ? 'parent' : 'api' },
    parent_run_id: p.parentRunId ?? null,
    result: null,
    error: null,
    nodes: [],
    snapshot: null,
  };
}

/**
 * Writes the run record, then enqueues its job. If enqueueing fails the record is removed again, so
 * a caller never sees a run that no worker will pick up. The same idempotency key returns the
 * existing run (`created: false`); one still `queued` gets its job added again (a no-op when it
 * exists), for the retry of a create whose enqueue and rollback both failed.
 */
export async function submitRun(deps: SubmitDeps, p: SubmitParams): Promise<{ created: boolean; record: RunRecord }> {
  const record = newRunRecord(p, new Date((deps.now ?? Date.now)()));
  const res = await deps.store.create(record, {
    events: [event('run_created', undefined, { graph: p.graph, trigger: record.trigger?.type ?? 'api' })],
    ...(p.idempotencyKey ? { idempotencyKey: p.idempotencyKey } : {}),
  });
  if (!res.created) {
    if (res.record.status === 'queued') await enqueueRun(deps.queue, { run_id: res.record.run_id, graph: res.record.graph }, deps.ttlSec);
    return res;
  }
  try {
    await enqueueRun(deps.queue, { run_id: record.run_id, graph: record.graph }, deps.ttlSec);
  } catch (err) {
    await deps.store
      .remove(record.run_id, p.idempotencyKey ? { agentId: p.agentId, key: p.idempotencyKey } : undefined)
      .catch(() => undefined);
    throw err;
  }
  return { created: true, record };
}
