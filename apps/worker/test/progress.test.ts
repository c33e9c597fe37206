import { afterEach, describe, expect, it, jest } from '@jest/globals';
import type { Job } from 'bullmq';
import { PROGRESS_AFTER_MS, ProgressWatch } from '../src/progress.js';

function fakeJob() {
  const writes: unknown[] = [];
  const job = {
    progress: 0 as unknown,
    updateProgress: async (p: unknown) => {
      writes.push(p);
      job.progress = p;
    },
  };
  return { job: job as unknown as Job, writes };
}

describe('ProgressWatch', () => {
  afterEach(() => {
    jest.useRealTimers();
  });

  it('writes nothing for quick steps, and the node that is still running PROGRESS_AFTER_MS after it started', async () => {
    jest.useFakeTimers();
    const { job, writes } = fakeJob();
    const w = new ProgressWatch(job);
    // quick nodes back to back: the one timer of the pass fires during the node that started at 900 ms
    for (const node of ['a', 'b', 'c']) {
      w.start(node);
      jest.advanceTimersByTime(300);
      w.stop();
    }
    w.start('d');
    jest.advanceTimersByTime(PROGRESS_AFTER_MS - 1);
    expect(writes).toEqual([]);
    jest.advanceTimersByTime(1);
    await Promise.resolve();
    expect(writes).toEqual([{ node: 'd' }]);
    // a later slow node of the same pass gets its own write
    w.stop();
    w.start('e');
    jest.advanceTimersByTime(PROGRESS_AFTER_MS);
    await Promise.resolve();
    expect(writes).toEqual([{ node: 'd' }, { node: 'e' }]);
    w.close();
  });

  it('lapses between nodes and when the pass ends', async () => {
    jest.useFakeTimers();
    const { job, writes } = fakeJob();
    const w = new ProgressWatch(job);
    w.start('a');
    w.stop();
    jest.advanceTimersByTime(5 * PROGRESS_AFTER_MS);
    w.start('b');
    w.close();
    jest.advanceTimersByTime(5 * PROGRESS_AFTER_MS);
    await Promise.resolve();
    expect(writes).toEqual([]);
    expect(jest.getTimerCount()).toBe(0);
  });
});
