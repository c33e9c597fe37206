import type { Worker } from 'bullmq';
import type { Logger } from '@sup/logging';

export interface RenewableWorker {
  /** The Worker that fetches now. */
  current(): Worker;
  /**
   * Starts a fresh Worker (its own blocking connection) in place of the current one, and retires
   * the old one: it fetches nothing more, its jobs in flight finish (their locks still renewed).
   * Resolves once the new one is ready. Once close() was called it starts nothing and rejects: a
   * Worker made then would take jobs after the close, and the process exit would cut them short.
   */
  renew(reason: string): Promise<void>;
  /** Closes the current Worker (waits for its jobs in flight), then any retired one still closing, each within `retireWaitMs`. */
  close(): Promise<void>;
  /** Worker instances started so far (1 + renewals). */
  generation(): number;
}

export interface RenewableOptions {
  /** Builds and wires a Worker (processor, listeners); called at start and on each renewal. */
  make(): Worker;
  log: Logger;
  queue: string;
  /** How long close() waits for a retired Worker whose fetch loop never ends. */
  retireWaitMs?: number;
  /** How long a fresh Worker may take to be ready before the renewal is given up (and tried again later). */
  readyWaitMs?: number;
}

/**
 * A BullMQ Worker whose fetch loop can wedge for good after a Redis outage. Seen on a Redis Cluster
 * whose master of the deployment's slot was down ~45 s with no replica (docs/reliability.md,
 * seventh session): the Worker's wait for a job failed, BullMQ (6.7) reconnected its blocking
 * connection with ioredis' `Cluster#connect()`, and that promise never settles when the Cluster's
 * ready check fails (`cluster_state:fail`) — ioredis reconnects with a new promise and drops the
 * first. The Worker stays `running`, sends no BZPOPMIN again, and its `close()` hangs too. A new
 * Worker (a new blocking connection) takes the jobs at once; the old one is closed in the
 * background: `close()` sets it closing at once, so it takes no job more, and its jobs in flight
 * finish under their locks.
 */
export async function renewableWorker(o: RenewableOptions): Promise<RenewableWorker> {
  const retireWaitMs = o.retireWaitMs ?? 10_000;
  const readyWaitMs = o.readyWaitMs ?? 30_000;
  let worker = o.make();
  await worker.waitUntilReady();
  let count = 1;
  const retiring = new Set<Promise<void>>();
  let renewing: Promise<void> | null = null;
  let closed = false;

  const retire = (old: Worker) => {
    const p = old.close().catch((e: Error) => o.log.warn('worker_retire_failed', { queue: o.queue, error: e.message })).then(() => void retiring.delete(p));
    retiring.add(p);
  };
  const within = (p: Promise<unknown>, ms: number) => Promise.race([p, new Promise((r) => setTimeout(r, ms).unref())]);

  return {
    current: () => worker,
    generation: () => count,
    renew(reason) {
      // the watchdog's check may have begun before a SIGTERM and call recover after it
      if (closed) return Promise.reject(new Error(`the ${o.queue} worker is closing: not renewed`));
      renewing ??= (async () => {
        const old = worker;
        const fresh = o.make();
        // the same Redis trouble can keep the fresh one from getting ready: give up, the watchdog tries again
        const ready = await within(fresh.waitUntilReady().then(() => true), readyWaitMs);
        if (ready !== true) {
          retire(fresh);
          throw new Error(`a fresh ${o.queue} worker was not ready within ${readyWaitMs} ms`);
        }
        worker = fresh;
        count++;
        retire(old);
        o.log.warn('worker_renewed', { queue: o.queue, reason, generation: count });
      })().finally(() => {
        renewing = null;
      });
      return renewing;
    },
    async close() {
      closed = true;
      if (renewing) await within(renewing.catch(() => undefined), readyWaitMs);
      await worker.close();
      await within(Promise.all([...retiring]), retireWaitMs);
    },
  };
}
