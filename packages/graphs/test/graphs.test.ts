import { describe, expect, it, jest } from '@jest/globals';
import {
  DETAIL_MAX, DETAILS_TOTAL, END, MAX_CHECKS, MAX_EVIDENCE, TIMELINE_MAX, type PostmortemDraftInput, getGraph, graphs, incidentTriage, jittered, makeNoopGraph, postmortemDraft, ReleaseCheckInput, releaseCheck, verdictOf,
  type CancelContext, type GraphDefinition, type NodeContext,
} from '../src/index.js';

/** Every edge names real nodes, every node can leave, and END is reachable from the start. */
function checkShape(g: GraphDefinition) {
  const names = new Set(g.nodes.map((n) => n.name));
  expect(names.has(g.start)).toBe(true);
  for (const e of g.edges) expect([names.has(e.from), e.to === END || names.has(e.to)]).toEqual([true, true]);
  for (const n of names) expect(g.edges.some((e) => e.from === n)).toBe(true);
}

describe('registry', () => {
  it('serves every graph by name and nothing for unknown names', () => {
    expect(Object.keys(graphs)).toEqual(['release_check', 'incident_triage', 'postmortem_draft']);
    expect(getGraph('release_check')).toBe(releaseCheck);
    expect(getGraph('incident_triage')).toBe(incidentTriage);
    expect(getGraph('postmortem_draft')).toBe(postmortemDraft);
    expect(getGraph('nope')).toBeUndefined();
    expect(getGraph('toString')).toBeUndefined();
    for (const g of Object.values(graphs)) checkShape(g);
  });

  it('gives every node of the served graphs a timeout; pure nodes are not retried', () => {
    for (const g of Object.values(graphs)) for (const n of g.nodes) expect([g.name, n.name, n.policy?.timeoutMs! > 0]).toEqual([g.name, n.name, true]);
    for (const [g, n] of [[incidentTriage, 'report'], [postmortemDraft, 'draft']] as const) expect(g.nodes.find((x) => x.name === n)!.policy?.retries).toBe(0);
  });

  it('lists the SPEC node order', () => {
    expect(incidentTriage.nodes.map((n) => n.name)).toEqual(['overview', 'logs', 'health', 'traces', 'slo_context', 'privacy', 'cost', 'report']);
    expect(postmortemDraft.nodes.map((n) => n.name)).toEqual(['load_incident', 'ensure_triage', 'draft', 'attach_artifacts', 'followups']);
  });
});

describe('release_check', () => {
  it('is start_job → poll_job → result, each with a policy', () => {
    expect(releaseCheck.nodes.map((n) => n.name)).toEqual(['start_job', 'poll_job', 'result']);
    expect(releaseCheck.edges.map((e) => `${e.from}>${e.to}`)).toEqual(['start_job>poll_job', 'poll_job>result', `result>${END}`]);
    expect(releaseCheck.nodes.every((n) => n.policy?.timeoutMs)).toBe(true);
  });

  it('validates input and defaults timeout_sec to 600', () => {
    expect(ReleaseCheckInput.parse({ service: 'a', version: '1' })).toEqual({ service: 'a', version: '1', timeout_sec: 600 });
    for (const bad of [{ version: '1' }, { service: '', version: '1' }, { service: 'a'.repeat(129), version: '1' }, { service: 'a', version: '1', timeout_sec: 0 },
      { service: 'a', version: '1', timeout_sec: 1.5 }, { service: 'a', version: '1', timeout_sec: 86_401 }, { service: 'a', version: '1', checks: [1] }]) {
      expect(ReleaseCheckInput.safeParse(bad).success).toBe(false);
    }
  });

  it('refuses input a job could never answer or the run never keep: more checks than a job may report, empty or repeated names, blank names', () => {
    const ok = { service: 'a', version: '1' };
    expect(ReleaseCheckInput.safeParse({ ...ok, checks: Array.from({ length: MAX_CHECKS }, (_, i) => `c${i}`) }).success).toBe(true);
    for (const [checks, why] of [
      [Array.from({ length: MAX_CHECKS + 1 }, (_, i) => `c${i}`), /at most|<=1000|too big/i],
      [[], /at least|>=1|too small/i],
      [['unit', 'unit'], /twice/],
      [[''], /too small|>=1|at least/i],
      [['x'.repeat(129)], /too big|<=128|at most/i],
    ] as const) {
      const r = ReleaseCheckInput.safeParse({ ...ok, checks });
      expect(r.success).toBe(false);
      expect(r.error?.issues[0]?.message).toMatch(why);
    }
    expect(ReleaseCheckInput.safeParse({ service: '   ', version: '1' }).error?.issues[0]?.message).toBe('must not be blank');
  });

  it('poll_job starts its clock at the first poll and keeps it across parks', async () => {
    const poll = releaseCheck.nodes[1]!;
    const ctx = (state: unknown, t: number) => ({
      runId: 'gr_p', input: { service: 's', version: 'v', timeout_sec: 600 }, outputs: { start_job: { job_id: 'j' } }, state, now: () => t,
      settings: { jobPollIntervalMs: 3_000 }, tools: { call: async () => ({ status: 'running' }) },
    }) as unknown as NodeContext<ReleaseCheckInput>;
    const first = await poll.run(ctx(undefined, 5_000));
    // the interval spread ±10 %, seeded by run id and poll number
    expect(first).toEqual({ wait: { delayMs: jittered(3_000, 'gr_p:1'), state: { first_poll_ms: 5_000, polls: 1, job_id: 'j' }, reason: 'job_running' } });
    const second = await poll.run(ctx({ first_poll_ms: 5_000, polls: 1 }, 8_000));
    expect(second).toMatchObject({ wait: { state: { first_poll_ms: 5_000, polls: 2 } } });
  });

  it('poll_job keeps each check detail as text of at most DETAIL_MAX characters', async () => {
    const poll = releaseCheck.nodes[1]!;
    const checks = [{ name: 'big', status: 'fail', detail: 'z'.repeat(DETAIL_MAX + 500) }, { name: 'obj', status: 'pass', detail: { n: 1 } }, { name: 'none', status: 'pass' }];
    const ctx = {
      runId: 'gr_p', input: { service: 's', version: 'v', timeout_sec: 600 }, outputs: { start_job: { job_id: 'j' } }, state: undefined, now: () => 1,
      settings: { jobPollIntervalMs: 3_000 }, tools: { call: async () => ({ status: 'failed', checks }) },
    } as unknown as NodeContext<ReleaseCheckInput>;
    const out = (await poll.run(ctx)) as { output: { checks: Array<{ name: string; detail: string }> } };
    expect(out.output.checks.map((c) => [c.name, c.detail.length])).toEqual([['big', DETAIL_MAX + 1], ['obj', 7], ['none', 0]]);
    expect(out.output.checks[0]!.detail.endsWith('z…')).toBe(true);
  });

  it('poll_job clips check names and statuses; a job_id over 256 characters is malformed', async () => {
    const poll = releaseCheck.nodes[1]!;
    const ctx = {
      runId: 'gr_p', input: { service: 's', version: 'v', timeout_sec: 600 }, outputs: { start_job: { job_id: 'j' } }, state: undefined, now: () => 1,
      settings: { jobPollIntervalMs: 3_000 }, tools: { call: async () => ({ status: 'failed', checks: [{ name: 'n'.repeat(10_000), status: 's'.repeat(10_000) }] }) },
    } as unknown as NodeContext<ReleaseCheckInput>;
    const out = (await poll.run(ctx)) as { output: { checks: Array<{ name: string; status: string }> } };
    expect([out.output.checks[0]!.name.length, out.output.checks[0]!.status.length]).toEqual([201, 65]);
    const start = releaseCheck.nodes[0]!;
    const huge = { ...ctx, tools: { call: async () => ({ job_id: 'j'.repeat(257) }) } } as unknown as NodeContext<ReleaseCheckInput>;
    await expect(start.run(huge)).rejects.toMatchObject({ code: 'malformed_result', details: { issues: [{ path: 'job_id' }], issue_count: 1 } });
  });

  it('load_incident keeps at most TIMELINE_MAX timeline entries, each clipped', async () => {
    const load = postmortemDraft.nodes[0]!;
    const timeline = Array.from({ length: TIMELINE_MAX + 100 }, (_, i) => (i % 2 ? 't'.repeat(5_000) : { ts: 'x'.repeat(500), type: 'y'.repeat(500), text: 'z'.repeat(5_000) }));
    const ctx = {
      runId: 'gr_p', input: { incident_id: 'inc_1' }, outputs: {}, state: undefined, now: () => 1,
      tools: { call: async () => ({ incident: { id: 'inc_1', title: 'T'.repeat(5_000), service: 'billing', timeline } }) },
    } as unknown as NodeContext<PostmortemDraftInput>;
    const out = (await load.run(ctx)) as { output: { title: string; timeline: Array<{ ts: string | null; type: string; text: string }> } };
    expect(out.output.timeline).toHaveLength(TIMELINE_MAX);
    expect(out.output.title.length).toBe(301);
    expect(out.output.timeline.slice(0, 2).map((t) => [t.ts?.length ?? null, t.type.length, t.text.length])).toEqual([[65, 65, 501], [null, 4, 501]]);
  });

  it('load_incident checks only the timeline entries it keeps, and keeps the incident\'s triage as its bounded view', async () => {
    const load = postmortemDraft.nodes[0]!;
    const junk = Array.from({ length: 1_000_000 }, () => ({ text: { not: 'text' } }));
    const triage = { summary: 's'.repeat(10_000), evidence: Array.from({ length: 100 }, () => 'e'.repeat(5_000)), next_steps: [{ title: 't'.repeat(1_000), owner: 'o' }], blob: 'b'.repeat(100_000) };
    const ctx = (timeline: unknown[]) => ({
      runId: 'gr_p', input: { incident_id: 'inc_1' }, outputs: {}, state: undefined, now: () => 1,
      tools: { call: async () => ({ incident: { id: 'inc_1', service: 'billing', timeline, triage } }) },
    }) as unknown as NodeContext<PostmortemDraftInput>;
    // entries past TIMELINE_MAX are dropped unchecked; a bad one within them is reported
    const ok = (await load.run(ctx([...Array.from({ length: TIMELINE_MAX }, () => 'fine'), ...junk]))) as { output: { timeline: unknown[]; triage: Record<string, unknown> } };
    expect(ok.output.timeline).toHaveLength(TIMELINE_MAX);
    await expect(load.run(ctx(junk))).rejects.toMatchObject({ code: 'malformed_result', details: { issue_count: expect.any(Number) } });
    const kept = ok.output.triage as { summary: string; evidence: string[]; next_steps: Array<{ title: string }> };
    expect(Object.keys(kept).sort()).toEqual(['evidence', 'next_steps', 'severity', 'summary', 'suspected_cause']);
    expect([kept.summary.length, kept.evidence.length, kept.evidence[0]!.length, kept.next_steps[0]!.title.length]).toEqual([2_001, MAX_EVIDENCE, 501, 301]);
    expect(JSON.stringify(kept).length).toBeLessThan(20_000);
  });

  it('poll_job shares DETAILS_TOTAL characters among the checks\' details, and refuses more than MAX_CHECKS checks unread', async () => {
    const poll = releaseCheck.nodes[1]!;
    const ctx = (checks: unknown[]) => ({
      runId: 'gr_p', input: { service: 's', version: 'v', timeout_sec: 600 }, outputs: { start_job: { job_id: 'j' } }, state: undefined, now: () => 1,
      settings: { jobPollIntervalMs: 3_000 }, tools: { call: async () => ({ status: 'failed', checks }) },
    }) as unknown as NodeContext<ReleaseCheckInput>;
    const many = Array.from({ length: MAX_CHECKS }, (_, i) => ({ name: `c${i}`, status: 'fail', detail: 'd'.repeat(5_000) }));
    const out = (await poll.run(ctx(many))) as { output: { checks: Array<{ detail: string }> } };
    expect(out.output.checks).toHaveLength(MAX_CHECKS);
    expect(out.output.checks[0]!.detail.length).toBe(DETAILS_TOTAL / MAX_CHECKS + 1);
    await expect(poll.run(ctx(Array.from({ length: 2_000_000 }, () => 1)))).rejects.toMatchObject({
      code: 'malformed_result', message: 'job_orchestrator_tool.get_task returned a malformed result for job j (checks: Too big: expected array to have <=1000 items)',
      details: { issue_count: 1, issues: [{ path: 'checks' }] },
    });
  });

  describe('onCancel', () => {
    /** Every call onCancel made, in order, as [via, tool, action, params]. */
    const cancel = async (outputs: Record<string, unknown>, node: string | null) => {
      const seen: unknown[][] = [];
      const caller = (via: string, answer: Record<string, unknown>) =>
        ({ call: async (t: string, a: string, p: Record<string, unknown>) => (seen.push([via, t, a, p]), answer) });
      const ctx = { runId: 'gr_x', input: { service: 's', version: 'v', timeout_sec: 600 }, outputs, node, state: { first_poll_ms: 1, polls: 2 },
        tools: caller('tools', { job_id: 'job_7', status: 'cancelled' }), resend: caller('resend', { job_id: 'job_resent', queue: 'ci' }),
        runs: { start: jest.fn(), get: jest.fn(), cancel: jest.fn() }, signal: new AbortController().signal } as unknown as CancelContext<ReleaseCheckInput>;
      await releaseCheck.onCancel!(ctx);
      return seen;
    };
    it('cancels the orchestrator job once start_job has a job_id and poll_job has not seen it end', async () => {
      expect(await cancel({ start_job: { job_id: 'job_7' } }, 'poll_job')).toEqual([['tools', 'job_orchestrator_tool', 'cancel_task', { job_id: 'job_7' }]]);
    });
    it('cancelled in start_job (its call aborted): the same start_task again names the job, which is cancelled', async () => {
      expect(await cancel({}, 'start_job')).toEqual([
        ['resend', 'job_orchestrator_tool', 'start_task', { task: 'release_check', service: 's', version: 'v' }],
        ['tools', 'job_orchestrator_tool', 'cancel_task', { job_id: 'job_resent' }],
      ]);
    });
    it('calls nothing after the job finished, or for a run that was in no node', async () => {
      expect(await cancel({ start_job: { job_id: 'job_7' }, poll_job: { job_id: 'job_7', status: 'succeeded', checks: [] } }, 'result')).toEqual([]);
      expect(await cancel({}, null)).toEqual([]);
    });
  });

  describe('verdictOf', () => {
    const input = { service: 'api', version: '2.0', timeout_sec: 600 };
    const pass = (name: string) => ({ name, status: 'pass', detail: '' });
    it('passes only when the job succeeded and every check passed', () => {
      expect(verdictOf(input, { job_id: 'j', status: 'succeeded', checks: [pass('a'), pass('b')] })).toMatchObject({ verdict: 'pass', failed_checks: [] });
      expect(verdictOf(input, { job_id: 'j', status: 'cancelled', checks: [pass('a')] })).toMatchObject({ verdict: 'fail', job_status: 'cancelled', summary: expect.stringContaining('cancelled') });
      expect(verdictOf(input, { job_id: 'j', status: 'succeeded', checks: [pass('a'), { name: 'b', status: 'fail', detail: 'x' }] }))
        .toMatchObject({ verdict: 'fail', failed_checks: ['b'] });
    });
    it('counts a requested check the job did not report as failed', () => {
      const v = verdictOf({ ...input, checks: ['a', 'b'] }, { job_id: 'j', status: 'succeeded', checks: [pass('a')] });
      expect(v).toMatchObject({ verdict: 'fail', failed_checks: ['b'], checks: [pass('a'), { name: 'b', status: 'missing' }] });
    });
  });
});

describe('makeNoopGraph', () => {
  it('builds a linear graph of n tool-free nodes', async () => {
    const g = makeNoopGraph('noop', 3);
    checkShape(g);
    expect(g.nodes.map((n) => n.name)).toEqual(['node_0', 'node_1', 'node_2']);
    expect(g.edges.at(-1)).toEqual({ from: 'node_2', to: END });
    expect(await g.nodes[1]!.run({} as NodeContext)).toEqual({ output: { i: 1 } });
    expect(graphs).not.toHaveProperty('noop');
    expect(() => makeNoopGraph('x', 0)).toThrow(/positive integer/);
  });
});
