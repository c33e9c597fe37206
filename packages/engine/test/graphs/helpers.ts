import { step, type CompiledGraph, type StepDeps, type StepOutcome } from '../../src/index.js';
import type { ChildRuns } from '@sup/graphs';

export type ToolReq = Parameters<StepDeps['callTool']>[0];
type Reply = Record<string, unknown> | Error;
export type Catalogue = Record<string, (params: Record<string, unknown>) => Reply>;

export const NOW = Date.parse('2026-02-23T10:00:00Z');
const iso = (ms: number) => new Date(ms).toISOString();

/** Flagged by the fake privacy scan; planted in a log line and a trace root. */
export const LEAKED_EMAIL = 'alice.moreau12@example.com';
export const LEAKED_NAME = 'Zebulon Quayle';

/** Catalogue-shaped answers for a degraded `payments` service, with extra fields here and there. */
export function catalogue(over: Catalogue = {}): Catalogue {
  let artifacts = 0;
  let events = 0;
  return {
    'observability_tool.service_overview': () => ({
      service: 'payments', window_min: 60, error_rate: 0.12, p95_ms: 850, rps: 420.5, health: 'degraded',
      recent_deploys: [{ version: 'v1.42.0', deployed_at: iso(NOW - 20 * 60_000), author: 'ci-bot', status: 'succeeded' }],
    }),
    'kb_tool.search': (p) => ({ query: p.query, hits: [{ title: 'Runbook: elevated 5xx error rate', url: 'https://kb.example.invalid/runbooks/5xx', snippet: '…', score: 0.5 }] }),
    'observability_tool.logs_query': () => ({
      service: 'payments', total: 37, truncated: true,
      lines: [
        { ts: iso(NOW - 60_000), level: 'error', msg: `payment declined for ${LEAKED_EMAIL}: HTTP 503 from payments-gateway` },
        { ts: iso(NOW - 120_000), level: 'error', msg: 'HTTP 503 from payments-gateway: circuit breaker open' },
        { ts: iso(NOW - 180_000), level: 'error', msg: 'HTTP 503 from payments-gateway: circuit breaker open' },
        { ts: iso(NOW - 240_000), level: 'error', msg: 'auth failed with Authorization: Bearer sk_live_abcdefgh12345678' },
      ],
    }),
    'observability_tool.health': () => ({ service: 'payments', status: 'degraded', checks: [{ name: 'http', status: 'pass', latency_ms: 3 }, { name: 'database', status: 'fail', latency_ms: 2400 }] }),
    'observability_tool.traces_query': () => ({
      service: 'payments',
      traces: [
        { trace_id: '0af7651916cd43dd8448eb211c80319c', duration_ms: 1_800, root: `GET /api/payments/customers/${LEAKED_NAME}`, spans: 12 },
        { trace_id: 'b7ad6b7169203331b7ad6b7169203331', duration_ms: 900, root: 'POST /api/payments/orders' },
      ],
    }),
    'observability_tool.slo_status': () => ({ service: 'payments', slos: [{ name: 'availability', objective: 0.999, current: 0.9969, burn_rate: 3.1, window: '30d' }] }),
    'data_governance_tool.privacy_scan': () => ({
      service: 'payments', sources: ['logs', 'traces'], pii_detected: true,
      findings: [
        { type: 'email', count: 12, source: 'logs', sample: LEAKED_EMAIL, severity: 'high' },
        { type: 'person_name', count: 2, source: 'traces', sample: LEAKED_NAME },
      ],
    }),
    'cost_tool.cost_report': () => ({ service: 'payments', window_days: 7, currency: 'USD', daily_cost: 512.3, trend_pct: 4.2, anomalies: [] }),
    'incident_tool.get': (p) => ({ incident: incident(String(p.incident_id)) }),
    'incident_tool.attach_artifact': (p) => ({ artifact_id: `art_${++artifacts}`, incident_id: p.incident_id, size: 10 }),
    'incident_tool.append_event': (p) => ({ event_id: `evt_${++events}`, incident_id: p.incident_id }),
    ...over,
  };
}

export function incident(id: string, triage: Record<string, unknown> | null = null) {
  const start = NOW - 3 * 3_600_000;
  return {
    id, title: 'payments: elevated 5xx error rate', service: 'payments', severity: 'SEV2', status: 'resolved',
    started_at: iso(start), resolved_at: iso(start + 45 * 60_000), artifacts: [], triage,
    timeline: [
      { event_id: 'e2', ts: iso(start + 4 * 60_000), type: 'paged', text: 'On-call engineer paged', source: 'seed' },
      { event_id: 'e1', ts: iso(start), type: 'detected', text: 'Alert fired: payments 5xx', source: 'seed' },
    ],
  };
}

/** Engine deps over a fake gateway; every park moves the fake clock by its delay, as BullMQ would. */
export function fakeDeps(tools: Catalogue = catalogue(), runs: Partial<ChildRuns> = {}) {
  const calls: ToolReq[] = [];
  let clock = NOW;
  const deps: StepDeps = {
    runId: 'gr_parent',
    agentId: 'tester',
    async callTool(req) {
      calls.push(req);
      const fn = tools[`${req.tool}.${req.action}`];
      if (!fn) throw new Error(`fake gateway: no ${req.tool}.${req.action}`);
      const r = fn(req.params);
      if (r instanceof Error) throw r;
      return structuredClone(r);
    },
    runs: {
      start: async () => { throw new Error('no child runs expected'); },
      get: async () => null,
      cancel: async () => {},
      unfinished: async () => [],
      ...runs,
    },
    signal: new AbortController().signal,
    now: () => clock,
    settings: { jobPollIntervalMs: 3_000 },
  };
  return { deps, calls, advance: (ms: number) => void (clock += ms) };
}

const viaJson = (s: unknown): unknown => (s === null ? null : JSON.parse(JSON.stringify(s)));

/** Steps a run to its end, round-tripping the snapshot through JSON as the worker does. */
export async function drive(g: CompiledGraph, input: Record<string, unknown>, f: ReturnType<typeof fakeDeps>, max = 50): Promise<StepOutcome[]> {
  const out: StepOutcome[] = [];
  let snapshot: unknown = null;
  for (let i = 0; i < max; i++) {
    const o = await step(g, snapshot, input, f.deps);
    out.push(o);
    if (o.kind === 'succeeded' || o.kind === 'failed') return out;
    if (o.kind === 'waiting') f.advance(o.delayMs);
    snapshot = viaJson(o.snapshot);
  }
  throw new Error(`run did not finish in ${max} steps`);
}

export const summary = (os: StepOutcome[]) => os.map((o) => (o.kind === 'waiting' ? `waiting:${o.node}:${o.reason}` : `${o.kind}:${o.node}`));
