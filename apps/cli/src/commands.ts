import { readFileSync } from 'node:fs';
import type { parseArgs } from 'node:util';
import type { GraphList, PublicRunRecord, RunPage } from '@sup/contracts';
import { runPath, shape, type ApiClient } from './client.js';
import { eventPages, followEvents } from './events.js';
import { eventLine, graphText, runDetail, runRows, shellWord } from './format.js';

export const EXIT = { ok: 0, api: 1, usage: 2, runNotSucceeded: 3 } as const;

export interface CliIo {
  env: Record<string, string | undefined>;
  out(text: string): void;
  err(text: string): void;
  fetch?: typeof fetch;
  sleep?: (ms: number) => Promise<void>;
  now?: () => number;
}

export const OPTIONS = {
  url: { type: 'string' }, 'api-key': { type: 'string' }, json: { type: 'boolean' }, help: { type: 'boolean', short: 'h' },
  version: { type: 'boolean' },
  agent: { type: 'string' }, input: { type: 'string' }, 'idempotency-key': { type: 'string' }, metadata: { type: 'string' },
  webhook: { type: 'string' }, wait: { type: 'boolean' }, graph: { type: 'string' }, status: { type: 'string' },
  limit: { type: 'string' }, cursor: { type: 'string' }, reason: { type: 'string' },
  follow: { type: 'boolean', short: 'f' }, interval: { type: 'string' },
} as const;
export type Values = ReturnType<typeof parseArgs<{ options: typeof OPTIONS; allowPositionals: true }>>['values'];

export class UsageError extends Error {}

export interface Ctx { api: ApiClient; args: string[]; v: Values; io: CliIo; print(value: unknown, human: () => string): void }

export interface Command { args: string[]; options: Array<keyof typeof OPTIONS>; run(c: Ctx): Promise<number> }

const WAIT = ['idempotency-key', 'wait', 'interval'] as const;

export const COMMANDS: Record<string, Command> = {
  'runs create': { args: ['graph'], options: ['agent', 'input', 'metadata', 'webhook', ...WAIT], run: createRun },
  'runs rerun': { args: ['run_id'], options: ['webhook', ...WAIT], run: rerunRun },
  'runs get': { args: ['run_id'], options: [], run: getRun },
  'runs list': { args: [], options: ['graph', 'status', 'agent', 'limit', 'cursor'], run: listRuns },
  'runs cancel': { args: ['run_id'], options: ['reason'], run: cancelRun },
  'runs events': { args: ['run_id'], options: ['follow', 'interval'], run: runEvents },
  graphs: { args: [], options: [], run: listGraphs },
};

/** What the API takes as a run id (RUN_ID_RE of @sup/contracts; a test keeps the two equal). */
export const RUN_ID_RE = /^gr_[a-z0-9]{6,40}$/;

/** A positional argument the API would not take, refused before a request goes out. */
export function checkArg(kind: string, value: string): void {
  if (kind === 'run_id' && !RUN_ID_RE.test(value)) {
    throw new UsageError(`${JSON.stringify(value)} is not a run id (gr_ and 6-40 lowercase letters or digits)`);
  }
  // '', '.' and '..' would make another path of the URL (/v1/graphs/runs, /v1/runs)
  if (kind === 'graph' && /^\.*$/.test(value)) throw new UsageError(`${JSON.stringify(value)} is not a graph name ('supervisor graphs' lists them)`);
}

function jsonObject(flag: string, text: string | undefined): Record<string, unknown> | undefined {
  if (text === undefined) return undefined;
  let raw = text;
  if (text.startsWith('@')) {
    try {
      raw = readFileSync(text.slice(1), 'utf8');
    } catch (err) {
      throw new UsageError(`--${flag}: cannot read ${text.slice(1)}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
    }
  }
  let value: unknown;
  try {
    value = JSON.parse(raw);
  } catch (err) {
    throw new UsageError(`--${flag} is not valid JSON: ${(err as Error).message}`);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new UsageError(`--${flag} must be a JSON object`);
  return value as Record<string, unknown>;
}

/** The poll interval in ms; `--interval` only goes with the flag that follows (`--wait`, `--follow`). */
function pollMs(v: Values, needs: 'wait' | 'follow'): number {
  if (v.interval !== undefined && !v[needs]) throw new UsageError(`--interval needs --${needs}`);
  const n = v.interval === undefined ? 1 : Number(v.interval);
  if (!Number.isFinite(n) || n <= 0) throw new UsageError('--interval must be a positive number of seconds');
  return n * 1000;
}

/** The clock and sleep tests replace. */
const timing = (io: CliIo) => ({ ...(io.sleep ? { sleep: io.sleep } : {}), ...(io.now ? { now: io.now } : {}) });


interface NewRun { agent_id: string; input: Record<string, unknown>; metadata?: Record<string, unknown> | undefined; webhook?: string | undefined }

/** POSTs the run, prints it, and with --wait follows it to its end. `then` runs once it exists. */
async function startRun({ api, v, io, print }: Ctx, graph: string, run: NewRun, ms: number, then?: (created: PublicRunRecord) => void): Promise<number> {
  const { status, headers, body } = await api.json<PublicRunRecord>('POST', `/v1/graphs/${encodeURIComponent(graph)}/runs`, {
    body: { agent_id: run.agent_id, input: run.input, ...(run.metadata ? { metadata: run.metadata } : {}), ...(run.webhook ? { webhook: run.webhook } : {}) },
    ...(v['idempotency-key'] ? { headers: { 'idempotency-key': v['idempotency-key'] } } : {}),
    is: shape.run,
  });
  // 200 is how servers before 2026-11-28 answered a replay
  const how = headers.get('idempotent-replayed') === 'true' || status === 200 ? 'existing run (same Idempotency-Key)' : 'created';
  if (!v.wait) {
    print(body, () => `${how} ${body.run_id} (${body.graph}, ${body.status})`);
    then?.(body);
    return EXIT.ok;
  }

  if (!v.json) io.out(`${how} ${body.run_id} (${body.graph}); waiting for it to finish`);
  then?.(body);
  await followEvents(api, body.run_id, (e) => !v.json && io.out(eventLine(e)), { pollMs: ms, ...timing(io) });
  const final = (await api.json<PublicRunRecord>('GET', runPath(body.run_id), { is: shape.run })).body;
  print(final, () => runDetail(final));
  return final.status === 'succeeded' ? EXIT.ok : EXIT.runNotSucceeded;
}

async function createRun(c: Ctx): Promise<number> {
  const { v } = c;
  if (!v.agent) throw new UsageError('runs create needs --agent <id>');
  const input = jsonObject('input', v.input) ?? {};
  const metadata = jsonObject('metadata', v.metadata);
  return startRun(c, c.args[0]!, { agent_id: v.agent, input, metadata, webhook: v.webhook }, pollMs(v, 'wait'));
}

/** A new run of the run's graph, agent, input and metadata. Its webhook the API shows by origin only. */
async function rerunRun(c: Ctx): Promise<number> {
  const ms = pollMs(c.v, 'wait');
  const old = (await c.api.json<PublicRunRecord>('GET', runPath(c.args[0]!), { is: shape.run })).body;
  const lostWebhook = old.webhook && !c.v.webhook
    ? (run: PublicRunRecord) => c.io.err(`note: ${old.run_id} had a webhook (${old.webhook}), which the API shows by origin only: ${run.run_id} has none (give it with --webhook URL)`)
    : undefined;
  return startRun(c, old.graph, { agent_id: old.agent_id, input: old.input, metadata: old.metadata, webhook: c.v.webhook }, ms, lostWebhook);
}

async function getRun({ api, args, print }: Ctx): Promise<number> {
  const { body } = await api.json<PublicRunRecord>('GET', runPath(args[0]!), { is: shape.run });
  print(body, () => runDetail(body));
  return EXIT.ok;
}

async function listRuns({ api, v, print }: Ctx): Promise<number> {
  if (v.limit !== undefined && !/^\d+$/.test(v.limit)) throw new UsageError('--limit must be a whole number');
  const { body } = await api.json<RunPage>('GET', '/v1/runs', {
    query: { graph: v.graph, status: v.status, agent_id: v.agent, limit: v.limit, cursor: v.cursor },
    is: shape.runPage,
  });
  // the next page with the same filters (without them, a cleanup walking `--status succeeded` pages
  // would go on through runs of every status), and the same API; never the key
  const same = [['--url', v.url], ['--graph', v.graph], ['--status', v.status], ['--agent', v.agent], ['--limit', v.limit]]
    .filter((f): f is [string, string] => f[1] !== undefined)
    .map(([flag, value]) => `${flag} ${shellWord(value)}`);
  const more = body.next_cursor ? `\nmore: ${['supervisor runs list', ...same, `--cursor ${shellWord(body.next_cursor)}`].join(' ')}` : '';
  // a status filter may find none on a page and still have more pages
  print(body, () => (body.runs.length === 0 && body.next_cursor ? 'no runs on this page' : runRows(body.runs)) + more);
  return EXIT.ok;
}

async function cancelRun({ api, args, v, print }: Ctx): Promise<number> {
  const { body } = await api.json<PublicRunRecord>('POST', `${runPath(args[0]!)}/cancel`, { body: v.reason ? { reason: v.reason } : {}, is: shape.run });
  const note = body.status === 'cancelling' ? ' (stops at its next step; its tool call in flight is aborted)' : '';
  print(body, () => `${body.run_id} ${body.status}${note}`);
  return EXIT.ok;
}

async function runEvents({ api, args, v, io }: Ctx): Promise<number> {
  const show = (e: Parameters<typeof eventLine>[0]) => io.out(v.json ? JSON.stringify(e) : eventLine(e));
  const ms = pollMs(v, 'follow');
  if (v.follow) {
    await followEvents(api, args[0]!, show, { pollMs: ms, ...timing(io) });
    return EXIT.ok;
  }
  for await (const page of eventPages(api, args[0]!)) page.events.forEach(show);
  return EXIT.ok;
}

async function listGraphs({ api, print }: Ctx): Promise<number> {
  const { body } = await api.json<GraphList>('GET', '/v1/graphs', { is: shape.graphs });
  print(body, () => body.graphs.map(graphText).join('\n\n'));
  return EXIT.ok;
}
