import { z } from 'zod';
import { OVERLAP, ScheduleSpec } from '@sup/schedules';

/*
 * The schedules API as the document describes it. The request body is the package's own
 * ScheduleSpec; its answers are TypeScript types there (Schedule, ScheduleView, TickEntry), so their
 * shapes are restated here, and the OpenAPI test checks live answers against them.
 */

export const ScheduleBody = ScheduleSpec;

export const Schedule = z.looseObject({
  id: z.string(),
  graph: z.string(),
  cron: z.string().optional(),
  every_sec: z.number().int().optional(),
  tz: z.string().optional(),
  agent_id: z.string(),
  input: z.record(z.string(), z.unknown()),
  overlap: z.enum(OVERLAP),
  enabled: z.boolean(),
  source: z.enum(['config', 'api']).describe('config: from SCHEDULES_FILE / SCHEDULES, changed only there'),
  created_at: z.string(),
  updated_at: z.string(),
  next_fire_at: z.string().nullable().optional().describe('null when disabled; absent in the DELETE answer'),
  next_fire_times: z.array(z.string()).optional(),
  paused: z.boolean().optional().describe('true while queue `schedules` is paused (bull-board, /admin/queues): no schedule fires, and next_fire_at stays in the past until it is resumed; absent in the DELETE answer'),
  state: z.object({
    last_run_id: z.string().nullable(),
    last_fired_at: z.string().nullable(),
    last_skip_at: z.string().nullable(),
    fired: z.number().int(),
    skipped: z.number().int(),
  }).optional().describe('tick counters; absent in the DELETE answer'),
});

export const ScheduleList = z.object({
  schedules: z.array(Schedule).describe('by id'),
  next_cursor: z.string().nullable().describe('pass as `cursor` for the next page; null on the last page'),
});

export const ScheduleTriggerBody = z.object({
  overlap: z.enum(OVERLAP).optional().describe('`allow` starts a run even while the previous one is unfinished'),
});

export const ScheduleTicks = z.object({
  schedule_id: z.string(),
  ticks: z.array(z.object({ at: z.string(), tick: z.string(), outcome: z.enum(['fired', 'skipped']), run_id: z.string() })),
});
