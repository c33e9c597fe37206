import { createHash, randomBytes } from 'node:crypto';
import { isDeepStrictEqual } from 'node:util';
import { z } from 'zod';
import { AppError, CreateRunBody } from '@sup/contracts';
import type { GraphDefinition } from '@sup/graphs';
import { checkCron, checkTz, normalizeCron } from './cron.js';

export const SCHEDULE_ID_RE = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;
export const OVERLAP = ['skip', 'allow'] as const;
export type Overlap = (typeof OVERLAP)[number];
export type ScheduleSource = 'config' | 'api';

/** What a client (POST /v1/schedules) or the schedules file describes. */
export const ScheduleSpec = z.strictObject({
  id: z.string().regex(SCHEDULE_ID_RE, 'letters, digits, _ . - only, at most 64, starting with a letter or digit').optional(),
  graph: z.string().min(1).max(64),
  cron: z.string().min(1).max(200).optional(),
  every_sec: z.number().int().min(1).max(366 * 86_400).optional(),
  tz: z.string().min(1).max(64).optional(),
  agent_id: CreateRunBody.shape.agent_id,
  input: z.record(z.string(), z.unknown()).default({}),
  overlap: z.enum(OVERLAP).optional(),
  enabled: z.boolean().default(true),
});
export type ScheduleSpec = z.input<typeof ScheduleSpec>;

/** A stored schedule: the spec with defaults resolved, plus where it came from. */
export interface Schedule {
  id: string;
  graph: string;
  cron?: string;
  every_sec?: number;
  tz?: string;
  agent_id: string;
  /** Validated against the graph's input schema, as given (defaults are applied per run). */
  input: Record<string, unknown>;
  overlap: Overlap;
  enabled: boolean;
  source: ScheduleSource;
  created_at: string;
  updated_at: string;
}

/** The fields whose change means the schedule changed (not timestamps, not source). */
export const definitionOf = (s: Schedule) => ({
  graph: s.graph, cron: s.cron, every_sec: s.every_sec, tz: s.tz, agent_id: s.agent_id, input: s.input, overlap: s.overlap, enabled: s.enabled,
});

/** Whether two schedules define the same thing (see definitionOf). */
export const sameDefinition = (a: Schedule, b: Schedule) => isDeepStrictEqual(definitionOf(a), definitionOf(b));

/** Values with object keys sorted, so equal definitions serialise equally whatever their key order. */
const sorted = (v: unknown): unknown =>
  Array.isArray(v) ? v.map(sorted)
    : v && typeof v === 'object' ? Object.fromEntries(Object.keys(v).sort().map((k) => [k, sorted((v as Record<string, unknown>)[k])]))
      : v;

/** Identifies a schedules configuration (ids and definitions): what the API processes reconciled last. */
export function configDigest(desired: Schedule[]): string {
  const defs = [...desired].sort((a, b) => (a.id < b.id ? -1 : 1)).map((s) => [s.id, sorted(definitionOf(s))]);
  return createHash('sha256').update(JSON.stringify(defs)).digest('hex').slice(0, 32);
}

export function newScheduleId(): string {
  return `sch_${randomBytes(8).toString('hex')}`;
}

const bad = (code: string, message: string, details?: unknown) => new AppError(400, code, message, details);

/**
 * Checks everything a schedule needs to fire (spec shape, graph, cron or interval, time zone, input
 * against the graph's schema) and resolves defaults. Throws a 400 AppError naming the problem.
 * `where` prefixes messages, e.g. `schedules[2] (nightly)` for the config file.
 */
export function validateSchedule(
  raw: unknown, graphs: Record<string, GraphDefinition>, source: ScheduleSource, now = new Date(), where = 'schedule',
): Schedule {
  const res = ScheduleSpec.safeParse(raw);
  if (!res.success) {
    const first = res.error.issues[0]!;
    const at = first.path.join('.') || '(body)';
    throw bad('validation_failed', `${where} is invalid: ${at}: ${first.message}`,
      res.error.issues.map((i) => ({ path: i.path.join('.'), message: i.message, code: i.code })));
  }
  const spec = res.data;
  const graph = Object.hasOwn(graphs, spec.graph) ? graphs[spec.graph] : undefined;
  if (!graph) throw bad('unknown_graph', `${where}: unknown graph ${JSON.stringify(spec.graph)}`, { graphs: Object.keys(graphs) });
  if ((spec.cron === undefined) === (spec.every_sec === undefined)) {
    throw bad('validation_failed', `${where}: give exactly one of cron or every_sec`);
  }
  if (spec.tz !== undefined) {
    if (spec.cron === undefined) throw bad('validation_failed', `${where}: tz applies to cron schedules only`);
    const tzError = checkTz(spec.tz);
    if (tzError) throw bad('invalid_tz', `${where}: ${tzError}`);
  }
  if (spec.cron !== undefined) {
    const cronError = checkCron(spec.cron, spec.tz);
    if (cronError) throw bad('invalid_cron', `${where}: cron ${JSON.stringify(spec.cron)} is invalid: ${cronError}`);
  }
  const input = graph.input.safeParse(spec.input);
  if (!input.success) {
    const first = input.error.issues[0]!;
    throw bad('validation_failed', `${where}: input for graph ${graph.name} is invalid: ${first.path.join('.') || '(input)'}: ${first.message}`,
      input.error.issues.map((i) => ({ path: `input.${i.path.join('.')}`, message: i.message, code: i.code })));
  }
  const ts = now.toISOString();
  return {
    id: spec.id ?? newScheduleId(),
    graph: graph.name,
    ...(spec.cron !== undefined ? { cron: normalizeCron(spec.cron) } : {}),
    ...(spec.every_sec !== undefined ? { every_sec: spec.every_sec } : {}),
    ...(spec.tz !== undefined ? { tz: spec.tz } : {}),
    agent_id: spec.agent_id,
    input: spec.input,
    // a release check that is still polling must not be joined by the next one (Temporal's Skip)
    overlap: spec.overlap ?? (graph.name === 'release_check' ? 'skip' : 'allow'),
    enabled: spec.enabled,
    source,
    created_at: ts,
    updated_at: ts,
  };
}
