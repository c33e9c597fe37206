import { z } from 'zod';
import { ToolError } from '@sup/contracts';

/**
 * Parses a tool result leniently (schemas are loose: extra fields pass, optional ones may be
 * missing). A result that misses a required field fails the run at once: retrying cannot fix it.
 */
export function parseResult<T>(schema: z.ZodType<T>, result: unknown, toolAction: string): T {
  const parsed = schema.safeParse(result);
  if (parsed.success) return parsed.data;
  const fields = [...new Set(parsed.error.issues.map((i) => i.path.join('.') || '(root)'))].join(', ');
  throw new ToolError('malformed_result', `${toolAction} returned a malformed result (${fields})`, false, {
    tool: toolAction,
    issues: z.treeifyError(parsed.error),
  });
}

/** A number or a numeric string, as some backends serialise decimals. */
export const Num = z.union([z.number(), z.string().regex(/^-?\d+(\.\d+)?$/).transform(Number)]);
/** A short free-text field that a backend may send as a number. */
export const Text = z.union([z.string(), z.number()]).transform(String);
