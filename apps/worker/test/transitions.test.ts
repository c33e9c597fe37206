import { describe, expect, it } from '@jest/globals';
import type { RunRecord } from '@sup/contracts';
import { newRunRecord } from '@sup/queue';
import { afterStep, cancelled, claim, failed, requeued } from '../src/transitions.js';

const base = (): RunRecord => newRunRecord({ graph: 'release_check', agentId: 'sofiia', input: { service: 's', version: '1' } }, new Date(0));

describe('record transitions', () => {
  it('claim counts pick-ups but not wake-ups from a park', () => {
    const c1 = claim(base(), 'tok1', 'start_job', 1000, 'h:1');
    expect(c1.record).toMatchObject({ status: 'running', lease: 'tok1', attempt: 1, current_node: 'start_job' });
    expect(c1.events[0]).toMatchObject({ type: 'run_started', data: { worker: 'h:1', attempt: 1 } });
    const parked = { ...c1.record, status: 'waiting' as const };
    const c2 = claim(parked, 'tok2', 'poll_job', 2000, 'h:2');
    expect(c2.record).toMatchObject({ status: 'running', lease: 'tok2', attempt: 1 });
    // a wake-up from a park is not an event (every poll would add one)
    expect(c2.events).toEqual([]);
    // its job was moved back by BullMQ's stall detection (stalledCounter 1): a lost worker
    const crashed = claim(c1.record, 'tok3', 'poll_job', 3000, 'h:3', 1);
    expect(crashed.record).toMatchObject({ attempt: 2, takeovers: 1, stalls: 1 });
    expect(crashed.events[0]).toMatchObject({ type: 'run_resumed', data: { worker: 'h:3', attempt: 2, from: 'running', takeovers: 1 } });
    expect(claim(crashed.record, 'tok5', 'poll_job', 3500, 'h:5', 2).record).toMatchObject({ takeovers: 2, stalls: 2 });
    // a pass that ended without a stall (parked after a Redis refusal, a retried worker error) is
    // taken up again without counting a loss: the count so far stays
    const refusedPass = claim(crashed.record, 'tok6', 'poll_job', 3600, 'h:6', 1);
    expect(refusedPass.record).toMatchObject({ attempt: 3, takeovers: 1, stalls: 1 });
    expect(refusedPass.events[0]!.data).toEqual({ worker: 'h:6', attempt: 3, from: 'running' });
    const requeuedRun = claim({ ...c1.record, status: 'queued' }, 'tok4', 'poll_job', 4000, 'h:4');
    expect(requeuedRun.events[0]).toMatchObject({ type: 'run_resumed', data: { from: 'queued' } });
  });

  it('takeovers in a row are dropped by the commit of any node outcome, and only then', () => {
    const lost = { ...claim(base(), 'tok1', 'start_job', 1000, 'h:1').record, takeovers: 2 };
    const o = { node: 'start_job', visit: 1, toolCalls: 1, durationMs: 5, snapshot: { s: 1 } };
    const outcomes = [
      { ...o, kind: 'advanced' as const, next: 'poll_job' },
      { ...o, kind: 'waiting' as const, delayMs: 100, reason: 'retry', again: false },
      { ...o, kind: 'failed' as const, error: { code: 'x', message: 'x' } },
      { ...o, kind: 'succeeded' as const, result: 1 },
    ];
    for (const out of outcomes) {
      const t = afterStep(lost, out as Parameters<typeof afterStep>[1], 1000, 2000);
      expect([out.kind, t.record.takeovers, JSON.parse(JSON.stringify(t.record)).takeovers]).toEqual([out.kind, undefined, undefined]);
    }
    expect(failed(lost, { code: 'crash_loop', message: 'm' }, 3000).record.takeovers).toBe(2);
  });

  it('the first park of a node visit, every retry and a new reason are events; parking again to poll is not', () => {
    const wait = { kind: 'waiting', node: 'poll_job', visit: 1, delayMs: 3000, reason: 'job_running', again: false, toolCalls: 1, durationMs: 5, snapshot: {} } as const;
    const retry = { ...wait, reason: 'retry', again: true, attempt: 2, error: { code: 'gateway_unavailable', message: 'x', node: 'poll_job' } } as const;
    let rec = claim(base(), 't', 'poll_job', 0, 'h').record;
    const first = afterStep(rec, wait, 0, 10);
    expect(first.events).toEqual([expect.objectContaining({ type: 'node_waiting', node: 'poll_job', data: expect.objectContaining({ reason: 'job_running', delay_ms: 3000 }) })]);
    rec = first.record;
    const again = afterStep({ ...rec, status: 'running' }, { ...wait, again: true }, 20, 30);
    expect(again.events).toEqual([]);
    // the record says why it waits and until when
    expect(again.record).toMatchObject({ status: 'waiting', updated_at: new Date(30).toISOString(), waiting: { reason: 'job_running', until: new Date(3030).toISOString() } });
    // and stops saying it once the run leaves the waiting status (claimed, finished, cancelled)
    expect(claim(again.record, 't2', 'poll_job', 4000, 'h').record.waiting).toBeUndefined();
    expect(cancelled(again.record, 4000).record).toMatchObject({ status: 'cancelled' });
    expect(cancelled(again.record, 4000).record.waiting).toBeUndefined();
    expect(failed(again.record, { code: 'unknown_graph', message: 'x' }, 4000).record.waiting).toBeUndefined();
    expect(again.record.nodes).toEqual([expect.objectContaining({ node: 'poll_job', status: 'waiting', tool_calls: 2 })]);
    // what the node started elsewhere is named in its event and in the record while it waits
    const child = afterStep(rec, { ...wait, refs: { child_run_id: 'gr_child1' } }, 0, 10);
    expect(child.events[0]!.data).toMatchObject({ child_run_id: 'gr_child1' });
    expect(child.record.waiting).toEqual({ reason: 'job_running', until: new Date(3010).toISOString(), child_run_id: 'gr_child1' });
    // a retry says which attempt failed and why (the cause was only in the worker's log)
    expect(afterStep({ ...again.record, status: 'running' }, retry, 40, 50).events).toEqual([expect.objectContaining({
      type: 'node_retry', data: expect.objectContaining({ reason: 'retry', attempt: 2, code: 'gateway_unavailable', message: 'x' }),
    })]);
    // polling again after a retry, or a later visit of the node, is a first park (the engine's again: false)
    expect(afterStep({ ...again.record, status: 'running' }, wait, 40, 50).events.map((e) => e.type)).toEqual(['node_waiting']);
  });

  it('a polled node keeps one history entry per visit, adding calls and time', () => {
    let rec = claim(base(), 't', 'poll_job', 0, 'h').record;
    const wait = { kind: 'waiting', node: 'poll_job', visit: 1, delayMs: 100, reason: 'job_running', again: false, toolCalls: 1, durationMs: 5, snapshot: {} } as const;
    rec = afterStep(rec, wait, 0, 10).record;
    rec = afterStep({ ...rec, status: 'running' }, wait, 20, 30).record;
    const done = { kind: 'advanced', node: 'poll_job', visit: 1, output: {}, next: 'result', toolCalls: 1, durationMs: 7, snapshot: {} } as const;
    rec = afterStep({ ...rec, status: 'running' }, done, 40, 50).record;
    expect(rec.nodes).toEqual([expect.objectContaining({ node: 'poll_job', status: 'succeeded', tool_calls: 3, duration_ms: 17 })]);
    expect(rec.current_node).toBe('result');
  });

  it('failed records the node and error; requeue clears the lease', () => {
    const rec = claim(base(), 't', 'start_job', 0, 'h').record;
    const t = afterStep(rec, { kind: 'failed', node: 'start_job', visit: 1, error: { code: 'tool_failed', message: 'x', node: 'start_job' }, toolCalls: 1, durationMs: 1, snapshot: {} }, 0, 1);
    expect(t.record).toMatchObject({ status: 'failed', error: { code: 'tool_failed', node: 'start_job' }, lease: null });
    expect(t.events.map((e) => e.type)).toEqual(['node_failed', 'run_failed']);
    expect(requeued(rec, 5).record).toMatchObject({ status: 'queued', lease: null });
  });
});
