import { z } from 'zod';
import { hex, pick, unit } from '../rand.js';
import { type ToolDef, iso, ok, parseParams, round } from './common.js';

/**
 * Fake observability backend. Everything derives from the service name: a name containing
 * "down" is down, one containing "degraded" (or "slow") is degraded, every other one is healthy.
 */
export type Health = 'healthy' | 'degraded' | 'down';
export function healthOf(service: string): Health {
  if (service.includes('down')) return 'down';
  if (service.includes('degraded') || service.includes('slow')) return 'degraded';
  return 'healthy';
}

const Service = z.string().min(1);
const Window = z.number().int().positive().max(10_080).default(60);

const ERROR_MSGS = [
  'upstream timeout calling {s}-db after 3000ms (pool exhausted)',
  'HTTP 503 from payments-gateway: circuit breaker open',
  'unhandled exception in POST /api/{s}/orders: TypeError: cannot read properties of undefined',
  'redis: connection reset by peer (retrying)',
  'request validation failed: missing field "currency"',
];
const WARN_MSGS = ['slow query on {s}_orders took 1840ms', 'retrying request to inventory (attempt 2)', 'cache miss ratio above 40%'];
const INFO_MSGS = ['request completed 200 GET /api/{s}/health', 'deployment config reloaded', 'worker heartbeat ok'];

function overview(service: string, windowMin: number, now: number) {
  const h = healthOf(service);
  const errorRate = h === 'down' ? 0.62 : h === 'degraded' ? round(0.08 + unit(`er:${service}`) * 0.07, 4) : round(unit(`er:${service}`) * 0.01, 4);
  const p95 = h === 'down' ? 5000 : h === 'degraded' ? pick(`p95:${service}`, 900, 2400) : pick(`p95:${service}`, 80, 420);
  const deploys = pick(`dep:${service}`, h === 'healthy' ? 0 : 1, 2);
  return {
    service,
    window_min: windowMin,
    error_rate: errorRate,
    p95_ms: p95,
    rps: round(pick(`rps:${service}`, 20, 900) * (h === 'down' ? 0.1 : 1), 1),
    recent_deploys: Array.from({ length: deploys }, (_, i) => ({
      version: `v1.${pick(`maj:${service}`, 10, 40)}.${pick(`min:${service}`, 0, 9) + deploys - 1 - i}`,
      deployed_at: iso(now - (i + 1) * pick(`age:${service}:${i}`, 5, Math.max(6, windowMin)) * 60_000),
      author: 'ci-bot',
      status: 'succeeded',
    })),
    health: h,
  };
}

export const observabilityTools: Record<string, ToolDef> = {
  'observability_tool.service_overview': {
    sideEffect: false,
    run(params, ctx) {
      const p = parseParams(z.looseObject({ service: Service, window_min: Window }), params);
      if (!p.ok) return p.outcome;
      return ok(overview(p.value.service, p.value.window_min, ctx.now()));
    },
  },
  'observability_tool.logs_query': {
    sideEffect: false,
    run(params, ctx) {
      const Level = z.enum(['debug', 'info', 'warn', 'warning', 'error', 'fatal']).default('error');
      const p = parseParams(z.looseObject({ service: Service, window_min: Window, level: Level, limit: z.number().int().positive().max(1000).default(50) }), params);
      if (!p.ok) return p.outcome;
      const { service, window_min, limit } = p.value;
      const level = p.value.level === 'warning' ? 'warn' : p.value.level;
      const h = healthOf(service);
      const scale = h === 'down' ? 40 : h === 'degraded' ? 10 : 1;
      const total =
        level === 'error' || level === 'fatal' ? pick(`le:${service}:${window_min}`, 0, 12) * scale : pick(`l:${level}:${service}`, 20, 400);
      const msgs = level === 'error' || level === 'fatal' ? ERROR_MSGS : level === 'warn' ? WARN_MSGS : INFO_MSGS;
      const count = Math.min(limit, total);
      const step = Math.max(1, Math.floor((window_min * 60_000) / Math.max(1, total)));
      const now = ctx.now();
      const lines = Array.from({ length: count }, (_, i) => ({
        ts: iso(now - i * step),
        level,
        msg: msgs[pick(`m:${service}:${i}`, 0, msgs.length - 1)]!.replaceAll('{s}', service),
      }));
      return ok({ service, lines, total, truncated: total > count });
    },
  },
  'observability_tool.health': {
    sideEffect: false,
    run(params) {
      const p = parseParams(z.looseObject({ service: Service }), params);
      if (!p.ok) return p.outcome;
      const { service } = p.value;
      const h = healthOf(service);
      const failing = h === 'down' ? ['http', 'database'] : h === 'degraded' ? ['database'] : [];
      const checks = ['http', 'database', 'queue'].map((name) => ({
        name,
        status: failing.includes(name) ? 'fail' : 'pass',
        latency_ms: failing.includes(name) ? pick(`hc:${service}:${name}`, 1500, 5000) : pick(`hc:${service}:${name}`, 2, 60),
      }));
      return ok({ service, status: h, checks });
    },
  },
  'observability_tool.traces_query': {
    sideEffect: false,
    run(params) {
      const p = parseParams(
        z.looseObject({ service: Service, window_min: Window, min_duration_ms: z.number().int().min(0).default(0), limit: z.number().int().positive().max(200).default(10) }),
        params,
      );
      if (!p.ok) return p.outcome;
      const { service, min_duration_ms, limit } = p.value;
      const h = healthOf(service);
      const n = Math.min(limit, pick(`tn:${service}`, 3, 8));
      const roots = ['GET /api/{s}/items', 'POST /api/{s}/orders', 'GET /api/{s}/health', 'PUT /api/{s}/cart'];
      const traces = Array.from({ length: n }, (_, i) => ({
        trace_id: hex(`trace:${service}:${i}`, 32),
        duration_ms: min_duration_ms + pick(`td:${service}:${i}`, 1, h === 'healthy' ? 400 : 4000),
        root: roots[pick(`tr:${service}:${i}`, 0, roots.length - 1)]!.replaceAll('{s}', service),
        spans: pick(`ts:${service}:${i}`, 3, 40),
        error: h !== 'healthy' && i % 2 === 0,
      })).sort((a, b) => b.duration_ms - a.duration_ms);
      return ok({ service, traces });
    },
  },
  'observability_tool.slo_status': {
    sideEffect: false,
    run(params) {
      const p = parseParams(z.looseObject({ service: Service }), params);
      if (!p.ok) return p.outcome;
      const { service } = p.value;
      const h = healthOf(service);
      const burn = h === 'down' ? 14.4 : h === 'degraded' ? round(2 + unit(`b:${service}`) * 4, 2) : round(unit(`b:${service}`) * 0.9, 2);
      const slos = [
        { name: 'availability', objective: 0.999 },
        { name: 'latency_p95_under_500ms', objective: 0.99 },
      ].map((s, i) => {
        const burnRate = round(burn * (i === 0 ? 1 : 0.7), 2);
        return { ...s, current: round(1 - (1 - s.objective) * burnRate, 5), burn_rate: burnRate, window: '30d' };
      });
      return ok({ service, slos });
    },
  },
};
