import { afterEach, describe, expect, it, jest } from '@jest/globals';
import { ToolError } from '@sup/contracts';
import { END, makeNoopGraph, type NodeDef } from '@sup/graphs';
import { callKey, compileGraph, MAX_RETRY_AFTER_MS, nodeOf, progressOf, step, StepAborted, type StepOutcome } from '../src/index.js';
import { drive, fakeDeps, graph, viaJson } from './helpers.js';

const out = (name: string, fn: NodeDef['run']): NodeDef => ({ name, description: name, run: fn });
const kinds = (os: StepOutcome[]) => os.map((o) => `${o.kind}:${o.node}`);

describe('compileGraph', () => {
  it('builds one state per node plus end and failed', () => {
    const g = compileGraph(graph([out('a', async () => ({ output: 1 })), out('b', async () => ({ output: 2 }))], [{ from: 'a', to: 'b' }, { from: 'b', to: END }]));
    expect(Object.keys(g.machine.config.states!)).toEqual(['a', 'b', END, '__failed__']);
  });

  it('rejects a definition with unknown nodes, bad names or dead ends', () => {
    const a = out('a', async () => ({ output: 1 }));
    expect(() => compileGraph(graph([a], [{ from: 'a', to: 'nope' }]))).toThrow(/a -> nope names an unknown node/);
    expect(() => compileGraph(graph([a, out('b', async () => ({ output: 1 }))], [{ from: 'a', to: END }]))).toThrow(/node b has no outgoing edge/);
    expect(() => compileGraph(graph([out('a.b', async () => ({ output: 1 }))], [{ from: 'a.b', to: END }]))).toThrow(/bad node name/);
    expect(() => compileGraph(graph([a], [{ from: 'a', to: END }], { start: 'zz' }))).toThrow(/start node zz/);
  });
});

describe('step', () => {
  it('runs a linear graph one node per step, passing outputs along', async () => {
    const g = compileGraph(graph(
      [
        out('a', async () => ({ output: { n: 1 } })),
        out('b', async ({ outputs, input }) => ({ output: { n: (outputs.a as { n: number }).n + (input.add as number) } })),
        out('c', async ({ outputs }) => ({ output: { total: (outputs.b as { n: number }).n * 10 } })),
      ],
      [{ from: 'a', to: 'b' }, { from: 'b', to: 'c' }, { from: 'c', to: END }],
    ));
    const { deps } = fakeDeps();
    expect(nodeOf(g, null)).toBe('a');
    const os = await drive(g, { add: 2 }, deps);
    expect(kinds(os)).toEqual(['advanced:a', 'advanced:b', 'succeeded:c']);
    expect(os[0]).toMatchObject({ kind: 'advanced', next: 'b', visit: 1, output: { n: 1 }, toolCalls: 0 });
    expect(os[2]).toMatchObject({ kind: 'succeeded', output: { total: 30 }, result: { total: 30 } });
    expect(nodeOf(g, viaJson(os[1]!.snapshot))).toBe('c');
    expect(nodeOf(g, viaJson(os[2]!.snapshot))).toBeNull();
  });

  it('persists no child actor in any snapshot, and restoring one runs nothing by itself', async () => {
    const runs = { a: 0, b: 0 };
    const g = compileGraph(graph(
      [out('a', async () => ({ output: ++runs.a })), out('b', async () => ({ output: ++runs.b }))],
      [{ from: 'a', to: 'b' }, { from: 'b', to: END }],
    ));
    const { deps } = fakeDeps();
    const os = await drive(g, {}, deps);
    for (const o of os) expect((viaJson(o.snapshot) as { children: object }).children).toEqual({});
    expect(runs).toEqual({ a: 1, b: 1 });
  });

  it('goes on from the snapshot object it returned exactly as from the same snapshot read back from Redis', async () => {
    const def = graph(
      [
        out('a', async () => ({ output: 1 })),
        out('b', async ({ state }) => (state === undefined ? { wait: { delayMs: 5, state: 's', reason: 'poll' } } : { output: state })),
        out('c', async ({ outputs }) => ({ output: [outputs.a, outputs.b] })),
      ],
      [{ from: 'a', to: 'b' }, { from: 'b', to: 'c' }, { from: 'c', to: END }],
    );
    const g = compileGraph(def);
    const { deps } = fakeDeps();
    const viaRedis = await drive(g, {}, deps);
    const inMemory: StepOutcome[] = [];
    let snap: unknown = null;
    do {
      inMemory.push(await step(g, snap, {}, deps));
      snap = inMemory.at(-1)!.snapshot; // no JSON round trip: the worker's path within one job pass
    } while (inMemory.at(-1)!.kind === 'advanced' || inMemory.at(-1)!.kind === 'waiting');
    expect(kinds(inMemory)).toEqual(['advanced:a', 'waiting:b', 'advanced:b', 'succeeded:c']);
    expect(inMemory.map((o) => viaJson(o.snapshot))).toEqual(viaRedis.map((o) => viaJson(o.snapshot)));
    expect(inMemory.at(-1)).toMatchObject({ kind: 'succeeded', result: [1, 's'] });
  });

  it('resumes a snapshot persisted by the previous engine (actor-based, with `children`)', async () => {
    const g = compileGraph(makeNoopGraph('noop3', 3));
    // written by the engine before pure transitions (2026-11-27), for this graph after node_0
    const old = {
      status: 'active', value: { node_1: 'ready' }, historyValue: {},
      context: { input: {}, outputs: { node_0: { i: 0 } }, visits: { node_0: 1, node_1: 1 }, park: 0, retries: 0, delayMs: 0, reason: '', error: null, last: 'node_0' },
      children: {},
    };
    const { deps } = fakeDeps();
    const o1 = await step(g, old, {}, deps);
    expect(o1).toMatchObject({ kind: 'advanced', node: 'node_1', visit: 1, next: 'node_2' });
    const o2 = await step(g, viaJson(o1.snapshot), {}, deps);
    expect(o2).toMatchObject({ kind: 'succeeded', node: 'node_2', result: { i: 2 } });
    expect((viaJson(o2.snapshot) as { context: { visits: object } }).context.visits).toEqual({ node_0: 1, node_1: 1, node_2: 1 });
  });

  it('follows the first conditional edge whose guard holds, with the new output visible', async () => {
    const g = compileGraph(graph(
      [out('pick', async ({ input }) => ({ output: { n: input.n } })), out('big', async () => ({ output: 'big' })), out('small', async () => ({ output: 'small' }))],
      [
        { from: 'pick', to: 'big', when: ({ outputs }) => (outputs.pick as { n: number }).n > 5, label: 'n > 5' },
        { from: 'pick', to: 'small' },
        { from: 'big', to: END },
        { from: 'small', to: END },
      ],
    ));
    const { deps } = fakeDeps();
    expect(kinds(await drive(g, { n: 9 }, deps))).toEqual(['advanced:pick', 'succeeded:big']);
    expect(kinds(await drive(g, { n: 1 }, deps))).toEqual(['advanced:pick', 'succeeded:small']);
  });

  it('counts visits on a loop and fails with no_edge when no edge matches', async () => {
    const loop = compileGraph(graph(
      [out('inc', async ({ outputs }) => ({ output: ((outputs.inc as number | undefined) ?? 0) + 1 }))],
      [{ from: 'inc', to: 'inc', when: ({ outputs }) => (outputs.inc as number) < 3 }, { from: 'inc', to: END }],
    ));
    const { deps } = fakeDeps();
    const os = await drive(loop, {}, deps);
    expect(os.map((o) => o.visit)).toEqual([1, 2, 3]);
    expect(os.at(-1)).toMatchObject({ kind: 'succeeded', result: 3 });

    const stuck = compileGraph(graph([out('a', async () => ({ output: 1 }))], [{ from: 'a', to: END, when: () => false }]));
    const [o] = await drive(stuck, {}, deps);
    expect(o).toMatchObject({ kind: 'failed', error: { code: 'no_edge', node: 'a' } });
  });

  it('a park for another reason than the last one is not "again" (a retry, then polls)', async () => {
    let tries = 0;
    const g = compileGraph(graph(
      [{ name: 'w', description: 'w', policy: { retries: 1, backoffMs: 100 }, run: async ({ state }) => {
        tries++;
        if (tries === 1) throw new ToolError('upstream_5xx', 'flaky', true);
        const polls = ((state as { polls?: number } | undefined)?.polls ?? 0) + 1;
        return polls < 3 ? { wait: { delayMs: 100, state: { polls }, reason: 'poll' } } : { output: { polls } };
      } }],
      [{ from: 'w', to: END }],
    ));
    const os = await drive(g, {}, fakeDeps().deps);
    expect(os.map((o) => (o.kind === 'waiting' ? `${o.reason}:${o.again}` : o.kind))).toEqual(['retry:false', 'poll:false', 'poll:true', 'succeeded']);
  });

  it('parks a node that asks to wait, carrying its state, with a new idempotency key per poll', async () => {
    const g = compileGraph(graph(
      [out('w', async ({ state, tools }) => {
        await tools.call('job_tool', 'get', {});
        const polls = ((state as { polls?: number } | undefined)?.polls ?? 0) + 1;
        return polls < 3 ? { wait: { delayMs: 100 * polls, state: { polls }, reason: 'poll' } } : { output: { polls } };
      })],
      [{ from: 'w', to: END }],
    ));
    const { deps, calls } = fakeDeps();
    const os = await drive(g, {}, deps);
    expect(os.map((o) => [o.kind, o.kind === 'waiting' ? o.delayMs : null, o.toolCalls])).toEqual([['waiting', 100, 1], ['waiting', 200, 1], ['succeeded', null, 1]]);
    expect(os[0]).toMatchObject({ reason: 'poll', visit: 1 });
    // the second park wakes from the first and parks again for the same reason: the next poll
    expect(os.map((o) => o.kind === 'waiting' && o.again)).toEqual([false, true, false]);
    expect(os[2]).toMatchObject({ result: { polls: 3 } });
    expect(calls.map((c) => c.idempotencyKey)).toEqual(['gr_test:w:1.0:0', 'gr_test:w:1.1:0', 'gr_test:w:1.2:0']);
    expect(calls[0]).toMatchObject({ tool: 'job_tool', action: 'get', node: 'w' });
  });

  it('gives the same idempotency keys when a step is re-run from the same snapshot', async () => {
    const g = compileGraph(graph(
      [out('a', async () => ({ output: 1 })), out('b', async ({ tools }) => {
        await tools.call('t', 'one', {});
        await tools.call('t', 'two', {});
        return { output: 2 };
      })],
      [{ from: 'a', to: 'b' }, { from: 'b', to: END }],
    ));
    const { deps, calls } = fakeDeps();
    const first = await step(g, null, {}, deps);
    const saved = JSON.stringify(first.snapshot);
    const r1 = await step(g, JSON.parse(saved), {}, deps); // the worker "crashed" after this one
    const r2 = await step(g, JSON.parse(saved), {}, deps);
    expect(r1).toMatchObject({ kind: 'succeeded', toolCalls: 2 });
    expect(JSON.stringify(r2.snapshot)).toBe(JSON.stringify(r1.snapshot));
    expect(calls.map((c) => c.idempotencyKey)).toEqual(['gr_test:b:1.0:0', 'gr_test:b:1.0:1', 'gr_test:b:1.0:0', 'gr_test:b:1.0:1']);
  });

  it('fails at once on a non-retryable ToolError, naming node and attempts', async () => {
    const g = compileGraph(graph(
      [{ name: 'a', description: 'a', policy: { retries: 5 }, run: async () => { throw new ToolError('forbidden', 'gateway said 403', false, { status: 403 }); } }],
      [{ from: 'a', to: END }],
    ));
    const [o] = await drive(g, {}, fakeDeps().deps);
    expect(o).toMatchObject({ kind: 'failed', node: 'a', error: { code: 'forbidden', message: 'gateway said 403', node: 'a', details: { status: 403, attempts: 1 } } });
  });

  it('keeps a tool error\'s own attempt count (its HTTP attempts) as call_attempts beside the node\'s attempts', async () => {
    const g = compileGraph(graph(
      [{ name: 'a', description: 'a', policy: { retries: 0 }, run: async () => { throw new ToolError('gateway_unavailable', 'HTTP 502 after 4 attempt(s)', false, { status: 502, attempts: 4 }); } }],
      [{ from: 'a', to: END }],
    ));
    const [o] = await drive(g, {}, fakeDeps().deps);
    expect(o).toMatchObject({ kind: 'failed', error: { code: 'gateway_unavailable', details: { status: 502, attempts: 1, call_attempts: 4 } } });
  });

  it('fails with node_error, message only, when a node has a bug', async () => {
    const g = compileGraph(graph([out('a', async () => { throw new TypeError('x is undefined'); })], [{ from: 'a', to: END }]));
    const [o] = await drive(g, {}, fakeDeps().deps);
    expect(o).toMatchObject({ kind: 'failed', error: { code: 'node_error', message: 'x is undefined', node: 'a' } });
    expect(JSON.stringify(o)).not.toMatch(/at .*\.ts/);
  });

  it('fails with node_error when an edge guard throws, keeping the old snapshot', async () => {
    const g = compileGraph(graph(
      [out('a', async () => ({ output: 1 })), out('b', async () => ({ output: 2 }))],
      [{ from: 'a', to: 'b' }, { from: 'b', to: END, when: () => { throw new Error('guard bug'); } }],
    ));
    const { deps } = fakeDeps();
    const first = await step(g, null, {}, deps);
    const o = await step(g, viaJson(first.snapshot), {}, deps);
    expect(o).toMatchObject({ kind: 'failed', node: 'b', error: { code: 'node_error', message: expect.stringContaining('guard bug'), node: 'b' } });
    expect(o.snapshot).toEqual(viaJson(first.snapshot));
  });

  it('fails with node_error, not a rejected step, when a node output cannot be kept (nested too deep to copy)', async () => {
    let deep: unknown = 'bottom';
    for (let i = 0; i < 50_000; i++) deep = [deep];
    const g = compileGraph(graph([out('a', async () => ({ output: 1 })), out('b', async () => ({ output: { deep } }))], [{ from: 'a', to: 'b' }, { from: 'b', to: END }]));
    const { deps } = fakeDeps();
    const first = await step(g, null, {}, deps);
    const o = await step(g, viaJson(first.snapshot), {}, deps);
    expect(o).toMatchObject({ kind: 'failed', node: 'b', error: { code: 'node_error', message: expect.stringMatching(/call stack/), node: 'b' } });
    expect(o.snapshot).toEqual(viaJson(first.snapshot));
  });

  it('uses graph.result for the run result and passes deps through to the node', async () => {
    const g = compileGraph(graph(
      [out('a', async ({ runs, settings, now, runId, agentId }) => ({ output: { child: (await runs.start('x', {})).run_id, poll: settings.jobPollIntervalMs, t: now(), runId, agentId } }))],
      [{ from: 'a', to: END }],
      { result: ({ outputs, input }) => ({ wrapped: outputs.a, input }) },
    ));
    const [o] = await drive(g, { k: 'v' }, fakeDeps().deps);
    expect(o).toMatchObject({ kind: 'succeeded', result: { wrapped: { child: 'gr_child', poll: 3_000, t: 1_000_000, runId: 'gr_test', agentId: 'tester' }, input: { k: 'v' } } });
  });

  it('keeps concurrent steps of one compiled graph apart', async () => {
    const g = compileGraph(graph([out('a', async ({ tools, input }) => ({ output: await tools.call('t', 'x', { who: input.who }) }))], [{ from: 'a', to: END }]));
    const one = fakeDeps(async (req) => ({ echo: req.params.who }), { runId: 'gr_one' });
    const two = fakeDeps(async (req) => ({ echo: req.params.who }), { runId: 'gr_two' });
    const [o1, o2] = await Promise.all([step(g, null, { who: 1 }, one.deps), step(g, null, { who: 2 }, two.deps)]);
    expect([o1.kind === 'succeeded' && o1.result, o2.kind === 'succeeded' && o2.result]).toEqual([{ echo: 1 }, { echo: 2 }]);
    expect([one.calls[0]!.idempotencyKey, two.calls[0]!.idempotencyKey]).toEqual(['gr_one:a:1.0:0', 'gr_two:a:1.0:0']);
  });

  it('refuses to step a finished run or a snapshot of another graph', async () => {
    const g = compileGraph(graph([out('a', async () => ({ output: 1 }))], [{ from: 'a', to: END }]));
    const [o] = await drive(g, {}, fakeDeps().deps);
    await expect(step(g, viaJson(o!.snapshot), {}, fakeDeps().deps)).rejects.toThrow(/already finished/);
    const renamed = { ...(viaJson(o!.snapshot) as object), status: 'active', value: { gone: 'ready' } };
    await expect(step(g, renamed, {}, fakeDeps().deps)).rejects.toThrow(/does not have/);
  });

  it('retries a retryable failure as a park with the same idempotency key, then goes on', async () => {
    let n = 0;
    const g = compileGraph(graph(
      [{ name: 'a', description: 'a', policy: { retries: 2, backoffMs: 100 }, run: async ({ tools }) => {
        await tools.call('t', 'x', {});
        if (++n < 3) throw new ToolError('upstream_5xx', 'bad gateway', true);
        return { output: n };
      } }],
      [{ from: 'a', to: END }],
    ));
    const { deps, calls } = fakeDeps();
    const os = await drive(g, {}, deps);
    expect(os.map((o) => (o.kind === 'waiting' ? [o.reason, o.delayMs, o.attempt, o.error?.code] : o.kind))).toEqual([
      ['retry', 100, 1, 'upstream_5xx'],
      ['retry', 200, 2, 'upstream_5xx'],
      'succeeded',
    ]);
    expect(os.map((o) => o.kind === 'waiting' && o.again)).toEqual([false, true, false]);
    expect(os.at(-1)).toMatchObject({ result: 3 });
    expect(new Set(calls.map((c) => c.idempotencyKey))).toEqual(new Set(['gr_test:a:1.0:0']));
  });

  it('progressOf names the visit and park an interrupted node\'s calls were keyed with (for onCancel\'s resend)', async () => {
    const g = compileGraph(graph(
      [{ name: 'a', description: 'polls twice', run: async ({ tools, state }) => {
        await tools.call('t', 'x', {});
        const n = (state as number | undefined) ?? 0;
        return n < 2 ? { wait: { delayMs: 1, state: n + 1, reason: 'poll' } } : { output: n };
      } }],
      [{ from: 'a', to: END }],
    ));
    const { deps, calls } = fakeDeps();
    expect(progressOf(g, null)).toMatchObject({ node: 'a', visit: 1, park: 0 });
    const first = await step(g, null, {}, deps);
    expect(calls[0]!.idempotencyKey).toBe(callKey('gr_test', 'a', 1, 0, 0));
    const p = progressOf(g, viaJson(first.snapshot));
    expect(p).toMatchObject({ node: 'a', visit: 1, park: 1 });
    // the call the next pass makes — the one a cancel would interrupt — has exactly that key
    await step(g, viaJson(first.snapshot), {}, deps);
    expect(calls[1]!.idempotencyKey).toBe(callKey('gr_test', p.node!, p.visit, p.park, 0));
  });

  it('parks a retry for as long as the gateway asked (retry_after_ms), never less than the backoff', async () => {
    const asked = [45_000, 10, 99 * 3_600_000];
    let n = 0;
    const g = compileGraph(graph(
      [{ name: 'a', description: 'a', policy: { retries: 3, backoffMs: 100 }, run: async () => {
        if (n < asked.length) throw new ToolError('gateway_throttled', 'slow down', true, { status: 429, retry_after_ms: asked[n++] });
        return { output: 'ok' };
      } }],
      [{ from: 'a', to: END }],
    ));
    const os = await drive(g, {}, fakeDeps().deps);
    expect(os.map((o) => (o.kind === 'waiting' ? [o.reason, o.delayMs, o.error?.code] : o.kind))).toEqual([
      ['retry', 45_000, 'gateway_throttled'],
      ['retry', 200, 'gateway_throttled'], // the backoff (100 × 2¹) is longer than the 10 ms asked
      ['retry', MAX_RETRY_AFTER_MS, 'gateway_throttled'],
      'succeeded',
    ]);
  });
});

describe('step with timers', () => {
  afterEach(() => void jest.useRealTimers());
  const fake = () => jest.useFakeTimers({ doNotFake: ['queueMicrotask', 'nextTick', 'setImmediate'] });

  it('times out a node that ignores its signal, retries with backoff, then fails when retries run out', async () => {
    fake();
    const signals: AbortSignal[] = [];
    const g = compileGraph(graph(
      [{ name: 'hang', description: 'never settles', policy: { timeoutMs: 1_000, retries: 2, backoffMs: 500 }, run: ({ signal }) => {
        signals.push(signal);
        return new Promise(() => {});
      } }],
      [{ from: 'hang', to: END }],
    ));
    const { deps } = fakeDeps();
    const os: StepOutcome[] = [];
    let snapshot: unknown = null;
    for (let i = 0; i < 3; i++) {
      const p = step(g, snapshot, {}, deps);
      await jest.advanceTimersByTimeAsync(1_000);
      const o = await p;
      os.push(o);
      snapshot = viaJson(o.snapshot);
    }
    expect(os.slice(0, 2)).toMatchObject([
      { kind: 'waiting', reason: 'retry', delayMs: 500, attempt: 1, error: { code: 'node_timeout', node: 'hang' } },
      { kind: 'waiting', reason: 'retry', delayMs: 1_000, attempt: 2 },
    ]);
    expect(os[2]).toMatchObject({ kind: 'failed', error: { code: 'node_timeout', node: 'hang', details: { attempts: 3, timeout_ms: 1_000 } } });
    expect(signals.every((s) => s.aborted)).toBe(true);
    expect(jest.getTimerCount()).toBe(0);
  });

  it('aborts a cooperative tool call on timeout', async () => {
    fake();
    const g = compileGraph(graph(
      [{ name: 'a', description: 'a', policy: { timeoutMs: 50 }, run: async ({ tools }) => {
        await tools.call('t', 'slow', {});
        return { output: 1 };
      } }],
      [{ from: 'a', to: END }],
    ));
    const { deps, calls } = fakeDeps((req) => new Promise((_, reject) => req.signal.addEventListener('abort', () => reject(new Error('aborted')))));
    const p = step(g, null, {}, deps);
    await jest.advanceTimersByTimeAsync(50);
    expect(await p).toMatchObject({ kind: 'failed', error: { code: 'node_timeout', details: { attempts: 1 } } });
    expect(calls[0]!.signal.aborted).toBe(true);
  });

  it('refuses tool calls from a node that carries on after its timeout', async () => {
    fake();
    let wake!: () => void;
    let late: Promise<unknown> | undefined;
    const g = compileGraph(graph(
      [{ name: 'a', description: 'a', policy: { timeoutMs: 50 }, run: ({ tools }) => {
        late = new Promise<void>((r) => (wake = r)).then(() => tools.call('t', 'late', {}));
        return late.then(() => ({ output: 1 }));
      } }],
      [{ from: 'a', to: END }],
    ));
    const { deps } = fakeDeps();
    const p = step(g, null, {}, deps);
    await jest.advanceTimersByTimeAsync(50);
    expect(await p).toMatchObject({ kind: 'failed', error: { code: 'node_timeout' } });
    wake();
    await expect(late).rejects.toMatchObject({ code: 'node_timeout' });
    expect(deps.callTool).not.toHaveBeenCalled();
  });
});

describe('abort', () => {
  it('throws StepAborted when the signal aborts mid-node; re-running from the old snapshot reuses the keys', async () => {
    const g = compileGraph(graph(
      [out('a', async () => ({ output: 1 })), out('b', async ({ tools }) => ({ output: await tools.call('t', 'slow', {}) }))],
      [{ from: 'a', to: 'b' }, { from: 'b', to: END }],
    ));
    const ac = new AbortController();
    let pending = true;
    const { deps, calls } = fakeDeps(
      (req) => pending
        ? new Promise((_, reject) => req.signal.addEventListener('abort', () => reject(req.signal.reason)))
        : { done: true },
      { signal: ac.signal },
    );
    const first = await step(g, null, {}, deps);
    const saved = viaJson(first.snapshot);
    const p = step(g, saved, {}, deps);
    await Promise.resolve();
    await new Promise((r) => setImmediate(r));
    ac.abort(new Error('cancel'));
    await expect(p).rejects.toBeInstanceOf(StepAborted);

    pending = false;
    const again = await step(g, saved, {}, { ...deps, signal: new AbortController().signal });
    expect(again).toMatchObject({ kind: 'succeeded', result: { done: true } });
    expect(calls.map((c) => c.idempotencyKey)).toEqual(['gr_test:b:1.0:0', 'gr_test:b:1.0:0']);
  });

  it('throws StepAborted without running anything when already aborted, even for a node that ignores the signal', async () => {
    const ran = jest.fn(async () => ({ output: 1 }));
    const g = compileGraph(graph([out('a', ran)], [{ from: 'a', to: END }]));
    const ac = new AbortController();
    ac.abort();
    await expect(step(g, null, {}, fakeDeps(undefined, { signal: ac.signal }).deps)).rejects.toBeInstanceOf(StepAborted);
    expect(ran).not.toHaveBeenCalled();

    const ac2 = new AbortController();
    const hang = compileGraph(graph([out('h', () => new Promise(() => {}))], [{ from: 'h', to: END }]));
    const p = step(hang, null, {}, fakeDeps(undefined, { signal: ac2.signal }).deps);
    ac2.abort();
    await expect(p).rejects.toBeInstanceOf(StepAborted);
  });
});
