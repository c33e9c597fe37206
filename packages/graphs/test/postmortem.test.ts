import { describe, expect, it } from '@jest/globals';
import { buildPostmortem, triageView, type IncidentView } from '../src/index.js';

const inc: IncidentView = {
  id: 'inc_1', title: 'checkout: elevated 5xx', service: 'checkout', severity: 'SEV2', status: 'resolved',
  started_at: '2026-02-23T08:00:00.000Z', resolved_at: '2026-02-23T08:45:00.000Z', triage: null,
  timeline: [
    { ts: '2026-02-23T08:15:00.000Z', type: 'mitigation', text: 'Rolled back | v2' },
    { ts: null, type: 'note', text: 'paged ops@corp.example' },
    { ts: '2026-02-23T08:00:00.000Z', type: 'detected', text: 'Alert fired' },
  ],
};

describe('triageView', () => {
  it('reads our triage report JSON', () => {
    expect(triageView({ severity: 'SEV1', suspected_cause: 'deploy v9', evidence: [{ source: 'cost_tool.cost_report', summary: '3 USD/day' }], next_steps: ['roll back v9', ''], extra: 1 }))
      .toEqual({ severity: 'SEV1', summary: null, suspected_cause: 'deploy v9', evidence: ['cost_tool.cost_report: 3 USD/day'], next_steps: [{ title: 'roll back v9' }] });
  });
  it('reads the incident tool\'s triage shape and tolerates junk', () => {
    expect(triageView({ summary: 's', root_cause: 'pool', evidence: ['e1', 7, null], next_steps: [{ title: 'raise pool', owner: 'db-team', due: '2026-03-01' }, { nope: 1 }] }))
      .toEqual({ severity: null, summary: 's', suspected_cause: 'pool', evidence: ['e1'], next_steps: [{ title: 'raise pool', owner: 'db-team', due: '2026-03-01' }] });
    expect(triageView({ evidence: 'x', next_steps: 5 })).toEqual({ severity: null, summary: null, suspected_cause: null, evidence: [], next_steps: [] });
  });
});

describe('buildPostmortem', () => {
  it('builds summary, impact, sorted timeline, root cause and numbered, de-duplicated action items', () => {
    const t = triageView({ severity: 'SEV1', suspected_cause: 'deploy v9 exhausted the pool', next_steps: ['Roll back v9', 'roll back v9', { title: 'alert on pool', owner: 'sre' }] });
    const { json, markdown } = buildPostmortem(inc, t, 'child_run', 'gr_child');
    expect(json).toEqual({
      incident_id: 'inc_1', title: 'Postmortem: checkout: elevated 5xx', severity: 'SEV2',
      summary: 'checkout: elevated 5xx (checkout). Suspected cause: deploy v9 exhausted the pool.',
      impact: 'SEV2 incident on checkout: 45 min, from 2026-02-23T08:00:00.000Z to 2026-02-23T08:45:00.000Z; triage rated it SEV1.',
      timeline: [inc.timeline[2], inc.timeline[0], { ts: null, type: 'note', text: 'paged [email]' }],
      root_cause: 'deploy v9 exhausted the pool', evidence: [],
      action_items: [{ id: 'AI-1', title: 'Roll back v9' }, { id: 'AI-2', title: 'alert on pool', owner: 'sre' }],
      triage_source: 'child_run', child_run_id: 'gr_child',
    });
    expect(markdown).toContain('# Postmortem: checkout: elevated 5xx');
    expect(markdown).toContain('| 2026-02-23T08:15:00.000Z | mitigation | Rolled back \\| v2 |');
    expect(markdown).toContain('- [ ] **AI-2** alert on pool (owner: sre)');
    expect(markdown).toContain('child run gr_child');
    expect(markdown).not.toContain('ops@corp.example');
  });

  it('says what it does not know: open incident, no cause, no next steps', () => {
    const { json } = buildPostmortem({ ...inc, resolved_at: null, severity: null }, triageView({}), 'incident');
    expect(json).toMatchObject({
      severity: null, impact: 'Unrated incident on checkout: ongoing since 2026-02-23T08:00:00.000Z.',
      root_cause: expect.stringContaining('not determined'), triage_source: 'incident',
      action_items: [{ id: 'AI-1', title: expect.stringContaining('confirm the root cause') }],
    });
    expect(json).not.toHaveProperty('child_run_id');
  });
});
