import { z } from 'zod';
import { clip } from '@sup/contracts';
import { maskText } from './redact.js';
import { Num, parseResult, Text } from './tool-result.js';
import {
  applyPrivacy, buildTriageReport,
  type CostOut, type Deploy, type HealthOut, type LogsOut, type OverviewOut, type PrivacyOut, type SloOut, type TracesOut,
} from './triage-report.js';
import { END, type GraphDefinition, type NodeContext, type NodeDef } from './types.js';

const OBS = 'observability_tool';

export const IncidentTriageInput = z.object({
  service: z.string().min(1).max(128).regex(/\S/, 'must not be blank'),
  incident_id: z.string().min(1).max(128).optional(),
  window_min: z.number().int().min(1).max(10_080).default(60),
  symptoms: z.string().max(2_000).optional(),
});
export type IncidentTriageInput = z.output<typeof IncidentTriageInput>;

/** What the graph asks the tools for. */
export const TRIAGE_QUERY = { logLimit: 50, keepLogLines: 20, slowTraceMs: 500, keepTraces: 5, kbLimit: 5, costWindowDays: 7 } as const;

// Lenient result schemas: extra fields pass, optional ones may be missing, required ones may not.
// Lists are bounded by MAX_ITEMS (zod then refuses a longer one before checking its items: a huge
// wrong list would otherwise cost one validation issue per item).
export const MAX_ITEMS = 10_000;
const OverviewResult = z.looseObject({
  error_rate: Num.pipe(z.number().min(0)),
  p95_ms: Num.nullish(),
  rps: Num.nullish(),
  recent_deploys: z.array(z.union([Text, z.looseObject({ version: Text.nullish(), id: Text.nullish(), deployed_at: Text.nullish() })])).max(MAX_ITEMS).nullish(),
});
const KbResult = z.looseObject({ hits: z.array(z.looseObject({ title: Text, url: Text.nullish() })).max(MAX_ITEMS) });
const LogsResult = z.looseObject({
  lines: z.array(z.union([Text, z.looseObject({ ts: Text.nullish(), msg: Text.nullish(), message: Text.nullish() })])).max(MAX_ITEMS),
  total: Num.nullish(),
});
const HealthResult = z.looseObject({
  status: z.string().transform((s) => s.toLowerCase()).pipe(z.enum(['healthy', 'degraded', 'down'])),
  checks: z.array(z.union([Text, z.looseObject({ name: Text.nullish(), status: Text.nullish() })])).max(MAX_ITEMS).nullish(),
});
const TracesResult = z.looseObject({ traces: z.array(z.looseObject({ trace_id: Text, duration_ms: Num, root: Text.nullish() })).max(MAX_ITEMS) });
const SloResult = z.looseObject({ slos: z.array(z.looseObject({ name: Text, objective: Num.nullish(), current: Num.nullish(), burn_rate: Num })).max(MAX_ITEMS) });
const PrivacyResult = z.looseObject({
  pii_detected: z.boolean(),
  findings: z.array(z.looseObject({ type: Text, count: Num.nullish(), source: Text.nullish() })).max(MAX_ITEMS).nullish(),
});
const CostResult = z.looseObject({ daily_cost: Num, trend_pct: Num.nullish(), currency: Text.nullish(), anomalies: z.array(z.unknown()).max(MAX_ITEMS).nullish() });

const PASSING = /^(pass|passing|passed|ok|healthy|up|green)$/i;

/** The words a runbook search needs: service, symptoms, and what the overview already shows. */
export function kbQuery(input: IncidentTriageInput, o: OverviewOut): string {
  const words = [input.service, input.symptoms ? maskText(input.symptoms) : ''];
  if (o.error_rate >= 0.05) words.push('high error rate 5xx');
  if ((o.p95_ms ?? 0) >= 1_000) words.push('latency slow');
  if (o.recent_deploys.length) words.push('deploy rollback');
  return clip(words.filter(Boolean).join(' '), 500);
}

function anomalyText(a: unknown): string {
  if (typeof a === 'string') return clip(a, 200);
  if (!a || typeof a !== 'object') return String(a);
  const r = a as Record<string, unknown>;
  const parts = [r.date, r.resource, r.reason].filter((x) => typeof x === 'string' || typeof x === 'number');
  const amount = typeof r.amount === 'number' ? ` (${r.amount}${typeof r.expected === 'number' ? ` vs ${r.expected} expected` : ''})` : '';
  return clip(`${parts.join(' ') || 'anomaly'}${amount}`, 200);
}

type Ctx = NodeContext<IncidentTriageInput>;
const node = (name: string, description: string, policy: NodeDef['policy'], run: (ctx: Ctx) => Promise<unknown>): NodeDef<IncidentTriageInput> => ({
  name, description, policy, run: async (ctx) => ({ output: await run(ctx) }),
});
const read = { timeoutMs: 30_000, retries: 3, backoffMs: 1_000 };
const slowRead = { timeoutMs: 60_000, retries: 3, backoffMs: 2_000 };

const overview = node('overview', `${OBS}.service_overview, then kb_tool.search for runbooks`, read, async ({ input, tools }) => {
  const { service, window_min } = input;
  const r = parseResult(OverviewResult, await tools.call(OBS, 'service_overview', { service, window_min }), `${OBS}.service_overview`);
  const recent_deploys: Deploy[] = (r.recent_deploys ?? []).map((d) =>
    typeof d === 'string' ? { version: d, deployed_at: null } : { version: d.version ?? d.id ?? 'unknown version', deployed_at: d.deployed_at ?? null });
  const out: OverviewOut = { error_rate: r.error_rate, p95_ms: r.p95_ms ?? null, rps: r.rps ?? null, recent_deploys, kb: [] };
  const kb = parseResult(KbResult, await tools.call('kb_tool', 'search', { query: kbQuery(input, out), limit: TRIAGE_QUERY.kbLimit }), 'kb_tool.search');
  out.kb = kb.hits.slice(0, TRIAGE_QUERY.kbLimit).map((h) => ({ title: h.title, url: h.url ?? '' }));
  return out;
});

const logs = node('logs', `${OBS}.logs_query, level error`, slowRead, async ({ input: { service, window_min }, tools }) => {
  const r = parseResult(LogsResult, await tools.call(OBS, 'logs_query', { service, window_min, level: 'error', limit: TRIAGE_QUERY.logLimit }), `${OBS}.logs_query`);
  // masked at once, so raw e-mails and tokens never reach the persisted snapshot either
  const lines = r.lines.slice(0, TRIAGE_QUERY.keepLogLines).map((l) =>
    typeof l === 'string' ? { ts: null, msg: maskText(clip(l)) } : { ts: l.ts ?? null, msg: maskText(clip(l.msg ?? l.message ?? '')) });
  return { total: Math.max(r.total ?? r.lines.length, r.lines.length), lines } satisfies LogsOut;
});

const health = node('health', `${OBS}.health`, { timeoutMs: 15_000, retries: 3, backoffMs: 1_000 }, async ({ input: { service }, tools }) => {
  const r = parseResult(HealthResult, await tools.call(OBS, 'health', { service }), `${OBS}.health`);
  const checks = r.checks ?? [];
  const failing_checks = checks.flatMap((c) => (typeof c !== 'string' && c.status && !PASSING.test(c.status) ? [c.name ?? 'unnamed'] : []));
  return { status: r.status, failing_checks, checks: checks.length } satisfies HealthOut;
});

const traces = node('traces', `${OBS}.traces_query for traces ≥ ${TRIAGE_QUERY.slowTraceMs} ms`, slowRead, async ({ input: { service, window_min }, tools }) => {
  const min_duration_ms = TRIAGE_QUERY.slowTraceMs;
  const r = parseResult(TracesResult, await tools.call(OBS, 'traces_query', { service, window_min, min_duration_ms }), `${OBS}.traces_query`);
  const slowest = [...r.traces].sort((a, b) => b.duration_ms - a.duration_ms).slice(0, TRIAGE_QUERY.keepTraces)
    .map((t) => ({ trace_id: t.trace_id, duration_ms: t.duration_ms, root: maskText(clip(t.root ?? 'unknown root', 200)) }));
  return { min_duration_ms, count: r.traces.length, slowest } satisfies TracesOut;
});

const sloContext = node('slo_context', `${OBS}.slo_status (error budget burn)`, read, async ({ input: { service }, tools }) => {
  const r = parseResult(SloResult, await tools.call(OBS, 'slo_status', { service }), `${OBS}.slo_status`);
  return { slos: r.slos.map((s) => ({ name: s.name, objective: s.objective ?? null, current: s.current ?? null, burn_rate: s.burn_rate })) } satisfies SloOut;
});

const privacy = node('privacy', 'data_governance_tool.privacy_scan over logs and traces; redacts flagged values from the evidence', slowRead,
  async ({ input, outputs, tools }) => {
    const r = parseResult(PrivacyResult, await tools.call('data_governance_tool', 'privacy_scan', { service: input.service, sources: ['logs', 'traces'] }),
      'data_governance_tool.privacy_scan');
    const evidence = {
      overview: outputs.overview as OverviewOut, logs: outputs.logs as LogsOut, health: outputs.health as HealthOut,
      traces: outputs.traces as TracesOut, slo: outputs.slo_context as SloOut, symptoms: input.symptoms ?? null,
    };
    return applyPrivacy(r.pii_detected, r.findings ?? [], evidence) satisfies PrivacyOut;
  });

const cost = node('cost', `cost_tool.cost_report over ${TRIAGE_QUERY.costWindowDays} days`, { timeoutMs: 30_000, retries: 2, backoffMs: 2_000 }, async ({ input: { service }, tools }) => {
  const r = parseResult(CostResult, await tools.call('cost_tool', 'cost_report', { service, window_days: TRIAGE_QUERY.costWindowDays }), 'cost_tool.cost_report');
  return { daily_cost: r.daily_cost, currency: r.currency ?? 'USD', trend_pct: r.trend_pct ?? null, anomalies: (r.anomalies ?? []).slice(0, 5).map(anomalyText) } satisfies CostOut;
});

// reads only the privacy node's redacted copy of the evidence, never the raw node outputs
const report = node('report', 'triage report: markdown + JSON (severity, suspected cause, evidence, next steps)', { timeoutMs: 5_000, retries: 0 },
  async ({ input, outputs, now }) => {
    const { evidence, pii_detected, finding_types } = outputs.privacy as PrivacyOut;
    return buildTriageReport({
      service: input.service, ...(input.incident_id ? { incident_id: input.incident_id } : {}), window_min: input.window_min,
      evidence, privacy: { pii_detected, finding_types }, cost: outputs.cost as CostOut, nowMs: now(),
    });
  });

const ORDER = [overview, logs, health, traces, sloContext, privacy, cost, report];

export const incidentTriage: GraphDefinition<IncidentTriageInput> = {
  name: 'incident_triage',
  description: 'Collect observability, runbooks, SLO burn, privacy findings and cost for a service and build a triage report',
  input: IncidentTriageInput,
  start: 'overview',
  nodes: ORDER,
  edges: ORDER.map((n, i) => ({ from: n.name, to: ORDER[i + 1]?.name ?? END })),
};
