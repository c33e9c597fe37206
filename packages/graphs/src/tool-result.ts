import { z } from 'zod';
import { clip, ToolError } from '@sup/contracts';

/** At most this many issues of a malformed result are kept: the error goes into the run record. */
export const MAX_ISSUES = 10;

/**
 * The `malformed_result` error of a tool result that failed its schema. Bounded whatever the
 * result: a 4 MB array of wrong items must not become a 100 MB list of issues in the record.
 */
export function malformedResult(toolAction: string, error: z.ZodError, what = 'a malformed result', extra: Record<string, unknown> = {}): ToolError {
  const issues = error.issues.slice(0, MAX_ISSUES).map((i) => ({ path: clip(i.path.join('.') || '(root)', 200), message: clip(i.message, 200) }));
  // one issue says what is wrong with it; many name where
  const fields = issues.length === 1 ? `${issues[0]!.path}: ${issues[0]!.message}` : [...new Set(issues.map((i) => i.path))].join(', ');
  const more = error.issues.length > MAX_ISSUES ? ` and ${error.issues.length - MAX_ISSUES} more issues` : '';
  return new ToolError('malformed_result', `${toolAction} returned ${what} (${fields}${more})`, false, {
    tool: toolAction, ...extra, issues, issue_count: error.issues.length,
  });
}

/**
 * Parses a tool result leniently (schemas are loose: extra fields pass, optional ones may be
 * missing). A result that misses a required field fails the run at once: retrying cannot fix it.
 */
export function parseResult<T>(schema: z.ZodType<T>, result: unknown, toolAction: string): T {
  const parsed = schema.safeParse(result);
  if (parsed.success) return parsed.data;
  throw malformedResult(toolAction, parsed.error);
}

/** A number or a numeric string, as some backends serialise decimals. */
export const Num = z.union([z.number(), z.string().regex(/^-?\d+(\.\d+)?$/).transform(Number)]);
/** A short free-text field that a backend may send as a number. */
export const Text = z.union([z.string(), z.number()]).transform(String);
