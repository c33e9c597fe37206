import type { z } from 'zod';
import type { SimConfig } from '../config.js';
import type { Incident } from './incident.js';
import type { Job } from './orchestrator.js';

export type ToolError = { code: string; message: string; details?: unknown };
export type ToolOutcome = { ok: true; result: Record<string, unknown> } | { ok: false; error: ToolError };

/** Mutable in-memory world the tools act on. */
export interface ToolStores {
  jobs: Map<string, Job>;
  incidents: Map<string, Incident>;
  counters: { jobs: number; artifacts: number; events: number };
}

export interface ToolCtx {
  now: () => number;
  config: SimConfig;
  stores: ToolStores;
  idempotencyKey: string;
}

export interface ToolDef {
  /** Side-effecting actions replay their first answer for a repeated idempotency key. */
  sideEffect: boolean;
  run(params: Record<string, unknown>, ctx: ToolCtx): ToolOutcome;
}

export const ok = (result: Record<string, unknown>): ToolOutcome => ({ ok: true, result });
export const fail = (code: string, message: string, details?: unknown): ToolOutcome => ({
  ok: false,
  error: details === undefined ? { code, message } : { code, message, details },
});

/** Validates tool params; the failure is a tool error (`invalid_params`), not an HTTP 400. */
export function parseParams<S extends z.ZodType>(
  schema: S,
  params: Record<string, unknown>,
): { ok: true; value: z.infer<S> } | { ok: false; outcome: ToolOutcome } {
  const r = schema.safeParse(params);
  if (r.success) return { ok: true, value: r.data };
  const issues = r.error.issues.map((i) => `${i.path.join('.') || 'params'}: ${i.message}`);
  return { ok: false, outcome: fail('invalid_params', `invalid params: ${issues.join('; ')}`, { issues }) };
}

export const iso = (ms: number): string => new Date(ms).toISOString();
export const round = (n: number, digits: number): number => Number(n.toFixed(digits));

/** Fixed reference instant for data that must not depend on the clock (incident history). */
export const EPOCH_MS = Date.parse('2026-02-23T10:00:00Z');
