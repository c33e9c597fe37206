import { randomBytes } from 'node:crypto';
import { PassThrough } from 'node:stream';
import { Worker } from 'bullmq';
import { Redis } from 'ioredis';
import { QUEUES, ToolError } from '@sup/contracts';
import { compileGraph, type CompiledGraph, type StepDeps } from '@sup/engine';
import { END, type GraphDefinition } from '@sup/graphs';
import { createLogger, type Logger } from '@sup/logging';
import { createKeys, RunStore } from '@sup/run-store';
import { bullPrefix, createRunQueue, submitRun } from '@sup/queue';
import { z } from 'zod';
import { CancelWatcher } from '../src/cancels.js';
import { createProcessor, type ProcessorDeps } from '../src/processor.js';

export const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';

/** a → b → c; b calls `gate.hang`, which only returns when the test opens the gate (or aborts). */
export const testGraph: GraphDefinition = {
  name: 'abc',
  description: 'test graph',
  input: z.object({ n: z.number().default(1) }),
  start: 'a',
  nodes: ['a', 'b', 'c'].map((name) => ({
    name,
    description: name,
    policy: { timeoutMs: 60_000, retries: 0 },
    run: async (ctx) => ({ output: await ctx.tools.call('gate', name === 'b' ? 'hang' : 'noop', { node: name }) }),
  })),
  edges: [
    { from: 'a', to: 'b' },
    { from: 'b', to: 'c' },
    { from: 'c', to: END },
  ],
};

/** One node that parks once, storing its clock's now; then outputs how long its clock says it waited. */
export const waitedGraph: GraphDefinition = {
  name: 'waited',
  description: 'measures its own wait',
  input: z.object({}),
  start: 'w',
  nodes: [{
    name: 'w',
    description: 'w',
    policy: { timeoutMs: 60_000, retries: 0 },
    run: async (ctx) => (ctx.state === undefined
      ? { wait: { delayMs: 50, state: { first_ms: ctx.now() }, reason: 'job_running' } }
      : { output: { waited_ms: ctx.now() - (ctx.state as { first_ms: number }).first_ms } }),
  }],
  edges: [{ from: 'w', to: END }],
};

/** One node that parks for a minute on its first call (a job still running), then finishes. */
export const parkGraph: GraphDefinition = {
  name: 'park',
  description: 'parks once',
  input: z.object({}),
  start: 'p',
  nodes: [{
    name: 'p',
    description: 'p',
    policy: { timeoutMs: 60_000, retries: 0 },
    run: async (ctx) => (ctx.state === undefined ? { wait: { delayMs: 60_000, state: 1, reason: 'job_running' } } : { output: 'done' }),
  }],
  edges: [{ from: 'p', to: END }],
};

/** small → big; big outputs `input.size` characters (a node answer too large to keep). */
export const bigGraph: GraphDefinition = {
  name: 'big',
  description: 'a large output',
  input: z.object({ size: z.number() }),
  start: 'small',
  nodes: ['small', 'big'].map((name) => ({
    name,
    description: name,
    policy: { timeoutMs: 60_000, retries: 0 },
    run: async (ctx) => ({ output: name === 'big' ? 'x'.repeat((ctx.input as { size: number }).size) : 'ok' }),
  })),
  edges: [{ from: 'small', to: 'big' }, { from: 'big', to: END }],
};

export interface HarnessHooks extends Pick<ProcessorDeps, 'onStep' | 'onFinished' | 'onTakeover' | 'afterFinish' | 'redisRetryMs' | 'crashLoopLimit' | 'cancelChildren' | 'recordNow'> {
  /** The worker host's clock (default Date.now). */
  now?: ProcessorDeps['now'];
  /** Another harness's prefix: a second worker on the same queue and records. */
  prefix?: string;
  /** The store the processor uses, e.g. one whose commits fail the way a test needs. */
  wrapStore?(store: RunStore): RunStore;
  /** RUN_RECORD_MAX_BYTES of the processor's store. */
  maxRecordBytes?: number;
}

export function harness({ wrapStore, maxRecordBytes, prefix = `t-worker-${randomBytes(4).toString('hex')}:`, now = Date.now, ...hooks }: HarnessHooks = {}) {
  const redis = new Redis(REDIS_URL);
  const bull = new Redis(REDIS_URL, { maxRetriesPerRequest: null });
  const sub = new Redis(REDIS_URL, { maxRetriesPerRequest: null });
  const store = new RunStore({ redis, prefix, ttlSec: 600, ...(maxRecordBytes ? { maxRecordBytes } : {}) });
  const queue = createRunQueue(bull, prefix);
  const keys = createKeys(prefix);
  const calls: { action: string; node: string; key: string; aborted?: boolean }[] = [];
  let opened: (() => void) | undefined;
  let entered: (() => void) | undefined;
  let hangEntered = new Promise<void>((r) => (entered = r));
  const gate = { open: () => opened?.(), entered: () => hangEntered };
  const callTool: StepDeps['callTool'] = (req) => {
    const call = { action: req.action, node: req.node, key: req.idempotencyKey };
    calls.push(call);
    if (req.action !== 'hang') return Promise.resolve({ ok: req.node });
    return new Promise((resolve, reject) => {
      opened = () => resolve({ ok: req.node });
      req.signal.addEventListener('abort', () => {
        Object.assign(call, { aborted: true });
        reject(new ToolError('aborted', 'tool call aborted', false));
      });
      entered?.();
    });
  };
  const compiled = new Map<string, CompiledGraph>([['abc', compileGraph(testGraph)], ['park', compileGraph(parkGraph)], ['big', compileGraph(bigGraph)], ['waited', compileGraph(waitedGraph)]]);
  const logStream = new PassThrough();
  const log = createLogger({ service: 'worker-test', stream: logStream });
  /** What the processor logged, chunk by chunk. */
  const logged: string[] = [];
  logStream.on('data', (b: Buffer) => logged.push(b.toString()));
  let closing = false;
  let worker: Worker | undefined;
  let cancels: CancelWatcher | undefined;

  return {
    prefix, redis, store, queue, keys, calls, gate, logged,
    /** SIGTERM's path: flag, then close the worker, which waits for the node in flight. */
    async stopGracefully(whileClosing: () => void) {
      closing = true;
      const done = worker!.close();
      whileClosing();
      await done;
      await cancels!.close();
    },
    resetGate: () => (hangEntered = new Promise<void>((r) => (entered = r))),
    async start() {
      closing = false;
      cancels = await CancelWatcher.start(sub.duplicate(), keys.cancelChannel);
      const processor = createProcessor({
        store: wrapStore?.(store) ?? store, log, cancels, graph: (n) => compiled.get(n), tools: () => callTool,
        runs: () => ({ start: async () => ({ run_id: 'x' }), get: async () => null, cancel: async () => undefined, unfinished: async () => [] }),
        compensateLater: async () => undefined, compensate: async () => 'none',
        settings: { jobPollIntervalMs: 50 }, workerId: 'test:1', isClosing: () => closing, now,
        ...hooks,
      });
      worker = new Worker(QUEUES.runs, processor, { connection: bull, prefix: bullPrefix(prefix), concurrency: 2 });
      await worker.waitUntilReady();
    },
    submit: (input: Record<string, unknown> = {}, graph = 'abc') => submitRun({ store, queue, ttlSec: 600 }, { graph, agentId: 'sofiia', input }),
    async close() {
      await worker?.close(true);
      await cancels?.close();
      sub.disconnect();
      await queue.obliterate({ force: true }).catch(() => undefined);
      await queue.close();
      const ks = await redis.keys(`${prefix}*`);
      if (ks.length) await redis.del(...ks);
      await redis.quit();
      await bull.quit();
    },
  };
}

export { until } from '@sup/testkit';

/** A logger whose output the test reads: `logs` holds every chunk written, in order. */
export function capturedLog(): { log: Logger; logs: string[] } {
  const logs: string[] = [];
  const stream = new PassThrough();
  stream.on('data', (b: Buffer) => logs.push(b.toString()));
  return { log: createLogger({ service: 'worker-test', stream }), logs };
}
