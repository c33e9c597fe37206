import { z } from 'zod';
import { isoTime } from './time.js';

export const EVENT_TYPES = [
  'run_created', 'run_started', 'run_resumed', 'run_requeued',
  'node_started', 'node_finished', 'node_waiting', 'node_retry', 'node_failed',
  'child_run_started', 'tool_call',
  'run_cancel_requested', 'run_succeeded', 'run_failed', 'run_cancelled',
  'webhook_delivered', 'webhook_failed', 'compensation_done', 'compensation_failed',
] as const;
export const EventType = z.enum(EVENT_TYPES);
export type EventType = z.infer<typeof EventType>;

/** One entry of `run:{id}:events` (a Redis stream; `id` is the stream id, used as SSE id). */
export const RunEvent = z.object({
  id: z.string().optional(),
  ts: z.string(),
  type: EventType,
  node: z.string().optional(),
  data: z.record(z.string(), z.unknown()).optional(),
});
export type RunEvent = z.infer<typeof RunEvent>;

export const FINAL_EVENT_TYPES: readonly EventType[] = ['run_succeeded', 'run_failed', 'run_cancelled'];

export function event(type: EventType, node?: string, data?: Record<string, unknown>): RunEvent {
  // built in place, not from spreads of temporary objects: a worker makes one per node step
  const e: RunEvent = { ts: isoTime(), type };
  if (node) e.node = node;
  if (data) e.data = data;
  return e;
}
