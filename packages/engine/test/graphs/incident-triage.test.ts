import { describe, expect, it } from '@jest/globals';
import { ToolError } from '@sup/contracts';
import { compileGraph, type StepOutcome } from '../../src/index.js';
import { IncidentTriageInput, incidentTriage, type TriageReport } from '@sup/graphs';
import { catalogue, drive, fakeDeps, LEAKED_EMAIL, LEAKED_NAME, summary } from './helpers.js';

const g = compileGraph(incidentTriage);
const NODES = ['overview', 'logs', 'health', 'traces', 'slo_context', 'privacy', 'cost', 'report'];
const input = { service: 'payments', incident_id: 'inc_7', symptoms: `5xx spike reported by ${LEAKED_EMAIL}` };
const resultOf = (os: StepOutcome[]) => (os.at(-1) as Extract<StepOutcome, { kind: 'succeeded' }>).result as TriageReport;

describe('incident_triage through the engine', () => {
  it('validates input and defaults window_min to 60', () => {
    expect(IncidentTriageInput.parse({ service: 'a' })).toEqual({ service: 'a', window_min: 60 });
    for (const bad of [{}, { service: '' }, { service: 'a', window_min: 0 }, { service: 'a', window_min: 1.5 }, { service: 'a', symptoms: 3 }]) {
      expect(IncidentTriageInput.safeParse(bad).success).toBe(false);
    }
  });

  it('runs the nodes in order, one tool call each (overview also searches the KB), and builds the report', async () => {
    const f = fakeDeps();
    const os = await drive(g, input, f);
    expect(summary(os)).toEqual([...NODES.slice(0, -1).map((n) => `advanced:${n}`), 'succeeded:report']);
    expect(f.calls.map((c) => `${c.node}:${c.tool}.${c.action}`)).toEqual([
      'overview:observability_tool.service_overview', 'overview:kb_tool.search', 'logs:observability_tool.logs_query', 'health:observability_tool.health',
      'traces:observability_tool.traces_query', 'slo_context:observability_tool.slo_status', 'privacy:data_governance_tool.privacy_scan', 'cost:cost_tool.cost_report',
    ]);
    expect(f.calls[0]!.params).toEqual({ service: 'payments', window_min: 60 });
    expect(f.calls[1]!.params).toMatchObject({ query: expect.stringContaining('deploy rollback'), limit: 5 });
    expect(f.calls[1]!.params.query).not.toContain(LEAKED_EMAIL);
    expect(f.calls[2]!.params).toEqual({ service: 'payments', window_min: 60, level: 'error', limit: 50 });
    expect(f.calls[6]!.params).toEqual({ service: 'payments', sources: ['logs', 'traces'] });
    const { json, markdown } = resultOf(os);
    expect(json).toMatchObject({
      service: 'payments', incident_id: 'inc_7', severity: 'SEV2',
      severity_reason: 'health is degraded; error rate 12.0% ≥ 5.0%; SLO availability burn rate 3.1× ≥ 2×',
      suspected_cause: expect.stringMatching(/^deploy v1\.42\.0 at .* shortly before the error spike/),
      kb_runbooks: [{ title: 'Runbook: elevated 5xx error rate', url: 'https://kb.example.invalid/runbooks/5xx' }],
      privacy: { pii_detected: true, finding_types: [{ type: 'email', count: 12, sources: ['logs'] }, { type: 'person_name', count: 2, sources: ['traces'] }] },
      cost: { daily_cost: 512.3, currency: 'USD', trend_pct: 4.2, anomalies: [] },
    });
    expect(json.evidence).toHaveLength(7);
    expect(markdown).toMatch(/^# Incident triage: payments — SEV2/);
  });

  it('keeps flagged values, e-mails and tokens out of the report and out of the privacy output', async () => {
    const os = await drive(g, input, fakeDeps());
    const privacyStep = os.find((o) => o.node === 'privacy' && o.kind === 'advanced') as Extract<StepOutcome, { kind: 'advanced' }>;
    const { json, markdown } = resultOf(os);
    for (const text of [JSON.stringify(json), markdown, JSON.stringify(privacyStep.output)]) {
      expect(text).not.toContain(LEAKED_EMAIL);
      expect(text).not.toContain(LEAKED_NAME);
      expect(text).not.toContain('sk_live_abcdefgh12345678');
      expect(text).not.toMatch(/[\w.+-]+@[\w-]+\.[a-z]{2,}/i);
    }
    expect(markdown).toContain('GET /api/payments/customers/[redacted]');
  });

  it('tolerates missing optional fields and odd but readable shapes', async () => {
    const f = fakeDeps(catalogue({
      'observability_tool.service_overview': () => ({ error_rate: '0.01' }),
      'kb_tool.search': () => ({ hits: [] }),
      'observability_tool.logs_query': () => ({ lines: ['plain text line'] }),
      'observability_tool.health': () => ({ status: 'HEALTHY' }),
      'observability_tool.traces_query': () => ({ traces: [] }),
      'observability_tool.slo_status': () => ({ slos: [] }),
      'data_governance_tool.privacy_scan': () => ({ pii_detected: false }),
      'cost_tool.cost_report': () => ({ daily_cost: 3 }),
    }));
    const os = await drive(g, { service: 'quiet' }, f);
    expect(resultOf(os).json).toMatchObject({
      severity: 'SEV3', severity_reason: '1 error log line in the window', suspected_cause: 'recurring error: "plain text line" (1 of 1 sampled lines, 1 in the window)',
      kb_runbooks: [], privacy: { pii_detected: false, finding_types: [] }, cost: { daily_cost: 3, currency: 'USD', trend_pct: null },
    });
  });

  it('fails with malformed_result naming the node and the tool action, without retrying', async () => {
    const bad: Array<[string, string, () => Record<string, unknown>]> = [
      ['overview', 'observability_tool.service_overview', () => ({ p95_ms: 10 })],
      ['health', 'observability_tool.health', () => ({ status: 'exploded' })],
      ['slo_context', 'observability_tool.slo_status', () => ({ slos: [{ name: 'a', burn_rate: 'hot' }] })],
      ['privacy', 'data_governance_tool.privacy_scan', () => ({ findings: [] })],
    ];
    for (const [node, key, reply] of bad) {
      const f = fakeDeps(catalogue({ [key]: reply }));
      const os = await drive(g, input, f);
      expect(os.at(-1)).toMatchObject({ kind: 'failed', node, error: { code: 'malformed_result', node, message: expect.stringContaining(key), details: { attempts: 1 } } });
      expect(f.calls.filter((c) => `${c.tool}.${c.action}` === key)).toHaveLength(1);
    }
  });

  it('retries a transient tool failure with backoff', async () => {
    let n = 0;
    const f = fakeDeps(catalogue({ 'observability_tool.health': () => (++n === 1 ? new ToolError('gateway_unavailable', '502', true) : { status: 'healthy', checks: [] }) }));
    const os = await drive(g, input, f);
    expect(summary(os)).toContain('waiting:health:retry');
    expect(os.at(-1)!.kind).toBe('succeeded');
  });
});
