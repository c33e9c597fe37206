import { createHash } from 'node:crypto';

/**
 * Every Redis key and channel of the run store is named here and nowhere else. With prefix '' the
 * names are exactly the runbook's (`run:{id}`, `run:{id}:events`); a hash-tagged prefix such as
 * `{sup}:` puts every key of a deployment in one Cluster slot, which the multi-key scripts need.
 */
export interface Keys {
  readonly prefix: string;
  run(runId: string): string;
  events(runId: string): string;
  /** The client's key is hashed: it is caller-chosen, unbounded and must not leak into key names. */
  idem(agentId: string, key: string): string;
  /** Sorted set: score = created ms, member = run id. */
  readonly index: string;
  /** Pub/sub channel (not a key), so it needs no hash tag; prefixed to keep deployments apart. */
  readonly cancelChannel: string;
}

export function createKeys(prefix: string): Keys {
  return {
    prefix,
    run: (runId) => `${prefix}run:${runId}`,
    events: (runId) => `${prefix}run:${runId}:events`,
    idem: (agentId, key) => `${prefix}idem:${agentId}:${createHash('sha256').update(key).digest('hex').slice(0, 32)}`,
    index: `${prefix}runs:index`,
    cancelChannel: `${prefix}run-cancel`,
  };
}
