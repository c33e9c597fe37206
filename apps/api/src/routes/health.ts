import { Router } from 'express';
import { redactUrl } from '@sup/config';
import { isRedisUnavailable } from '@sup/run-store';

export interface HealthDeps {
  /** RunStore.probeWrite: a write, so /healthz also sees a Redis that answers but takes no writes. */
  probeWrite(): Promise<unknown>;
  graphs: string[];
  /** GATEWAY_URL; shown without user info (the route is public). */
  gatewayUrl: string;
  /** Problems of the Redis deployment found at start-up (maxmemory-policy, replication). */
  redisWarnings: () => string[];
  /** Warnings read from Redis at each request (paused queues); left out when Redis does not answer in time. */
  queueWarnings?: () => Promise<string[]>;
}

/**
 * The runbook's `curl -sf localhost:8084/healthz`: 200 when Redis takes a write, 503 `degraded`
 * otherwise — unreachable, or refusing writes (out of memory, a read-only replica, too few
 * replicas), when no run can be accepted either.
 */
export function healthRoutes(d: HealthDeps): Router {
  const r = Router();
  const gatewayUrl = redactUrl(d.gatewayUrl);
  // what a probe that outlived its second ended with: a Cluster that lost a master answers
  // CLUSTERDOWN, but only after ioredis' retries, so the reason would otherwise only say "no answer"
  let lateError: string | null = null;
  r.get('/healthz', async (_req, res) => {
    const base = { service: 'sofiia-supervisor', graphs: d.graphs, state_backend: 'redis', gateway_url: gatewayUrl };
    try {
      const probe = d.probeWrite();
      let timedOut = false;
      probe.then(() => { lateError = null; }, (err: Error) => { if (timedOut) lateError = err.message; });
      await Promise.race([
        probe,
        new Promise((_, rej) => setTimeout(() => {
          timedOut = true;
          rej(new Error(`no answer within 1 s${lateError ? ` (the last probe's answer: ${lateError.slice(0, 300)})` : ''}`));
        }, 1_000).unref()),
      ]);
      const queued = d.queueWarnings ? await Promise.race([
        d.queueWarnings().catch(() => []),
        new Promise<string[]>((r) => setTimeout(() => r([]), 1_000).unref()),
      ]) : [];
      const found = [...d.redisWarnings(), ...queued];
      res.json({ status: 'ok', ...base, ...(found.length ? { warnings: found } : {}) });
    } catch (err) {
      const refused = isRedisUnavailable(err) && (err as Error).name === 'ReplyError';
      res.status(503).json({ status: 'degraded', ...base, reason: `redis ${refused ? 'refuses writes' : 'unreachable'}: ${(err as Error).message}` });
    }
  });
  return r;
}
