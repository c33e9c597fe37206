import { RUN_STATUSES, type ErrorData, type RunRecord, type RunStatus } from '@sup/contracts';
import { StoreError } from './errors.js';

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);
const isStr = (v: unknown): v is string => typeof v === 'string';
const isStrOrNull = (v: unknown): v is string | null => v === null || typeof v === 'string';
const isInt = (v: unknown): v is number => Number.isInteger(v);
const pick = <T>(v: unknown, ok: (v: unknown) => v is T, fallback: T): T => (ok(v) ? v : fallback);

/** Marks "unknown" in a hand-written record without inventing a plausible-looking time. */
const EPOCH = '1970-01-01T00:00:00.000Z';

function errorData(v: unknown): ErrorData | null {
  if (isObj(v) && isStr(v.code) && isStr(v.message)) return v as ErrorData;
  // an operator writing "error":"killed by hand" should see that message, not lose it
  if (isStr(v)) return { code: 'error', message: v };
  return null;
}

/**
 * Parses a stored record. Operators SET records by hand (runbook), so missing or mistyped fields
 * get defaults instead of failing; only the status is essential, because it decides what the
 * system does with the run. The key is authoritative for run_id: it is where the record lives.
 */
export function parseRecord(raw: string, runId: string): RunRecord {
  let v: unknown;
  try {
    v = JSON.parse(raw);
  } catch {
    throw new StoreError('corrupt_record', `run ${runId}: stored value is not JSON`);
  }
  if (!isObj(v)) throw new StoreError('corrupt_record', `run ${runId}: stored value is not a JSON object`);
  if (!(RUN_STATUSES as readonly unknown[]).includes(v.status)) {
    throw new StoreError('corrupt_record', `run ${runId}: unknown status ${JSON.stringify(v.status)}`);
  }
  const createdAt = pick(v.created_at, isStr, pick(v.updated_at, isStr, EPOCH));
  return {
    ...v,
    run_id: runId,
    graph: pick(v.graph, isStr, ''),
    agent_id: pick(v.agent_id, isStr, ''),
    status: v.status as RunStatus,
    current_node: pick(v.current_node, isStrOrNull, null),
    created_at: createdAt,
    started_at: pick(v.started_at, isStrOrNull, null),
    finished_at: pick(v.finished_at, isStrOrNull, null),
    updated_at: pick(v.updated_at, isStr, createdAt),
    attempt: pick(v.attempt, isInt, 0),
    input: pick(v.input, isObj, {}),
    result: v.result ?? null,
    error: errorData(v.error),
    nodes: pick(v.nodes, Array.isArray, []) as RunRecord['nodes'],
  };
}

const HEAD = ['run_id', 'status', 'lease', 'graph'];

/**
 * The stored form of a record: `run_id`, `status`, `lease` and `graph` first, always, so
 * commit.lua reads the fields it checks from the head of the string instead of decoding the whole
 * document (see `head` in lua/commit.lua).
 */
export function serializeRecord(r: RunRecord): string {
  // records made by newRunRecord and carried along by spreads already have that order: no copy
  let i = 0;
  for (const k in r) if (k !== HEAD[i] || ++i === HEAD.length) break;
  if (i === HEAD.length && r.lease !== undefined) return JSON.stringify(r);
  const { run_id, status, lease, graph, ...rest } = r;
  return JSON.stringify({ run_id, status, lease: lease ?? null, graph, ...rest });
}
