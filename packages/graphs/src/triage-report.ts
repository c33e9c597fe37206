import { maskDeep, redactor, stringsIn } from './redact.js';

/** Pure part of incident_triage: what the nodes collected (normalised) → severity, cause, report. */

export type Severity = 'SEV1' | 'SEV2' | 'SEV3' | 'SEV4';
export type HealthStatus = 'healthy' | 'degraded' | 'down';

export interface Deploy { version: string; deployed_at: string | null }
export interface KbHit { title: string; url: string }
export interface OverviewOut { error_rate: number; p95_ms: number | null; rps: number | null; recent_deploys: Deploy[]; kb: KbHit[] }
export interface LogLine { ts: string | null; msg: string }
export interface LogsOut { total: number; lines: LogLine[] }
export interface HealthOut { status: HealthStatus; failing_checks: string[]; checks: number }
export interface Trace { trace_id: string; duration_ms: number; root: string }
export interface TracesOut { min_duration_ms: number; count: number; slowest: Trace[] }
export interface Slo { name: string; objective: number | null; current: number | null; burn_rate: number }
export interface SloOut { slos: Slo[] }
export interface FindingType { type: string; count: number; sources: string[] }
export interface PrivacySummary { pii_detected: boolean; finding_types: FindingType[] }
export interface CostOut { daily_cost: number; currency: string; trend_pct: number | null; anomalies: string[] }

/** What the report reads from the observability nodes; the privacy node hands it over redacted. */
export interface TriageEvidence { overview: OverviewOut; logs: LogsOut; health: HealthOut; traces: TracesOut; slo: SloOut; symptoms: string | null }

export interface TriageReportArgs {
  service: string;
  incident_id?: string;
  window_min: number;
  evidence: TriageEvidence;
  privacy: PrivacySummary;
  cost: CostOut;
  nowMs: number;
}

export interface EvidenceItem { source: string; summary: string }
export interface TriageReportJson {
  service: string;
  incident_id?: string;
  window_min: number;
  generated_at: string;
  symptoms?: string;
  severity: Severity;
  severity_reason: string;
  suspected_cause: string;
  evidence: EvidenceItem[];
  kb_runbooks: KbHit[];
  next_steps: string[];
  privacy: PrivacySummary;
  cost: CostOut;
}
export interface TriageReport { markdown: string; json: TriageReportJson }

export const THRESHOLDS = {
  sev1: { errorRate: 0.25, burnRate: 10 },
  sev2: { errorRate: 0.05, burnRate: 2 },
  sev3: { burnRate: 1 },
  slowP95Ms: 1_000,
  slowTraceMs: 2_000,
} as const;

const pct = (x: number) => `${(x * 100).toFixed(1)}%`;
const num = (x: number) => String(Math.round(x * 100) / 100);
const sloPct = (x: number) => `${String(Math.round(x * 100_000) / 1_000)}%`;
const worstSlo = (slo: SloOut) => slo.slos.reduce<Slo | null>((w, s) => (!w || s.burn_rate > w.burn_rate ? s : w), null);

/**
 * The severity rule: the first level with a trigger wins, and every trigger of that level is
 * named in the reason.
 * - SEV1: health `down`, or error rate ≥ 25 %, or an SLO burning its error budget ≥ 10× (it is
 *   gone in about three days of a 30-day window).
 * - SEV2: health `degraded`, or error rate ≥ 5 %, or an SLO burn rate ≥ 2×.
 * - SEV3: error log lines in the window, or an SLO burn rate ≥ 1× (spending budget faster than
 *   it refills).
 * - SEV4: none of the above.
 */
export function severityOf(e: Pick<TriageEvidence, 'overview' | 'logs' | 'health' | 'slo'>): { severity: Severity; reason: string } {
  const { errorRate: er1, burnRate: b1 } = THRESHOLDS.sev1;
  const { errorRate: er2, burnRate: b2 } = THRESHOLDS.sev2;
  const b3 = THRESHOLDS.sev3.burnRate;
  const er = e.overview.error_rate;
  const w = worstSlo(e.slo);
  const burn = (min: number) => w !== null && w.burn_rate >= min && `SLO ${w.name} burn rate ${num(w.burn_rate)}× ≥ ${min}×`;
  const triggers: Array<[Severity, string | false]> = [
    ['SEV1', e.health.status === 'down' && 'health is down'],
    ['SEV1', er >= er1 && `error rate ${pct(er)} ≥ ${pct(er1)}`],
    ['SEV1', burn(b1)],
    ['SEV2', e.health.status === 'degraded' && 'health is degraded'],
    ['SEV2', er >= er2 && `error rate ${pct(er)} ≥ ${pct(er2)}`],
    ['SEV2', burn(b2)],
    ['SEV3', e.logs.total > 0 && `${e.logs.total} error log line${e.logs.total === 1 ? '' : 's'} in the window`],
    ['SEV3', burn(b3)],
  ];
  for (const level of ['SEV1', 'SEV2', 'SEV3'] as const) {
    const hits = triggers.filter(([l, t]) => l === level && t).map(([, t]) => t as string);
    if (hits.length) return { severity: level, reason: hits.join('; ') };
  }
  return { severity: 'SEV4', reason: 'healthy, no error logs, error rate and SLO burn within budget' };
}

/** The most frequent error message (numbers and hex ids folded together), with its count. */
export function topError(lines: LogLine[]): { msg: string; n: number } | null {
  const groups = new Map<string, { msg: string; n: number }>();
  for (const { msg } of lines) {
    const key = msg.replace(/\b[0-9a-f]{8,}\b/gi, '#').replace(/\d+/g, '#');
    const g = groups.get(key) ?? { msg, n: 0 };
    g.n++;
    groups.set(key, g);
  }
  return [...groups.values()].reduce<{ msg: string; n: number } | null>((best, g) => (!best || g.n > best.n ? g : best), null);
}

/** The latest deploy inside the window; one without a timestamp counts (the tool called it recent). */
export function deployInWindow(deploys: Deploy[], windowMin: number, nowMs: number): Deploy | null {
  const from = nowMs - windowMin * 60_000;
  const skewMs = 5 * 60_000;
  const inside = deploys.filter((d) => {
    if (d.deployed_at === null) return true;
    const t = Date.parse(d.deployed_at);
    return Number.isNaN(t) || (t >= from && t <= nowMs + skewMs);
  });
  const at = (d: Deploy) => (d.deployed_at === null ? -Infinity : Date.parse(d.deployed_at) || -Infinity);
  return inside.sort((a, b) => at(b) - at(a))[0] ?? null;
}

export type CauseKind = 'deploy' | 'dependency' | 'latency' | 'errors' | 'unexplained' | 'none';

/**
 * Suspected cause, first rule that holds: a deploy in the window followed by an error spike
 * (error rate ≥ 5 % or health not healthy) → that deploy; failing health checks → those
 * dependencies; p95 ≥ 1 s or a trace ≥ 2 s → latency; error logs → the most frequent error;
 * a spike with none of these → unexplained; else none.
 */
export function suspectedCause(e: TriageEvidence, windowMin: number, nowMs: number): { kind: CauseKind; cause: string } {
  const { overview: o, health: h, traces: t, logs } = e;
  const top = topError(logs.lines);
  const topText = top ? `; top error: "${top.msg}"` : '';
  const spike = o.error_rate >= THRESHOLDS.sev2.errorRate || h.status !== 'healthy';
  const deploy = deployInWindow(o.recent_deploys, windowMin, nowMs);
  if (deploy && spike) {
    const at = deploy.deployed_at ? ` at ${deploy.deployed_at}` : '';
    return { kind: 'deploy', cause: `deploy ${deploy.version}${at} shortly before the error spike (error rate ${pct(o.error_rate)}, health ${h.status})${topText}` };
  }
  if (h.failing_checks.length) {
    return { kind: 'dependency', cause: `failing dependency: health checks ${h.failing_checks.join(', ')} failing (health ${h.status})${topText}` };
  }
  const slowest = t.slowest[0];
  if ((o.p95_ms ?? 0) >= THRESHOLDS.slowP95Ms || (slowest && slowest.duration_ms >= THRESHOLDS.slowTraceMs)) {
    const tr = slowest ? `; slowest trace "${slowest.root}" took ${slowest.duration_ms} ms` : '';
    return { kind: 'latency', cause: `latency regression: p95 ${o.p95_ms ?? 'n/a'} ms${tr}${topText}` };
  }
  if (top) return { kind: 'errors', cause: `recurring error: "${top.msg}" (${top.n} of ${logs.lines.length} sampled lines, ${logs.total} in the window)` };
  if (spike) return { kind: 'unexplained', cause: `error rate ${pct(o.error_rate)} without a clear signal in deploys, health, traces or logs` };
  return { kind: 'none', cause: 'no cause evident: the service looks healthy in the window' };
}

function evidenceOf(a: TriageReportArgs): EvidenceItem[] {
  const { overview: o, logs, health: h, traces: t, slo } = a.evidence;
  const latest = deployInWindow(o.recent_deploys, a.window_min, a.nowMs);
  const top = topError(logs.lines);
  const slowest = t.slowest[0];
  const types = a.privacy.finding_types;
  const list: Array<[string, string]> = [
    ['observability_tool.service_overview', `error rate ${pct(o.error_rate)}, p95 ${o.p95_ms ?? 'n/a'} ms, ${o.rps ?? 'n/a'} rps; ` +
      `${o.recent_deploys.length} recent deploy(s)${latest ? `, latest in window ${latest.version}${latest.deployed_at ? ` at ${latest.deployed_at}` : ''}` : ''}`],
    ['observability_tool.logs_query', logs.total ? `${logs.total} error lines in ${a.window_min} min${top ? `; most frequent: "${top.msg}" (${top.n}×)` : ''}` : `no error lines in ${a.window_min} min`],
    ['observability_tool.health', `${h.status}; ${h.failing_checks.length ? `failing checks: ${h.failing_checks.join(', ')}` : `${h.checks} check(s), none failing`}`],
    ['observability_tool.traces_query', slowest ? `${t.count} trace(s) ≥ ${t.min_duration_ms} ms; slowest ${slowest.duration_ms} ms "${slowest.root}" (trace ${slowest.trace_id})` : `no traces ≥ ${t.min_duration_ms} ms`],
    ['observability_tool.slo_status', slo.slos.length ? slo.slos.map((s) => `${s.name} burn ${num(s.burn_rate)}×${s.current !== null && s.objective !== null ? ` (${sloPct(s.current)} vs ${sloPct(s.objective)})` : ''}`).join('; ') : 'no SLOs defined'],
    ['data_governance_tool.privacy_scan', a.privacy.pii_detected
      ? `PII detected: ${types.map((f) => `${f.type} ×${f.count}${f.sources.length ? ` in ${f.sources.join(', ')}` : ''}`).join('; ') || 'types not reported'} (values withheld)`
      : 'no PII found in logs and traces'],
    ['cost_tool.cost_report', `${num(a.cost.daily_cost)} ${a.cost.currency}/day${a.cost.trend_pct !== null ? `, trend ${a.cost.trend_pct >= 0 ? '+' : ''}${a.cost.trend_pct}%` : ''}, ${a.cost.anomalies.length} anomaly(ies)`],
  ];
  return list.map(([source, summary]) => ({ source, summary }));
}

function nextSteps(a: TriageReportArgs, severity: Severity, kind: CauseKind): string[] {
  const { overview: o, health: h, traces: t, logs, slo } = a.evidence;
  const steps: string[] = [];
  const deploy = deployInWindow(o.recent_deploys, a.window_min, a.nowMs);
  const top = topError(logs.lines);
  if (severity === 'SEV1' || severity === 'SEV2') steps.push(`${severity}: open or keep an incident channel with an incident commander and post a status update`);
  if (kind === 'deploy' && deploy) steps.push(`roll back ${deploy.version} (or halt its rollout) and confirm the error rate recovers`);
  if (kind === 'dependency') steps.push(`check the failing dependencies (${h.failing_checks.join(', ')}) and their recent changes`);
  if (kind === 'latency' && t.slowest[0]) steps.push(`inspect trace ${t.slowest[0].trace_id} ("${t.slowest[0].root}") for the slow span`);
  if (top && (kind === 'errors' || kind === 'deploy' || kind === 'dependency')) steps.push(`find the code path behind "${top.msg}"`);
  if (kind === 'unexplained' || kind === 'none') steps.push('keep watching error rate and SLO burn; re-run triage if the symptoms persist');
  const w = worstSlo(slo);
  if (w && w.burn_rate >= THRESHOLDS.sev2.burnRate) steps.push(`SLO ${w.name} burns its error budget at ${num(w.burn_rate)}×: tell the service owners`);
  if (a.privacy.pii_detected) {
    const sources = [...new Set(a.privacy.finding_types.flatMap((f) => f.sources))];
    steps.push(`PII (${a.privacy.finding_types.map((f) => f.type).join(', ') || 'unspecified'}) found${sources.length ? ` in ${sources.join(', ')}` : ''}: open a data-governance ticket and stop logging it`);
  }
  if (a.cost.anomalies.length) steps.push(`review ${a.cost.anomalies.length} cost anomaly(ies)`);
  if (o.kb[0]) steps.push(`follow the runbook "${o.kb[0].title}" (${o.kb[0].url})`);
  return steps;
}

export function triageMarkdown(j: TriageReportJson): string {
  const lines = [
    `# Incident triage: ${j.service} — ${j.severity}`,
    '',
    `${j.incident_id ? `Incident ${j.incident_id} · ` : ''}window ${j.window_min} min · generated ${j.generated_at}`,
    ...(j.symptoms ? ['', `Reported symptoms: ${j.symptoms}`] : []),
    '',
    `**Severity:** ${j.severity} — ${j.severity_reason}`,
    '',
    `**Suspected cause:** ${j.suspected_cause}`,
    '',
    '## Evidence',
    ...j.evidence.map((e) => `- \`${e.source}\`: ${e.summary}`),
    '',
    '## Next steps',
    ...j.next_steps.map((s, i) => `${i + 1}. ${s}`),
    '',
    '## Runbooks',
    ...(j.kb_runbooks.length ? j.kb_runbooks.map((k) => `- [${k.title}](${k.url})`) : ['- none found']),
    '',
    '## Privacy',
    j.privacy.pii_detected
      ? `PII detected: ${j.privacy.finding_types.map((f) => `${f.type} ×${f.count}`).join(', ') || 'types not reported'}. Values are withheld from this report.`
      : 'No PII found in logs and traces.',
    '',
    '## Cost',
    `${num(j.cost.daily_cost)} ${j.cost.currency}/day${j.cost.trend_pct !== null ? `, trend ${j.cost.trend_pct >= 0 ? '+' : ''}${j.cost.trend_pct}%` : ''}`,
    ...j.cost.anomalies.map((x) => `- anomaly: ${x}`),
    '',
  ];
  return lines.join('\n');
}

/**
 * The triage report. Every string of the JSON goes through maskText once more and the markdown is
 * rendered from that JSON, so neither can carry an e-mail- or token-like value.
 */
export function buildTriageReport(a: TriageReportArgs): TriageReport {
  const { severity, reason } = severityOf(a.evidence);
  const { kind, cause } = suspectedCause(a.evidence, a.window_min, a.nowMs);
  const json: TriageReportJson = maskDeep({
    service: a.service,
    ...(a.incident_id ? { incident_id: a.incident_id } : {}),
    window_min: a.window_min,
    generated_at: new Date(a.nowMs).toISOString(),
    ...(a.evidence.symptoms ? { symptoms: a.evidence.symptoms } : {}),
    severity,
    severity_reason: reason,
    suspected_cause: cause,
    evidence: evidenceOf(a),
    kb_runbooks: a.evidence.overview.kb.map(({ title, url }) => ({ title, url })),
    next_steps: nextSteps(a, severity, kind),
    privacy: { pii_detected: a.privacy.pii_detected, finding_types: a.privacy.finding_types },
    cost: a.cost,
  });
  return { markdown: triageMarkdown(json), json };
}

/** A privacy-scan finding as the tool sent it: type, count, source, plus whatever else (samples). */
export interface Finding { type: string; count?: number | null; source?: string | null; [k: string]: unknown }
export interface PrivacyOut extends PrivacySummary { evidence: TriageEvidence; redacted_values: number }

/** Finding fields that describe a finding rather than quote the data. */
const DESCRIPTIVE = new Set(['type', 'source', 'severity', 'count']);

/**
 * The privacy node's guarantee: every other string a finding carries (sample, examples, match…)
 * is masked wherever it occurs in the evidence gathered so far, as is anything e-mail-, token- or
 * phone-like; only finding types, counts and sources leave this function.
 */
export function applyPrivacy(piiDetected: boolean, findings: Finding[], evidence: TriageEvidence): PrivacyOut {
  const flagged = findings.flatMap((f) => stringsIn(f, DESCRIPTIVE));
  const mask = redactor(flagged);
  const byType = new Map<string, FindingType>();
  for (const f of findings) {
    const type = mask(f.type);
    const t = byType.get(type) ?? { type, count: 0, sources: [] };
    t.count += typeof f.count === 'number' && Number.isFinite(f.count) ? f.count : 1;
    if (f.source && !t.sources.includes(mask(f.source))) t.sources.push(mask(f.source));
    byType.set(type, t);
  }
  return {
    pii_detected: piiDetected || findings.length > 0,
    finding_types: [...byType.values()],
    evidence: maskDeep(evidence, mask),
    redacted_values: new Set(flagged).size,
  };
}
