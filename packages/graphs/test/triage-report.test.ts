import { describe, expect, it } from '@jest/globals';
import { applyPrivacy, buildTriageReport, severityOf, suspectedCause, type TriageEvidence, type TriageReportArgs } from '../src/index.js';

const NOW = Date.parse('2026-02-23T10:00:00Z');
const ago = (min: number) => new Date(NOW - min * 60_000).toISOString();

/** A quiet, healthy service; each test changes what it needs. */
function ev(over: { [K in keyof TriageEvidence]?: Partial<TriageEvidence[K]> } = {}): TriageEvidence {
  return {
    overview: { error_rate: 0.001, p95_ms: 120, rps: 300, recent_deploys: [], kb: [], ...over.overview },
    logs: { total: 0, lines: [], ...over.logs },
    health: { status: 'healthy', failing_checks: [], checks: 3, ...over.health },
    traces: { min_duration_ms: 500, count: 0, slowest: [], ...over.traces },
    slo: { slos: [{ name: 'availability', objective: 0.999, current: 0.9995, burn_rate: 0.5 }], ...over.slo },
    symptoms: null,
  };
}
const slo = (burn_rate: number) => ({ slos: [{ name: 'availability', objective: 0.999, current: null, burn_rate }] });
const line = (msg: string) => ({ ts: null, msg });

describe('severityOf', () => {
  it.each([
    ['SEV1', ev({ health: { status: 'down' } }), /health is down/],
    ['SEV1', ev({ overview: { error_rate: 0.25 } }), /error rate 25\.0% ≥ 25\.0%/],
    ['SEV1', ev({ slo: slo(10) }), /availability burn rate 10× ≥ 10×/],
    ['SEV2', ev({ health: { status: 'degraded' } }), /health is degraded/],
    ['SEV2', ev({ overview: { error_rate: 0.05 } }), /error rate 5\.0% ≥ 5\.0%/],
    ['SEV2', ev({ slo: slo(2) }), /burn rate 2× ≥ 2×/],
    ['SEV3', ev({ logs: { total: 3, lines: [line('boom')] } }), /3 error log lines/],
    ['SEV3', ev({ slo: slo(1.2) }), /burn rate 1\.2× ≥ 1×/],
    ['SEV4', ev(), /healthy, no error logs/],
  ] as const)('%s when %#', (severity, e, reason) => {
    const s = severityOf(e);
    expect(s.severity).toBe(severity);
    expect(s.reason).toMatch(reason);
  });

  it('names every trigger of the winning level', () => {
    expect(severityOf(ev({ health: { status: 'down' }, overview: { error_rate: 0.6 }, slo: slo(14.4) })).reason)
      .toBe('health is down; error rate 60.0% ≥ 25.0%; SLO availability burn rate 14.4× ≥ 10×');
  });
});

describe('suspectedCause', () => {
  const deploy = { version: 'v1.42.0', deployed_at: ago(20) };
  it('blames a deploy in the window followed by an error spike', () => {
    const c = suspectedCause(ev({ overview: { error_rate: 0.12, recent_deploys: [{ version: 'v1.41.0', deployed_at: ago(50) }, deploy] } }), 60, NOW);
    expect(c).toEqual({ kind: 'deploy', cause: expect.stringContaining(`deploy v1.42.0 at ${ago(20)} shortly before the error spike`) });
  });

  it('ignores a deploy outside the window, and a deploy without a spike', () => {
    const old = ev({ overview: { error_rate: 0.12, recent_deploys: [{ version: 'v1', deployed_at: ago(300) }] } });
    expect(suspectedCause(old, 60, NOW).kind).toBe('unexplained');
    expect(suspectedCause(ev({ overview: { recent_deploys: [deploy] } }), 60, NOW).kind).toBe('none');
  });

  it('then failing health checks, then latency, then the most frequent error', () => {
    expect(suspectedCause(ev({ health: { status: 'degraded', failing_checks: ['database'] } }), 60, NOW))
      .toEqual({ kind: 'dependency', cause: expect.stringContaining('health checks database failing') });
    const slow = ev({ traces: { count: 1, slowest: [{ trace_id: 't1', duration_ms: 4_200, root: 'GET /items' }] } });
    expect(suspectedCause(slow, 60, NOW)).toEqual({ kind: 'latency', cause: expect.stringContaining('slowest trace "GET /items" took 4200 ms') });
    expect(suspectedCause(ev({ overview: { p95_ms: 1_500 } }), 60, NOW).kind).toBe('latency');
    const errs = ev({ logs: { total: 9, lines: [line('timeout after 3000ms'), line('timeout after 2950ms'), line('bad request')] } });
    expect(suspectedCause(errs, 60, NOW)).toEqual({ kind: 'errors', cause: 'recurring error: "timeout after 3000ms" (2 of 3 sampled lines, 9 in the window)' });
  });
});

describe('buildTriageReport', () => {
  const args = (e: TriageEvidence, over: Partial<TriageReportArgs> = {}): TriageReportArgs => ({
    service: 'payments', incident_id: 'inc_1', window_min: 60, evidence: e, nowMs: NOW,
    privacy: { pii_detected: false, finding_types: [] }, cost: { daily_cost: 12.5, currency: 'USD', trend_pct: -3, anomalies: [] }, ...over,
  });

  it('builds markdown and JSON with severity, cause, evidence per tool, runbooks and next steps', () => {
    const e = ev({ overview: { error_rate: 0.3, recent_deploys: [{ version: 'v9', deployed_at: ago(5) }], kb: [{ title: 'Rollback', url: 'https://kb/rollback' }] } });
    const { json, markdown } = buildTriageReport(args(e));
    expect(json).toMatchObject({
      service: 'payments', incident_id: 'inc_1', severity: 'SEV1', severity_reason: 'error rate 30.0% ≥ 25.0%',
      suspected_cause: expect.stringMatching(/^deploy v9/), kb_runbooks: [{ title: 'Rollback', url: 'https://kb/rollback' }],
      privacy: { pii_detected: false, finding_types: [] }, cost: { daily_cost: 12.5 }, generated_at: '2026-02-23T10:00:00.000Z',
    });
    expect(json.evidence.map((x) => x.source)).toEqual([
      'observability_tool.service_overview', 'observability_tool.logs_query', 'observability_tool.health', 'observability_tool.traces_query',
      'observability_tool.slo_status', 'data_governance_tool.privacy_scan', 'cost_tool.cost_report',
    ]);
    expect(json.next_steps).toEqual(expect.arrayContaining([expect.stringContaining('roll back v9'), expect.stringContaining('runbook "Rollback"')]));
    expect(markdown).toContain('# Incident triage: payments — SEV1');
    expect(markdown).toContain('- [Rollback](https://kb/rollback)');
  });

  it('never carries a flagged finding value or an e-mail from the evidence, only finding types and counts', () => {
    const raw = ev({
      logs: { total: 2, lines: [line('declined for Jane.Doe@shop.example'), line('lookup of customer Zebulon Quayle failed')] },
      traces: { count: 1, slowest: [{ trace_id: 't', duration_ms: 600, root: 'GET /c/Zebulon Quayle' }] },
    });
    raw.symptoms = 'reported by jane.doe@shop.example';
    const p = applyPrivacy(false, [
      { type: 'email', count: 3, source: 'logs', sample: 'jane.doe@shop.example' },
      { type: 'person_name', source: 'traces', examples: ['Zebulon Quayle'] },
      { type: 'email', count: 2, source: 'traces' },
    ], raw);
    expect(p).toMatchObject({ pii_detected: true, redacted_values: 2, finding_types: [
      { type: 'email', count: 5, sources: ['logs', 'traces'] }, { type: 'person_name', count: 1, sources: ['traces'] },
    ] });
    const { json, markdown } = buildTriageReport(args(p.evidence, { privacy: { pii_detected: p.pii_detected, finding_types: p.finding_types } }));
    for (const text of [JSON.stringify(p), JSON.stringify(json), markdown]) {
      expect(text.toLowerCase()).not.toContain('jane.doe@shop.example');
      expect(text).not.toContain('Zebulon');
    }
    expect(markdown).toContain('PII detected: email ×5, person_name ×1');
    expect(markdown).toContain('"GET /c/[redacted]"');
    expect(markdown).toContain('Reported symptoms: reported by [redacted]');
  });
});
