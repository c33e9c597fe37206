/**
 * Heap retained per node step by the engine alone: engine.step() over the no-op 8-node graph in
 * this process (no Redis, no BullMQ), a fresh AbortController per run as the worker's CancelWatcher
 * gives, full GC between rounds. A flat heap means nothing is retained; a slope is a leak.
 *
 *   node --expose-gc --import tsx bench/step-heap.ts [runs-per-round=3000] [rounds=4]
 */
import { compileGraph, step } from '@sup/engine';
import { NOOP_GRAPHS } from './lib/noop.js';

const [RUNS, ROUNDS] = process.argv.slice(2).filter((a) => /^\d+$/.test(a)).map(Number);
const gc = (globalThis as { gc?: () => void }).gc;
if (!gc) throw new Error('run with node --expose-gc --import tsx bench/step-heap.ts');
const g = compileGraph(NOOP_GRAPHS.noop8);
const heap = async () => {
  await new Promise((r) => setTimeout(r, 50));
  gc();
  return process.memoryUsage().heapUsed;
};
const base = await heap();
let steps = 0;
let last = base;
for (let round = 0; round < (ROUNDS ?? 4); round++) {
  for (let r = 0; r < (RUNS ?? 3000); r++) {
    const pass = new AbortController();
    const deps = { runId: `r${r}`, agentId: 'a', callTool: async () => ({}), runs: {} as never, signal: pass.signal, now: Date.now, settings: { jobPollIntervalMs: 3_000 } };
    let snap: unknown = null;
    for (;;) {
      const o = await step(g, snap, {}, deps);
      steps++;
      snap = o.snapshot;
      if (o.kind !== 'advanced') break;
    }
  }
  last = await heap();
  console.log(`after ${steps} node steps: heapUsed ${(last / 1048576).toFixed(1)} MB`);
}
console.log(`retained per node step: ${Math.round((last - base) / steps)} B (heap after full GC, ${steps} steps)`);
