import { describe, expect, it } from '@jest/globals';
import { ToolError } from '@sup/contracts';
import { END, type NodeDef } from '@sup/graphs';
import type { AnyMachineSnapshot } from 'xstate';
import { compileGraph, step, type StepOutcome } from '../src/index.js';
import { persistSnapshot } from '../src/persist.js';
import { fakeDeps, graph } from './helpers.js';

const out = (name: string, fn: NodeDef['run'], policy?: NodeDef['policy']): NodeDef => ({ name, description: name, run: fn, ...(policy ? { policy } : {}) });

/**
 * Every machine snapshot a run goes through, with what step() persisted for it: a graph that
 * advances, parks (polls), retries a failure, then succeeds — and one that fails.
 */
async function snapshotsOf(nodes: NodeDef[], edges: Array<{ from: string; to: string }>): Promise<Array<{ live: AnyMachineSnapshot; o: StepOutcome }>> {
  const g = compileGraph(graph(nodes, edges));
  const seen: Array<{ live: AnyMachineSnapshot; o: StepOutcome }> = [];
  const { deps } = fakeDeps();
  let snapshot: unknown = null;
  for (let i = 0; i < 20; i++) {
    const o = await step(g, snapshot, { who: 'x' }, deps);
    // the live snapshot behind the persisted one, as the next step of the pass would go on from
    const live = o.snapshot === null ? null : g.machine.restoreSnapshot!(JSON.parse(JSON.stringify(o.snapshot)), g.scope);
    if (live) seen.push({ live, o });
    if (o.kind === 'succeeded' || o.kind === 'failed') return seen;
    snapshot = o.snapshot;
  }
  throw new Error('run did not finish');
}

describe('persistSnapshot', () => {
  let polls = 0;
  let fails = 0;
  const nodes = [
    out('a', async () => ({ output: { n: 1, list: [1, { deep: [2] }], none: null } })),
    out('b', async ({ state }) => (polls++ < 2 ? { wait: { delayMs: 10, state: { polled: polls, prev: state ?? null }, reason: 'poll' } } : { output: 'done' })),
    out('c', async () => {
      if (fails++ < 1) throw new ToolError('upstream', 'flaky', true);
      return { output: { ok: true } };
    }, { retries: 2, backoffMs: 5 }),
  ];

  it('is the object xstate persists, key for key and in the same order, at every kind of step', async () => {
    polls = 0;
    fails = 0;
    const seen = await snapshotsOf(nodes, [{ from: 'a', to: 'b' }, { from: 'b', to: 'c' }, { from: 'c', to: END }]);
    expect(seen.map(({ o }) => o.kind)).toEqual(['advanced', 'waiting', 'waiting', 'advanced', 'waiting', 'succeeded']);
    for (const { live, o } of seen) {
      const ours = persistSnapshot(live.machine, live);
      const theirs = live.machine.getPersistedSnapshot(live);
      expect(JSON.stringify(ours)).toBe(JSON.stringify(theirs));
      expect(Object.keys(ours)).toEqual(Object.keys(theirs));
      // and what step() returned is that too
      expect(JSON.stringify(o.snapshot)).toBe(JSON.stringify(theirs));
    }
  });

  it('is xstate\'s for a failed run', async () => {
    const seen = await snapshotsOf([out('a', async () => { throw new ToolError('bad', 'no', false); })], [{ from: 'a', to: END }]);
    expect(seen.map(({ o }) => o.kind)).toEqual(['failed']);
    const { live, o } = seen[0]!;
    expect(JSON.stringify(o.snapshot)).toBe(JSON.stringify(live.machine.getPersistedSnapshot(live)));
  });

  it('leaves a context holding something shaped as an actor reference to xstate (which replaces it)', async () => {
    const ref = { sessionId: 's1', send: 'x', ref: 'y', id: 'child' };
    const g = compileGraph(graph([out('a', async () => ({ output: { nested: [ref] } })), out('b', async () => ({ output: 1 }))], [{ from: 'a', to: 'b' }, { from: 'b', to: END }]));
    const live = g.machine.transition(g.machine.getInitialSnapshot(g.scope, { input: {} }), { type: 'DONE', run: { type: 'output', output: { nested: [ref] } } }, g.scope);
    const theirs = JSON.stringify(g.machine.getPersistedSnapshot(live));
    expect(theirs).toMatch(/"nested":\[\{"xstate\$\$type":1,"id":"child"\}\]/);
    expect(JSON.stringify(persistSnapshot(g.machine, live))).toBe(theirs);
    const o = await step(g, null, {}, fakeDeps().deps);
    expect(JSON.stringify(o.snapshot)).toBe(theirs);
  });

  it('throws on a context nested too deep for the stack, as xstate\'s does', () => {
    const g = compileGraph(graph([out('a', async () => ({ output: 1 }))], [{ from: 'a', to: END }]));
    let deep: unknown = 'bottom';
    for (let i = 0; i < 50_000; i++) deep = [deep];
    const live = g.machine.getInitialSnapshot(g.scope, { input: { deep } });
    expect(() => g.machine.getPersistedSnapshot(live)).toThrow(RangeError);
    expect(() => persistSnapshot(g.machine, live)).toThrow(RangeError);
  });
});
