import type { RequestHandler } from 'express';
import { AppError, nestsDeeperThan } from '@sup/contracts';

/**
 * JSON.parse accepts nesting of any depth, but JSON.stringify (storing the record) overflows the
 * stack at a few thousand levels: without this check `{"metadata":{"m":[[[…]]]}}` answered 500.
 * Found by chaos/bad-input.ts.
 */
export function rejectDeepJson(maxDepth: number): RequestHandler {
  return (req, _res, next) => {
    if (nestsDeeperThan(req.body, maxDepth)) return next(new AppError(400, 'body_too_deep', `request body nests deeper than ${maxDepth} levels`));
    next();
  };
}
