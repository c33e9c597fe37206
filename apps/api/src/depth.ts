import type { RequestHandler } from 'express';
import { AppError } from '@sup/contracts';

/**
 * JSON.parse accepts nesting of any depth, but JSON.stringify (storing the record) overflows the
 * stack at a few thousand levels: without this check `{"metadata":{"m":[[[…]]]}}` answered 500.
 * Measured iteratively, so the check itself cannot overflow. Found by chaos/bad-input.ts.
 */
export function rejectDeepJson(maxDepth: number): RequestHandler {
  return (req, _res, next) => {
    const body: unknown = req.body;
    if (body === null || typeof body !== 'object') return next();
    const stack: Array<[unknown, number]> = [[body, 1]];
    while (stack.length > 0) {
      const [value, depth] = stack.pop()!;
      if (depth > maxDepth) return next(new AppError(400, 'body_too_deep', `request body nests deeper than ${maxDepth} levels`));
      for (const child of Object.values(value as object)) if (child !== null && typeof child === 'object') stack.push([child, depth + 1]);
    }
    next();
  };
}
