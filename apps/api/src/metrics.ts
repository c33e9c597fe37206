import { Router } from 'express';
import type { Queue } from 'bullmq';
import { collectDefaultMetrics, Counter, Gauge, Registry } from 'prom-client';
import { AppError } from '@sup/contracts';
import type { RunStats, RunStore } from '@sup/run-store';
import { pausedQueues } from './paused-queues.js';

export const JOB_STATES = ['waiting', 'active', 'delayed', 'prioritized', 'waiting-children', 'completed', 'failed'] as const;

export interface ApiMetricsDeps {
  store: RunStore;
  queues: readonly Queue[];
}

/**
 * The API's registry: its own process metrics plus the deployment-wide numbers, read from Redis at
 * scrape time (so every API process answers the same, and a scrape of any one of them is enough).
 * Durations and gateway calls are observed where they happen, in the workers' registries.
 * A registry per app rather than prom-client's global one, so tests can build several apps.
 */
export function createApiMetrics(d: ApiMetricsDeps): Registry {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });

  // both run counters read one HGETALL per scrape
  let pending: Promise<RunStats> | undefined;
  const stats = () => (pending ??= d.store.stats().finally(() => void (pending = undefined)));

  new Counter({
    name: 'sup_runs_created_total', help: 'Runs created, per graph (cluster-wide, from Redis)', labelNames: ['graph'], registers: [registry],
    async collect() {
      const s = await stats();
      this.reset();
      for (const c of s.created) this.inc({ graph: c.graph }, c.count);
    },
  });
  new Counter({
    name: 'sup_runs_finished_total', help: 'Runs that reached a final status (succeeded, failed, cancelled), per graph (cluster-wide, from Redis)',
    labelNames: ['graph', 'status'], registers: [registry],
    async collect() {
      const s = await stats();
      this.reset();
      for (const f of s.finished) this.inc({ graph: f.graph, status: f.status }, f.count);
    },
  });
  new Gauge({
    name: 'sup_queue_jobs', help: 'BullMQ jobs per queue and state', labelNames: ['queue', 'state'], registers: [registry],
    async collect() {
      const counts = await Promise.all(d.queues.map((q) => q.getJobCounts(...JOB_STATES)));
      this.reset();
      d.queues.forEach((q, i) => {
        for (const state of JOB_STATES) this.set({ queue: q.name, state }, counts[i]![state] ?? 0);
      });
    },
  });
  new Gauge({
    name: 'sup_queue_paused', help: '1 while the queue is paused (bull-board\'s pause, /admin/queues): its jobs only wait', labelNames: ['queue'], registers: [registry],
    async collect() {
      const paused = await pausedQueues(d.queues);
      this.reset();
      for (const [queue, p] of paused) this.set({ queue }, p ? 1 : 0);
    },
  });
  return registry;
}

/** GET /metrics. A scrape that cannot reach Redis in time fails as a 503 instead of hanging. */
export function metricsRoutes(registry: Registry, timeoutMs = 10_000): Router {
  const r = Router();
  r.get('/metrics', async (_req, res) => {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new AppError(503, 'metrics_unavailable', `metrics could not be collected within ${timeoutMs} ms (is Redis reachable?)`)), timeoutMs);
    });
    try {
      const text = await Promise.race([registry.metrics(), timeout]);
      res.set('Content-Type', registry.contentType).send(text);
    } catch (err) {
      throw err instanceof AppError ? err : new AppError(503, 'metrics_unavailable', `metrics could not be collected: ${(err as Error).message}`);
    } finally {
      clearTimeout(timer);
    }
  });
  return r;
}

/** Creates this API process refused for load (ADMISSION_MEMORY_PCT); per process, not from Redis. */
export function registerAdmissionMetrics(registry: Registry, admission: { refused: number }): void {
  new Counter({
    name: 'sup_api_creates_refused_total', help: 'Run creates this API process refused with 503 over_capacity (Redis near its maxmemory, ADMISSION_MEMORY_PCT)',
    registers: [registry],
    collect() {
      this.reset();
      this.inc(admission.refused);
    },
  });
}
