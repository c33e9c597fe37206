import express, { type Express } from 'express';
import type { GraphDefinition } from '@sup/graphs';
import type { Logger } from '@sup/logging';
import type { RedisClient, RunStore } from '@sup/run-store';
import type { RunQueue } from '@sup/queue';
import { requireApiKey } from './auth.js';
import { CancelService } from '@sup/queue';
import { errorHandler, notFound } from './errors.js';
import { graphRoutes } from './routes/graphs.js';
import { healthRoutes } from './routes/health.js';
import { runRoutes } from './routes/runs.js';
import { registerScheduleMetrics, scheduleRoutes } from './routes/schedules.js';
import type { ScheduleService } from '@sup/schedules';
import { allowedMethods } from './openapi/methods.js';
import { buildOpenApiDocument, openapiRoutes } from './openapi/routes.js';
import type { Queue } from 'bullmq';
import { adminRoutes } from './admin.js';
import { createApiMetrics, metricsRoutes, registerAdmissionMetrics } from './metrics.js';
import { pausedWarnings } from './paused-queues.js';
import type { RunRecord } from '@sup/contracts';
import { enqueueWebhook, type WebhookQueue } from '@sup/queue';
import { listRunsRoutes } from './routes/list-runs.js';
import { rejectDeepJson } from './depth.js';
import { requestLog } from './request-log.js';
import type { EventFollower } from './sse/follower.js';
import type { Admission } from './admission.js';

export interface AppDeps {
  redis: RedisClient;
  store: RunStore;
  queue: RunQueue;
  graphs: Record<string, GraphDefinition>;
  log: Logger;
  cancelChannel: string;
  config: { apiKeys: string[]; bodyLimitKb: number; gatewayUrl: string; ttlSec: number; metricsPublic: boolean; webhookHosts?: string[]; webhookDenyPrivate?: boolean };
  /** /healthz `warnings` about the Redis deployment (RedisChecks). */
  redisWarnings?: () => string[];
  /** Every queue the system uses (runs, schedules, webhooks…): bull-board tabs and queue-depth metrics. Default: [queue]. */
  queues?: readonly Queue[];
  /** Cron/interval schedules (`/v1/schedules`); the routes are mounted only when given. */
  schedules?: ScheduleService;
  /** The process's one SSE follower (its own subscriber connection); without it SSE answers 503. */
  follower?: EventFollower;
  /** Webhooks of runs the API itself finishes (cancel of a queued/waiting run). */
  webhooks?: WebhookQueue;
  /** Load shedding of run creates while Redis is nearly full (ADMISSION_MEMORY_PCT). */
  admission?: Admission;
  /** The clock runs are created and cancelled by: Redis' (RedisClock) in main.ts; default the host's. */
  now?: () => number;
}

export function createApp(d: AppDeps): Express {
  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);
  app.use(requestLog(d.log));
  app.use((_req, res, next) => {
    res.set({ 'X-Content-Type-Options': 'nosniff', 'X-Frame-Options': 'DENY', 'Referrer-Policy': 'no-referrer', 'Cache-Control': 'no-store' });
    next();
  });
  const queues = d.queues ?? [d.queue];
  app.use(healthRoutes({
    probeWrite: () => d.store.probeWrite(), graphs: Object.keys(d.graphs), gatewayUrl: d.config.gatewayUrl,
    redisWarnings: () => [...(d.redisWarnings?.() ?? []), ...[d.admission?.warning()].filter((w): w is string => !!w)],
    queueWarnings: () => pausedWarnings(queues),
  }));
  // public like /healthz: the document describes shapes, never data
  app.use(openapiRoutes({ graphs: d.graphs, metricsPublic: d.config.metricsPublic }));
  // /admin checks keys itself (requireAdmin): a browser there may present a session cookie instead
  const isAdmin = (p: string) => p === '/admin' || p.startsWith('/admin/');
  app.use(requireApiKey(d.config.apiKeys, (p) => p === '/healthz' || (d.config.metricsPublic && p === '/metrics') || isAdmin(p)));
  app.use(express.json({ limit: `${d.config.bodyLimitKb}kb`, strict: true }));
  app.use(rejectDeepJson(64));
  app.use(graphRoutes(d.graphs));
  const webhooks = d.webhooks;
  const onFinished = webhooks ? (rec: RunRecord) => enqueueWebhook(webhooks, rec, d.config.ttlSec) : undefined;
  const now = d.now ?? Date.now;
  const cancel = new CancelService({ store: d.store, queue: d.queue, publisher: d.redis, channel: d.cancelChannel, log: d.log, ttlSec: d.config.ttlSec, now, ...(onFinished ? { onFinished } : {}) });
  app.use(listRunsRoutes({ store: d.store, graphs: Object.keys(d.graphs) }));
  const stream = d.follower ? { store: d.store, follower: d.follower, log: d.log } : undefined;
  app.use(runRoutes({ graphs: d.graphs, store: d.store, submit: { store: d.store, queue: d.queue, ttlSec: d.config.ttlSec, now }, cancel, ...(stream ? { stream } : {}), ...(d.admission ? { admission: d.admission } : {}), webhookHosts: d.config.webhookHosts ?? [], webhookDenyPrivate: d.config.webhookDenyPrivate ?? false }));
  if (d.schedules) app.use(scheduleRoutes(d.schedules));
  const registry = createApiMetrics({ store: d.store, queues });
  if (d.schedules) registerScheduleMetrics(registry, d.schedules);
  if (d.admission) registerAdmissionMetrics(registry, d.admission);
  app.use(metricsRoutes(registry));
  app.use(adminRoutes({ apiKeys: d.config.apiKeys, queues, store: d.store }));
  app.use(notFound(allowedMethods(buildOpenApiDocument({ graphs: d.graphs, metricsPublic: d.config.metricsPublic }))));
  app.use(errorHandler(d.log));
  return app;
}
