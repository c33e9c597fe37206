import { z } from 'zod';

/** Everything that can be changed at run time through `PATCH /_sim/config`. */
export interface SimConfig {
  /** Delay before every `/v1/tools/execute` answer. */
  latencyMs: number;
  /** Per-call overrides of `latencyMs`, keyed `"tool.action"` (or just `"tool"`). */
  latencyByTool: Record<string, number>;
  /** Share of calls answered with a 5xx (500/502/503). */
  fail5xxRate: number;
  /** Share of calls that hang until the client gives up (or `hangMaxMs`, then 504). */
  timeoutRate: number;
  /** Share of calls answered 429 with `Retry-After: retryAfterSec`. */
  rate429: number;
  retryAfterSec: number;
  /** When set, every execute call is answered with this HTTP status. */
  forceStatus: number | null;
  /** `"tool.action": true` → answer 200 `{ok:true,result}` with a result of the wrong shape. */
  malformed: Record<string, boolean>;
  /** Duration of a release-check job in the orchestrator (queued for the first 10 %). */
  jobDurationMs: number;
  /** When true, a call picked for a timeout is executed first (side effect done, answer lost). */
  timeoutExecutes: boolean;
  /** Upper bound of a simulated hang; then 504. 0 = hang until the client closes. */
  hangMaxMs: number;
}

export const DEFAULT_CONFIG: SimConfig = {
  latencyMs: 0,
  latencyByTool: {},
  fail5xxRate: 0,
  timeoutRate: 0,
  rate429: 0,
  retryAfterSec: 1,
  forceStatus: null,
  malformed: {},
  jobDurationMs: 5000,
  timeoutExecutes: false,
  hangMaxMs: 600_000,
};

const rate = z.number().min(0).max(1);
const ms = z.number().int().min(0).max(3_600_000);
const status = z.number().int().min(400).max(599);

/**
 * Body of `PATCH /_sim/config`: JSON merge patch (RFC 7386) semantics — members present are
 * changed, `null` resets a member to its default (and deletes a key inside the two maps).
 */
export const ConfigPatch = z.strictObject({
  latencyMs: ms.nullable().optional(),
  latencyByTool: z.record(z.string().min(1), ms.nullable()).nullable().optional(),
  fail5xxRate: rate.nullable().optional(),
  timeoutRate: rate.nullable().optional(),
  rate429: rate.nullable().optional(),
  retryAfterSec: z.number().int().min(0).max(86_400).nullable().optional(),
  forceStatus: status.nullable().optional(),
  malformed: z.record(z.string().min(1), z.boolean().nullable()).nullable().optional(),
  jobDurationMs: ms.nullable().optional(),
  timeoutExecutes: z.boolean().nullable().optional(),
  hangMaxMs: ms.nullable().optional(),
});
export type ConfigPatch = z.infer<typeof ConfigPatch>;

function mergeMap<T>(cur: Record<string, T>, patch: Record<string, T | null>): Record<string, T> {
  const out = { ...cur };
  for (const [k, v] of Object.entries(patch)) {
    if (v === null) delete out[k];
    else out[k] = v;
  }
  return out;
}

/** Applies a validated patch and returns the new config (the input is not modified). */
export function applyPatch(cur: SimConfig, patch: ConfigPatch): SimConfig {
  const next: SimConfig = { ...cur, latencyByTool: { ...cur.latencyByTool }, malformed: { ...cur.malformed } };
  for (const [key, value] of Object.entries(patch) as [keyof SimConfig, unknown][]) {
    if (value === undefined) continue;
    if (value === null) {
      const d = DEFAULT_CONFIG[key];
      (next as unknown as Record<string, unknown>)[key] = typeof d === 'object' && d !== null ? { ...d } : d;
    } else if (key === 'latencyByTool' || key === 'malformed') {
      (next as unknown as Record<string, unknown>)[key] = mergeMap(
        next[key] as Record<string, unknown>,
        value as Record<string, unknown>,
      );
    } else {
      (next as unknown as Record<string, unknown>)[key] = value;
    }
  }
  return next;
}

/** Latency for one call: `"tool.action"` override, then `"tool"`, then the global value. */
export function latencyFor(cfg: SimConfig, tool: string, action: string): number {
  return cfg.latencyByTool[`${tool}.${action}`] ?? cfg.latencyByTool[tool] ?? cfg.latencyMs;
}
