/**
 * Bench-only worker process: the production processor serving the no-op graphs (bench/lib/noop.ts).
 * Env: REDIS_URL, KEY_PREFIX, WORKER_CONCURRENCY, LOG_LEVEL (default info, as in production),
 * RAW_BULLMQ=1 (reference: the same Worker, a processor that returns at once).
 * Prints `worker_ready` when it takes jobs; SIGTERM closes it.
 *
 *   node --import tsx bench/noop-worker.ts
 */
import { startNoopWorker } from './lib/noop.js';

const w = await startNoopWorker({
  url: process.env.REDIS_URL ?? 'redis://127.0.0.1:6379',
  prefix: process.env.KEY_PREFIX ?? '',
  concurrency: Number(process.env.WORKER_CONCURRENCY ?? 10),
  logLevel: process.env.LOG_LEVEL ?? 'info',
  raw: process.env.RAW_BULLMQ === '1',
});
console.log(`worker_ready pid=${process.pid} concurrency=${process.env.WORKER_CONCURRENCY ?? 10}`);
let stopping = false;
const stop = () => {
  if (stopping) return;
  stopping = true;
  void w.close().then(() => process.exit(0));
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
