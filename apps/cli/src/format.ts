import type { GraphInfo, PublicRunRecord, RunEvent } from '@sup/contracts';

/** Human output. `--json` bypasses all of this and prints the API's bodies as they are. */

const dash = (v: unknown) => (v === null || v === undefined || v === '' ? '-' : String(v));

export function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)));
  return rows.map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]!))).join('  ')).join('\n');
}

/** The attempt, and the workers lost in a row with the current node in flight (CRASH_LOOP_LIMIT). */
const attemptText = (r: PublicRunRecord) =>
  r.takeovers ? `${r.attempt} (${r.takeovers} worker${r.takeovers === 1 ? '' : 's'} lost in a row in this node)` : String(r.attempt);

/**
 * Text a client wrote (a cancel's reason), shown on one line as written but with control and
 * bidirectional-override characters escaped: a newline or U+202E in it cannot fake or reorder the
 * lines around it on a terminal.
 */
export function visible(s: string): string {
  return s.replace(/[\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

export function runDetail(r: PublicRunRecord): string {
  const lines = [
    ['run', r.run_id], ['graph', r.graph], ['agent', r.agent_id], ['status', r.status], ['node', dash(r.current_node)],
    ['created', r.created_at], ['started', dash(r.started_at)], ['finished', dash(r.finished_at)], ['attempt', attemptText(r)],
  ];
  if (r.waiting) lines.splice(4, 0, ['waiting', `${r.waiting.reason} until ${r.waiting.until}`]);
  if (r.cancel_reason !== undefined) lines.push(['reason', visible(r.cancel_reason)]);
  if (r.error) lines.push(['error', `${r.error.code}: ${r.error.message}${r.error.node ? ` (node ${r.error.node})` : ''}`]);
  let out = table(lines);
  if (r.nodes.length > 0) {
    out += `\nnodes:\n${table(r.nodes.map((n) => ['  ' + n.node, n.status, n.duration_ms === null ? '-' : `${n.duration_ms} ms`, `${n.tool_calls} tool call${n.tool_calls === 1 ? '' : 's'}`]))}`;
  }
  if (r.result !== null && r.result !== undefined) out += `\nresult:\n${JSON.stringify(r.result, null, 2)}`;
  return out;
}

export function runRows(runs: PublicRunRecord[]): string {
  if (runs.length === 0) return 'no runs';
  return table([['RUN', 'GRAPH', 'AGENT', 'STATUS', 'NODE', 'CREATED'], ...runs.map((r) => [r.run_id, r.graph, r.agent_id, r.status, dash(r.current_node), r.created_at])]);
}

export function eventLine(e: RunEvent): string {
  const data = e.data && Object.keys(e.data).length > 0 ? ` ${JSON.stringify(e.data)}` : '';
  return `${e.ts}  ${e.type.padEnd(20)} ${(e.node ?? '').padEnd(16)}${data}`.trimEnd();
}

interface PropSchema { type?: string | string[]; enum?: unknown[]; anyOf?: PropSchema[] }

function typeOf(s: PropSchema): string {
  if (s.enum) return s.enum.map((v) => JSON.stringify(v)).join('|');
  if (s.anyOf) return s.anyOf.map(typeOf).join('|');
  return Array.isArray(s.type) ? s.type.join('|') : (s.type ?? 'any');
}

export function graphText(g: GraphInfo): string {
  const schema = g.input_schema as { properties?: Record<string, PropSchema>; required?: string[] };
  const fields = Object.entries(schema.properties ?? {}).map(([name, s]) => `${name}${schema.required?.includes(name) ? '' : '?'}: ${typeOf(s)}`);
  return [
    `${g.name} — ${g.description}`,
    `  nodes: ${g.nodes.map((n) => n.name).join(' → ')}`,
    `  input: ${fields.length > 0 ? fields.join(', ') : '{}'}`,
  ].join('\n');
}

/** A word as a POSIX shell reads it back: bare when that is safe, else in single quotes. */
export function shellWord(s: string): string {
  return /^[A-Za-z0-9_@%+=:,./-]+$/.test(s) ? s : `'${s.replaceAll("'", `'\\''`)}'`;
}
