import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { collectDefaultMetrics, Counter, Histogram, Registry } from 'prom-client';
import type { RunRecord } from '@sup/contracts';
import type { StepOutcome } from '@sup/engine';
import type { GatewayMetrics } from '@sup/gateway-client';

// runs include their free waits (release checks poll for minutes); nodes and calls are short
const RUN_BUCKETS_S = [0.5, 1, 5, 15, 30, 60, 120, 300, 600, 1800, 3600, 7200];
const CALL_BUCKETS_S = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];

export interface WorkerMetrics {
  registry: Registry;
  /** For createGatewayClient({ metrics }). */
  gateway: GatewayMetrics;
  /** ProcessorDeps.onStep: one node step (advanced, parked, succeeded or failed). */
  onStep(rec: RunRecord, o: StepOutcome): void;
  /** ProcessorDeps.onFinished: a run this process finished. */
  onFinished(rec: RunRecord): void;
  /** ProcessorDeps.onTakeover: a run this process found left by a lost worker. */
  onTakeover(rec: RunRecord, outcome: 'resumed' | 'crash_loop'): void;
  /** A housekeeping pass this process ran: runs it repaired (a sign Redis lost or refused writes). */
  onHousekeeping(r: { orphans: number; requeued: number; kept: number }): void;
}

/**
 * What only a worker sees, observed in its own registry and scraped from its own port: durations
 * and gateway calls. Run counts are cluster-wide in Redis and exposed by the API instead.
 */
export function createWorkerMetrics(): WorkerMetrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const runs = new Histogram({
    name: 'sup_run_duration_seconds', help: 'Run duration from first claim to final status, waits included',
    labelNames: ['graph', 'status'], buckets: RUN_BUCKETS_S, registers: [registry],
  });
  const nodes = new Histogram({
    name: 'sup_node_duration_seconds', help: 'Duration of one node step (a parked poll is one step)',
    labelNames: ['graph', 'node', 'outcome'], buckets: CALL_BUCKETS_S, registers: [registry],
  });
  const calls = new Counter({
    name: 'sup_gateway_calls_total', help: 'Tool calls through the gateway, by outcome (ok, tool_fail, error)',
    labelNames: ['tool', 'action', 'outcome'], registers: [registry],
  });
  const latency = new Histogram({
    name: 'sup_gateway_call_duration_seconds', help: 'Tool call latency, retries included',
    labelNames: ['tool', 'action'], buckets: CALL_BUCKETS_S, registers: [registry],
  });
  const retries = new Counter({
    name: 'sup_gateway_retries_total', help: 'Tool call retries, by reason (status code or error code)',
    labelNames: ['tool', 'reason'], registers: [registry],
  });

  const repairs = new Counter({
    name: 'sup_housekeeping_repairs_total',
    help: 'Runs housekeeping repaired: job_restored (a live run without a job got it back), orphan_failed (a live run whose job failed for good was failed), kept_alive (a run waiting for a worker longer than RUN_TTL_SEC kept from expiring)',
    labelNames: ['kind'], registers: [registry],
  });

  const takeovers = new Counter({
    name: 'sup_run_takeovers_total',
    help: 'Runs this worker found left by a lost worker (died, froze or cut off with a node in flight): resumed here, or failed as crash_loop at CRASH_LOOP_LIMIT',
    labelNames: ['graph', 'outcome'], registers: [registry],
  });

  return {
    registry,
    onTakeover: (rec, outcome) => takeovers.inc({ graph: rec.graph, outcome }),
    gateway: {
      observe(tool, action, outcome, ms) {
        calls.inc({ tool, action, outcome });
        latency.observe({ tool, action }, ms / 1000);
      },
      retry: (tool, reason) => retries.inc({ tool, reason }),
    },
    onHousekeeping(r) {
      repairs.inc({ kind: 'job_restored' }, r.requeued);
      repairs.inc({ kind: 'orphan_failed' }, r.orphans);
      repairs.inc({ kind: 'kept_alive' }, r.kept);
    },
    onStep: (rec, o) => nodes.observe({ graph: rec.graph, node: o.node, outcome: o.kind }, o.durationMs / 1000),
    onFinished(rec) {
      const ms = Date.parse(rec.finished_at ?? '') - Date.parse(rec.started_at ?? '');
      if (Number.isFinite(ms) && ms >= 0) runs.observe({ graph: rec.graph, status: rec.status }, ms / 1000);
    },
  };
}

export interface Health {
  ok: boolean;
  reason?: string;
}

/** Healthy while every Redis connection of the process is ready (ioredis `status`). */
export function redisHealth(conns: Record<string, { status: string }>): () => Health {
  return () => {
    const bad = Object.entries(conns).find(([, c]) => c.status !== 'ready');
    return bad ? { ok: false, reason: `redis connection ${bad[0]} is ${bad[1].status}` } : { ok: true };
  };
}

/** `/metrics` and `/healthz` of one worker process on WORKER_METRICS_PORT (no API keys: bind it privately). */
export async function serveMetrics(opts: { port: number; host?: string; registry: Registry; health: () => Health }): Promise<Server & { port: number }> {
  const json = (status: number, body: unknown) => ({ status, type: 'application/json', text: JSON.stringify(body) });
  const server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    const reply = async () => {
      if (req.method !== 'GET') return json(405, { error: { code: 'method_not_allowed', message: 'GET only', details: null } });
      if (path === '/metrics') return { status: 200, type: opts.registry.contentType, text: await opts.registry.metrics() };
      if (path === '/healthz') {
        const h = opts.health();
        return json(h.ok ? 200 : 503, h.ok ? { status: 'ok', service: 'worker' } : { status: 'degraded', service: 'worker', reason: h.reason });
      }
      return json(404, { error: { code: 'not_found', message: `no route for ${req.method} ${path}`, details: null } });
    };
    reply()
      .catch((err: Error) => json(500, { error: { code: 'internal', message: `metrics failed: ${err.message}`, details: null } }))
      .then((r) => res.writeHead(r.status, { 'Content-Type': r.type, 'Cache-Control': 'no-store' }).end(r.text));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, opts.host ?? '0.0.0.0', () => resolve());
  });
  return Object.assign(server, { port: (server.address() as AddressInfo).port });
}
