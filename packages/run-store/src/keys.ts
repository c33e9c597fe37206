import { createHash } from 'node:crypto';

/** Secondary listing indexes (`GET /v1/runs?graph=&agent_id=&parent_run_id=&schedule_id=`). */
export type IndexField = 'graph' | 'agent' | 'parent' | 'schedule';

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
  /** The same key from its digest (a record's `idem`). */
  idemOf(agentId: string, digest: string): string;
  /** Sorted set: score = created ms, member = run id. */
  readonly index: string;
  /**
   * Sorted set like `index`, of the runs not finished yet: create.lua adds, commit.lua removes on the
   * transition into a final status. Housekeeping walks it to find live runs whose BullMQ job is gone
   * (and drops entries of runs finished by hand, deleted or expired).
   */
  readonly live: string;
  /**
   * Sorted set like `index`, of the runs that outlive the listing indexes (which keep 2 × TTL from
   * creation): housekeeping adds every live run older than a TTL (RunStore.keepListed), and an entry
   * leaves when its run is gone. A listing walks it beside the index, so a run that waited or ran
   * for days is still listed, also after it finished. Usually empty.
   */
  readonly long: string;
  /** Set (to the time) once `live` was filled from `index` for runs older than it (fillLive). */
  readonly liveFilled: string;
  /**
   * Hash of cluster-wide run counters (`created|<graph>`, `finished|<graph>|<status>`), bumped by
   * create.lua and commit.lua. No TTL: it has one field per graph and status, and counters must
   * outlive the runs they count.
   */
  readonly stats: string;
  /**
   * Sorted sets like `index`, one per graph, agent, parent run and schedule (written by create.lua;
   * trimmed by age like `index`, and each expires a TTL after its newest run was created).
   */
  indexBy(field: IndexField, value: string): string;
  /** Pub/sub channel (not a key), so it needs no hash tag; prefixed to keep deployments apart. */
  readonly cancelChannel: string;
  /** Pub/sub channel: commit.lua publishes the run id whenever it appends events (SSE followers). */
  readonly eventsChannel: string;
  /** Schedules (packages/schedules): the definition as JSON; no TTL, schedules are configuration. */
  schedule(id: string): string;
  /** Hash of a schedule's tick state: last run, last tick, counters, the tick claim. */
  scheduleState(id: string): string;
  /** Sorted set: score = created ms, member = id of a run the schedule started. */
  scheduleRuns(id: string): string;
  /** Stream of the schedule's tick outcomes (fired, skipped), capped. */
  scheduleTicks(id: string): string;
  /** Set of every schedule id. */
  readonly schedules: string;
  /** Digest of the schedules configuration reconciled last (outside BullMQ's `schedules:` key space). */
  readonly schedulesConfig: string;
  /**
   * SET (short PX) to learn whether Redis takes writes: the API's /healthz, and a worker whose job
   * fetches Redis refused (out of memory, read-only; apps/worker/src/refusals.ts).
   */
  readonly writeProbe: string;
}

/** What names an idempotency key in Redis (and in a record's `idem`): 32 hex digits of its SHA-256. */
export function idemDigest(key: string): string {
  return createHash('sha256').update(key).digest('hex').slice(0, 32);
}

export function createKeys(prefix: string): Keys {
  return {
    prefix,
    run: (runId) => `${prefix}run:${runId}`,
    events: (runId) => `${prefix}run:${runId}:events`,
    idem: (agentId, key) => `${prefix}idem:${agentId}:${idemDigest(key)}`,
    idemOf: (agentId, digest) => `${prefix}idem:${agentId}:${digest}`,
    index: `${prefix}runs:index`,
    live: `${prefix}runs:live`,
    liveFilled: `${prefix}runs:live:filled`,
    long: `${prefix}runs:long`,
    stats: `${prefix}stats:runs`,
    indexBy: (field, value) => `${prefix}runs:index:${field}:${value}`,
    cancelChannel: `${prefix}run-cancel`,
    eventsChannel: `${prefix}run-events`,
    schedule: (id) => `${prefix}schedule:${id}`,
    scheduleState: (id) => `${prefix}schedule:${id}:state`,
    scheduleRuns: (id) => `${prefix}schedule:${id}:runs`,
    scheduleTicks: (id) => `${prefix}schedule:${id}:ticks`,
    schedules: `${prefix}schedules`,
    schedulesConfig: `${prefix}schedules-config`,
    writeProbe: `${prefix}write-probe`,
  };
}
