import express, { type Express } from 'express';
import type { Redis } from 'ioredis';
import type { GraphDefinition } from '@sup/graphs';
import type { Logger } from '@sup/logging';
import type { RunStore } from '@sup/run-store';
import type { RunQueue } from '@sup/queue';
import { requireApiKey } from './auth.js';
import { CancelService } from '@sup/queue';
import { errorHandler, notFound } from './errors.js';
import { graphRoutes } from './routes/graphs.js';
import { healthRoutes } from './routes/health.js';
import { runRoutes } from './routes/runs.js';

export interface AppDeps {
  redis: Redis;
  store: RunStore;
  queue: RunQueue;
  graphs: Record<string, GraphDefinition>;
  log: Logger;
  cancelChannel: string;
  config: { apiKeys: string[]; bodyLimitKb: number; gatewayUrl: string; ttlSec: number; metricsPublic: boolean };
  evictionPolicy?: () => string | null;
}

export function createApp(d: AppDeps): Express {
  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);
  app.use((_req, res, next) => {
    res.set({ 'X-Content-Type-Options': 'nosniff', 'X-Frame-Options': 'DENY', 'Referrer-Policy': 'no-referrer', 'Cache-Control': 'no-store' });
    next();
  });
  app.use(healthRoutes({ redis: d.redis, graphs: Object.keys(d.graphs), gatewayUrl: d.config.gatewayUrl, evictionPolicy: d.evictionPolicy ?? (() => null) }));
  app.use(requireApiKey(d.config.apiKeys, (p) => p === '/healthz' || (d.config.metricsPublic && p === '/metrics')));
  app.use(express.json({ limit: `${d.config.bodyLimitKb}kb`, strict: true }));
  app.use(graphRoutes(d.graphs));
  const cancel = new CancelService({ store: d.store, queue: d.queue, publisher: d.redis, channel: d.cancelChannel, log: d.log, ttlSec: d.config.ttlSec });
  app.use(runRoutes({ graphs: d.graphs, store: d.store, submit: { store: d.store, queue: d.queue, ttlSec: d.config.ttlSec }, cancel }));
  app.use(notFound);
  app.use(errorHandler(d.log));
  return app;
}
