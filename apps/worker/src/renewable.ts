import type { Worker } from 'bullmq';
import type { Logger } from '@sup/logging';

export interface RenewableWorker {
  /** The Worker that fetches now. */
  current(): Worker;
  /**
   * Starts a fresh Worker (its own blocking connection) in place of the current one, and retires
   * the old one: it fetches nothing more, its jobs in flight finish (their locks still renewed).
   * Resolves once the new one is ready.
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
}

/**
 * A BullMQ Worker whose fetch loop can wedge for good after a Redis outage: seen on a Redis Cluster
 * whose master of the deployment's slot was down ~45 s (no replica): every Worker of the process
 * resumed, but the runs Worker sat in its blocking wait (`waitForJob`) that never settled — no
 * BZPOPMIN reached Redis again, jobs waited, and `close()` hung with it. A new Worker with a new
 * blocking connection takes the jobs at once; the old one is closed in the background (`close()`
 * sets it closing at once, so it takes no job more; its jobs in flight finish under their locks).
 */
export async function renewableWorker(o: RenewableOptions): Promise<RenewableWorker> {
  const retireWaitMs = o.retireWaitMs ?? 10_000;
  let worker = o.make();
  await worker.waitUntilReady();
  let count = 1;
  const retiring = new Set<Promise<void>>();
  let renewing: Promise<void> | null = null;

  const retire = (old: Worker) => {
    const p = old.close().catch((e: Error) => o.log.warn('worker_retire_failed', { queue: o.queue, error: e.message })).then(() => void retiring.delete(p));
    retiring.add(p);
  };
  const within = (p: Promise<unknown>) => Promise.race([p, new Promise((r) => setTimeout(r, retireWaitMs).unref())]);

  return {
    current: () => worker,
    generation: () => count,
    renew(reason) {
      renewing ??= (async () => {
        const old = worker;
        const fresh = o.make();
        await fresh.waitUntilReady();
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
      await renewing?.catch(() => undefined);
      await worker.close();
      await within(Promise.all([...retiring]));
    },
  };
}
