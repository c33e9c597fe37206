import type { ErrorData } from './run.js';

/** An error the API maps to `{"error":{code,message,details}}` with `status`. */
export class AppError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly details?: unknown,
  ) {
    super(message);
    this.name = 'AppError';
  }
  /** `details` is always there (null when there are none), as the contract names it. */
  toBody() {
    return { error: { code: this.code, message: this.message, details: this.details ?? null } };
  }
}

/**
 * A failed tool call or node. `retryable` says whether trying again can help (5xx, timeouts) or not
 * (401/403, malformed result, tool said ok:false). The worker turns non-retryable ones into a
 * failed run at once.
 */
export class ToolError extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly retryable: boolean,
    readonly details?: unknown,
  ) {
    super(message);
    this.name = 'ToolError';
  }
  toData(node?: string): ErrorData {
    return { code: this.code, message: this.message, ...(node ? { node } : {}), ...(this.details !== undefined ? { details: this.details } : {}) };
  }
}

/** Any thrown value → stored error data (never a stack). */
export function toErrorData(err: unknown, node?: string): ErrorData {
  if (err instanceof ToolError) return err.toData(node);
  if (err instanceof AppError) return { code: err.code, message: err.message, ...(node ? { node } : {}) };
  const message = err instanceof Error ? err.message : String(err);
  return { code: 'internal', message, ...(node ? { node } : {}) };
}
