import type { ToolDef } from './common.js';
import { costTools } from './cost.js';
import { governanceTools } from './governance.js';
import { incidentTools } from './incident.js';
import { kbTools } from './kb.js';
import { observabilityTools } from './observability.js';
import { orchestratorTools } from './orchestrator.js';

export type { ToolCtx, ToolDef, ToolOutcome, ToolStores } from './common.js';

/** The whole catalogue, keyed `"tool.action"`. */
export const CATALOGUE: Readonly<Record<string, ToolDef>> = {
  ...orchestratorTools,
  ...observabilityTools,
  ...kbTools,
  ...governanceTools,
  ...costTools,
  ...incidentTools,
};

/**
 * A result of the wrong shape for `config.malformed`: every top-level field keeps its name but
 * gets a value of another type (strings become numbers, arrays objects, objects strings, ...).
 */
export function malform(result: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = { _sim_malformed: true };
  for (const [k, v] of Object.entries(result)) {
    if (typeof v === 'string') out[k] = 12345;
    else if (typeof v === 'number') out[k] = 'not-a-number';
    else if (typeof v === 'boolean') out[k] = 'maybe';
    else if (Array.isArray(v)) out[k] = { not: 'an array' };
    else if (v === null) out[k] = 'null';
    else out[k] = 'not-an-object';
  }
  return out;
}
