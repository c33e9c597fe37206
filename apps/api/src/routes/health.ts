import { Router } from 'express';
import type { RedisClient } from '@sup/run-store';

export interface HealthDeps {
  redis: RedisClient;
  graphs: string[];
  gatewayUrl: string;
  /** Problems of the Redis deployment found at start-up (maxmemory-policy, replication). */
  redisWarnings: () => string[];
}

/** The runbook's `curl -sf localhost:8084/healthz`: 200 when Redis answers, 503 `degraded` otherwise. */
export function healthRoutes(d: HealthDeps): Router {
  const r = Router();
  r.get('/healthz', async (_req, res) => {
    const base = { service: 'sofiia-supervisor', graphs: d.graphs, state_backend: 'redis', gateway_url: d.gatewayUrl };
    const found = d.redisWarnings();
    const warnings = found.length ? found : undefined;
    try {
      await Promise.race([
        d.redis.ping(),
        new Promise((_, rej) => setTimeout(() => rej(new Error('redis ping timed out')), 1_000).unref()),
      ]);
      res.json({ status: 'ok', ...base, ...(warnings ? { warnings } : {}) });
    } catch (err) {
      res.status(503).json({ status: 'degraded', ...base, reason: `redis unreachable: ${(err as Error).message}` });
    }
  });
  return r;
}
