/** The record of every `POST /v1/tools/execute` the sim received. */

export type Outcome =
  | 'pending' // still waiting (latency or hang)
  | 'ok' // {ok:true,result}
  | 'tool_error' // {ok:false,error} from the tool (not_found, invalid_params, ...)
  | 'malformed' // 200 with a result of the wrong shape (config.malformed)
  | 'replayed' // duplicate side-effecting call: the first answer sent again
  | 'unknown_tool' // 404
  | 'bad_request' // 400, body failed validation
  | 'unauthorized' // 401, SIM_API_KEY set and the bearer token missing or wrong
  | 'forced' // config.forceStatus
  | 'rate_limited' // injected 429
  | 'server_error' // injected 5xx
  | 'timeout' // injected hang ended by the sim with a 504 after hangMaxMs
  | 'aborted'; // client went away while the sim was waiting (see `fault` for why it waited)

export interface CallRecord {
  seq: number;
  ts: string;
  tool: string | null;
  action: string | null;
  run_id: string | null;
  node: string | null;
  agent_id: string | null;
  idempotency_key: string | null;
  /** The same idempotency key was already executed for this tool.action. */
  duplicate: boolean;
  /** The client closed the connection before the sim answered. */
  aborted: boolean;
  /** HTTP status sent; null while pending or when aborted. */
  status: number | null;
  outcome: Outcome;
  /** Injected fault, if any. */
  fault: 'forced' | 'timeout' | '429' | '5xx' | null;
  /** The tool handler ran (a side effect may have happened). */
  executed: boolean;
  latency_ms: number;
  params?: Record<string, unknown>;
}

export interface CallFilter {
  run_id?: string;
  tool?: string;
  action?: string;
  node?: string;
  idempotency_key?: string;
  outcome?: string;
  since_seq?: number;
}

type Listener = (rec: CallRecord) => void;

export class CallLog {
  private calls: CallRecord[] = [];
  /** Oldest records are dropped beyond this many (long benchmark runs). */
  constructor(private readonly max = 200_000) {}

  private seq = 0;
  private listeners = new Set<Listener>();

  add(rec: Omit<CallRecord, 'seq'>): CallRecord {
    const full: CallRecord = { seq: ++this.seq, ...rec };
    this.calls.push(full);
    // trimmed in batches so a full log does not cost O(n) per call
    if (this.calls.length > this.max + Math.ceil(this.max / 10)) this.calls.splice(0, this.calls.length - this.max);
    return full;
  }

  /** Marks a record as finished and notifies listeners (tests wait on this). */
  finish(rec: CallRecord, patch: Partial<CallRecord>): void {
    Object.assign(rec, patch);
    for (const l of this.listeners) l(rec);
  }

  /** Calls `fn` for every record that finishes from now on; returns an unsubscribe function. */
  onFinish(fn: Listener): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  list(f: CallFilter = {}, full = false): CallRecord[] {
    return this.calls
      .filter(
        (c) =>
          (f.run_id === undefined || c.run_id === f.run_id) &&
          (f.tool === undefined || c.tool === f.tool) &&
          (f.action === undefined || c.action === f.action) &&
          (f.node === undefined || c.node === f.node) &&
          (f.idempotency_key === undefined || c.idempotency_key === f.idempotency_key) &&
          (f.outcome === undefined || c.outcome === f.outcome) &&
          (f.since_seq === undefined || c.seq > f.since_seq),
      )
      .map((c) => {
        if (full) return { ...c };
        const { params: _omit, ...lean } = c;
        return lean;
      });
  }

  /** Forgets the recorded calls; `seq` keeps counting so a reader's `since_seq` stays valid. */
  clear(): void {
    this.calls = [];
  }

  stats() {
    const byToolAction: Record<string, { calls: number; duplicates: number; aborted: number; by_status: Record<string, number> }> = {};
    const byStatus: Record<string, number> = {};
    const byOutcome: Record<string, number> = {};
    let duplicates = 0;
    let aborted = 0;
    for (const c of this.calls) {
      const key = c.tool && c.action ? `${c.tool}.${c.action}` : '(invalid)';
      const s = (byToolAction[key] ??= { calls: 0, duplicates: 0, aborted: 0, by_status: {} });
      s.calls++;
      const st = c.status === null ? (c.aborted ? 'aborted' : 'pending') : String(c.status);
      s.by_status[st] = (s.by_status[st] ?? 0) + 1;
      byStatus[st] = (byStatus[st] ?? 0) + 1;
      byOutcome[c.outcome] = (byOutcome[c.outcome] ?? 0) + 1;
      if (c.duplicate) (s.duplicates++, duplicates++);
      if (c.aborted) (s.aborted++, aborted++);
    }
    return { total: this.calls.length, duplicates, aborted, by_status: byStatus, by_outcome: byOutcome, by_tool_action: byToolAction };
  }
}
