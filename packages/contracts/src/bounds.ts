/**
 * Bounds on what others send us. Tool answers and request bodies end up in the run record, which
 * is rewritten on every step: one runaway value must not bloat it, or overflow the stack of the
 * JSON.stringify that stores it.
 */

/** Cuts free text to `n` characters (with an ellipsis). */
export const clip = (s: string, n = 300): string => (s.length > n ? `${s.slice(0, n)}…` : s);

/**
 * Whether a parsed JSON value nests deeper than `maxDepth` objects/arrays. JSON.parse accepts any
 * depth, but JSON.stringify overflows the stack at a few thousand levels. Measured iteratively, so
 * the check itself cannot overflow.
 */
export function nestsDeeperThan(value: unknown, maxDepth: number): boolean {
  if (value === null || typeof value !== 'object') return false;
  const stack: Array<[object, number]> = [[value, 1]];
  while (stack.length > 0) {
    const [v, depth] = stack.pop()!;
    if (depth > maxDepth) return true;
    for (const child of Object.values(v)) if (child !== null && typeof child === 'object') stack.push([child as object, depth + 1]);
  }
  return false;
}
