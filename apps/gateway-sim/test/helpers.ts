import request from 'supertest';
import type { Express } from 'express';
import { createSimApp, type SimOptions } from '../src/app.js';

let n = 0;

export function body(tool: string, action: string, params: Record<string, unknown>, ctx: Partial<{ run_id: string; node: string; agent_id: string; idempotency_key: string }> = {}) {
  return {
    tool,
    action,
    params,
    context: { agent_id: 'sofiia', run_id: 'gr_test', node: 'n1', idempotency_key: `k${++n}`, ...ctx },
  };
}

export function call(app: Express, tool: string, action: string, params: Record<string, unknown>, ctx: Parameters<typeof body>[3] = {}) {
  return request(app).post('/v1/tools/execute').send(body(tool, action, params, ctx));
}

/** A sim with a manual clock. */
export function sim(opts: SimOptions = {}) {
  let t = Date.parse('2026-03-01T12:00:00Z');
  const clock = { now: () => t, advance: (ms: number) => void (t += ms) };
  const { app, state } = createSimApp({ now: clock.now, ...opts });
  return { app, state, clock };
}
