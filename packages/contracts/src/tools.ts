import { z } from 'zod';

/** Body of `POST {GATEWAY_URL}/v1/tools/execute`. */
export const ToolRequest = z.object({
  tool: z.string().min(1),
  action: z.string().min(1),
  params: z.record(z.string(), z.unknown()),
  context: z.object({
    agent_id: z.string(),
    run_id: z.string(),
    node: z.string(),
    idempotency_key: z.string(),
  }),
});
export type ToolRequest = z.infer<typeof ToolRequest>;

export const ToolResponse = z.union([
  z.object({ ok: z.literal(true), result: z.record(z.string(), z.unknown()) }),
  z.object({ ok: z.literal(false), error: z.looseObject({ code: z.string().optional(), message: z.string().optional() }) }),
]);
export type ToolResponse = z.infer<typeof ToolResponse>;

/** What a graph node uses to call a tool; the idempotency key and run context are filled in for it. */
export interface ToolCaller {
  call(tool: string, action: string, params: Record<string, unknown>, opts?: { signal?: AbortSignal }): Promise<Record<string, unknown>>;
}
