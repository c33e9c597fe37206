import { describe, expect, it } from '@jest/globals';
import type { RunRecord } from '@sup/contracts';
import { newRunRecord } from '@sup/queue';
import { afterStep, claim, requeued } from '../src/transitions.js';

const base = (): RunRecord => newRunRecord({ graph: 'release_check', agentId: 'sofiia', input: { service: 's', version: '1' } }, new Date(0));

describe('record transitions', () => {
  it('claim counts pick-ups but not wake-ups from a park', () => {
    const c1 = claim(base(), 'tok1', 'start_job', 1000, 'h:1');
    expect(c1.record).toMatchObject({ status: 'running', lease: 'tok1', attempt: 1, current_node: 'start_job' });
    expect(c1.events[0]).toMatchObject({ type: 'run_started', data: { worker: 'h:1', attempt: 1 } });
    const parked = { ...c1.record, status: 'waiting' as const };
    const c2 = claim(parked, 'tok2', 'poll_job', 2000, 'h:2');
    expect(c2.record.attempt).toBe(1);
    expect(c2.events[0]!.type).toBe('run_resumed');
    const crashed = claim(c1.record, 'tok3', 'poll_job', 3000, 'h:3');
    expect(crashed.record.attempt).toBe(2);
  });

  it('a polled node keeps one history entry per visit, adding calls and time', () => {
    let rec = claim(base(), 't', 'poll_job', 0, 'h').record;
    const wait = { kind: 'waiting', node: 'poll_job', visit: 1, delayMs: 100, reason: 'job_running', toolCalls: 1, durationMs: 5, snapshot: {} } as const;
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
