/**
 * Helpers the test suites share (a devDependency only). Tests wait on a condition with a deadline,
 * never on a fixed sleep.
 */

/**
 * Polls `fn` every `everyMs` until it answers something truthy, and returns that; fails naming
 * `what` once `timeoutMs` has passed. An error thrown by `fn` fails at once, unless `tolerateErrors`
 * (a process still starting): then polling goes on, and the last error is named at the deadline.
 */
export async function until<T>(
  what: string, fn: () => T | null | undefined | false | Promise<T | null | undefined | false>, timeoutMs = 20_000, everyMs = 20, tolerateErrors = false,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v) return v;
    } catch (err) {
      if (!tolerateErrors) throw err;
      last = err;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}${last ? `: ${String(last)}` : ''}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}
