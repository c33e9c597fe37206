import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import type { GraphList, PublicRunRecord, RunPage } from '@sup/contracts';
import { ApiClient, ApiError } from './client.js';
import { followEvents } from './events.js';
import { eventLine, graphText, runDetail, runRows } from './format.js';

export const EXIT = { ok: 0, api: 1, usage: 2, runNotSucceeded: 3 } as const;

export interface CliIo {
  env: Record<string, string | undefined>;
  out(text: string): void;
  err(text: string): void;
  fetch?: typeof fetch;
  sleep?: (ms: number) => Promise<void>;
  now?: () => number;
}

export const USAGE = `usage: supervisor <command> [options]

  runs create <graph> --agent <id> [--input '{...}' | --input @file.json] [--idempotency-key K]
                      [--metadata '{...}'] [--webhook URL] [--wait [--interval SEC]]
  runs get <run_id>
  runs list [--graph G] [--status S] [--agent A] [--limit N] [--cursor C]
  runs cancel <run_id> [--reason TEXT]
  runs events <run_id> [--follow [--interval SEC]]
  graphs

options for every command:
  --url URL        API base URL (default $SUPERVISOR_URL or http://localhost:8084)
  --api-key KEY    Bearer key (default $SUPERVISOR_API_KEY_CLI or $API_KEY)
  --json           print the API's JSON as it is (events: one JSON object per line)
  -h, --help       this text

exit codes: 0 ok, 1 API or network error (message on stderr), 2 usage error,
            3 --wait: the run finished but did not succeed`;

const HINT = "run 'supervisor --help' for usage";

const OPTIONS = {
  url: { type: 'string' }, 'api-key': { type: 'string' }, json: { type: 'boolean' }, help: { type: 'boolean', short: 'h' },
  agent: { type: 'string' }, input: { type: 'string' }, 'idempotency-key': { type: 'string' }, metadata: { type: 'string' },
  webhook: { type: 'string' }, wait: { type: 'boolean' }, graph: { type: 'string' }, status: { type: 'string' },
  limit: { type: 'string' }, cursor: { type: 'string' }, reason: { type: 'string' },
  follow: { type: 'boolean', short: 'f' }, interval: { type: 'string' },
} as const;
type Values = ReturnType<typeof parseArgs<{ options: typeof OPTIONS; allowPositionals: true }>>['values'];

class UsageError extends Error {}

interface Ctx { api: ApiClient; args: string[]; v: Values; io: CliIo; print(value: unknown, human: () => string): void }

interface Command { args: string[]; options: Array<keyof typeof OPTIONS>; run(c: Ctx): Promise<number> }

const COMMANDS: Record<string, Command> = {
  'runs create': { args: ['graph'], options: ['agent', 'input', 'idempotency-key', 'metadata', 'webhook', 'wait', 'interval'], run: createRun },
  'runs get': { args: ['run_id'], options: [], run: getRun },
  'runs list': { args: [], options: ['graph', 'status', 'agent', 'limit', 'cursor'], run: listRuns },
  'runs cancel': { args: ['run_id'], options: ['reason'], run: cancelRun },
  'runs events': { args: ['run_id'], options: ['follow', 'interval'], run: runEvents },
  graphs: { args: [], options: [], run: listGraphs },
};

/** Runs one command line; returns the exit code. Everything it prints goes through `io`. */
export async function run(argv: string[], io: CliIo): Promise<number> {
  let parsed: { values: Values; positionals: string[] };
  try {
    parsed = parseArgs({ args: argv, options: OPTIONS, allowPositionals: true, strict: true });
  } catch (err) {
    io.err(`supervisor: ${(err as Error).message}\n${HINT}`);
    return EXIT.usage;
  }
  const { values: v, positionals: pos } = parsed;
  if (v.help) {
    io.out(USAGE);
    return EXIT.ok;
  }
  const name = pos[0] === 'runs' ? `runs ${pos[1] ?? ''}`.trim() : (pos[0] ?? '');
  const cmd = Object.hasOwn(COMMANDS, name) ? COMMANDS[name] : undefined;
  try {
    if (!cmd) throw new UsageError(name ? `unknown command "${name}"` : 'no command given');
    const args = pos.slice(name.split(' ').length);
    if (args.length !== cmd.args.length) throw new UsageError(`${name} takes ${cmd.args.map((a) => `<${a}>`).join(' ') || 'no arguments'}`);
    const allowed = new Set<string>(['url', 'api-key', 'json', 'help', ...cmd.options]);
    const stray = Object.keys(v).find((k) => !allowed.has(k));
    if (stray) throw new UsageError(`--${stray} does not apply to "${name}"`);
    const base = v.url ?? io.env.SUPERVISOR_URL ?? 'http://localhost:8084';
    if (!URL.canParse(base) || !/^https?:$/.test(new URL(base).protocol)) {
      throw new UsageError(`${v.url !== undefined ? '--url' : 'SUPERVISOR_URL'} must be an http(s) URL such as http://localhost:8084, not ${JSON.stringify(base)}`);
    }
    const api = new ApiClient({
      url: base,
      apiKey: v['api-key'] ?? io.env.SUPERVISOR_API_KEY_CLI ?? io.env.API_KEY,
      ...(io.fetch ? { fetch: io.fetch } : {}),
    });
    const print = (value: unknown, human: () => string) => io.out(v.json ? JSON.stringify(value, null, 2) : human());
    return await cmd.run({ api, args, v, io, print });
  } catch (err) {
    if (err instanceof UsageError) {
      io.err(`supervisor: ${err.message}\n${HINT}`);
      return EXIT.usage;
    }
    if (err instanceof ApiError) {
      io.err(`error: ${err.message}${err.status ? ` (${err.code}, HTTP ${err.status})` : ''}${detailText(err.details)}`);
      return EXIT.api;
    }
    throw err;
  }
}

function detailText(details: unknown): string {
  if (!Array.isArray(details)) return details === undefined || details === null ? '' : `\n  ${JSON.stringify(details)}`;
  return details.map((d: { path?: string; message?: string }) => `\n  ${d.path || '(body)'}: ${d.message ?? JSON.stringify(d)}`).join('');
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

function seconds(v: Values): number {
  const n = v.interval === undefined ? 1 : Number(v.interval);
  if (!Number.isFinite(n) || n <= 0) throw new UsageError('--interval must be a positive number of seconds');
  return n * 1000;
}

/** The clock and sleep tests replace. */
const timing = (io: CliIo) => ({ ...(io.sleep ? { sleep: io.sleep } : {}), ...(io.now ? { now: io.now } : {}) });

const runPath = (id: string) => `/v1/runs/${encodeURIComponent(id)}`;

async function createRun({ api, args, v, io, print }: Ctx): Promise<number> {
  if (!v.agent) throw new UsageError('runs create needs --agent <id>');
  const input = jsonObject('input', v.input) ?? {};
  const metadata = jsonObject('metadata', v.metadata);
  const pollMs = seconds(v);
  const { status, headers, body } = await api.json<PublicRunRecord>('POST', `/v1/graphs/${encodeURIComponent(args[0]!)}/runs`, {
    body: { agent_id: v.agent, input, ...(metadata ? { metadata } : {}), ...(v.webhook ? { webhook: v.webhook } : {}) },
    ...(v['idempotency-key'] ? { headers: { 'idempotency-key': v['idempotency-key'] } } : {}),
  });
  // 200 is how servers before 2026-11-28 answered a replay
  const how = headers.get('idempotent-replayed') === 'true' || status === 200 ? 'existing run (same Idempotency-Key)' : 'created';
  if (!v.wait) {
    print(body, () => `${how} ${body.run_id} (${body.graph}, ${body.status})`);
    return EXIT.ok;
  }

  if (!v.json) io.out(`${how} ${body.run_id} (${body.graph}); waiting for it to finish`);
  await followEvents(api, body.run_id, (e) => !v.json && io.out(eventLine(e)), { pollMs, ...timing(io) });
  const final = (await api.json<PublicRunRecord>('GET', runPath(body.run_id))).body;
  print(final, () => runDetail(final));
  return final.status === 'succeeded' ? EXIT.ok : EXIT.runNotSucceeded;
}

async function getRun({ api, args, print }: Ctx): Promise<number> {
  const { body } = await api.json<PublicRunRecord>('GET', runPath(args[0]!));
  print(body, () => runDetail(body));
  return EXIT.ok;
}

async function listRuns({ api, v, print }: Ctx): Promise<number> {
  if (v.limit !== undefined && !/^\d+$/.test(v.limit)) throw new UsageError('--limit must be a whole number');
  const { body } = await api.json<RunPage>('GET', '/v1/runs', {
    query: { graph: v.graph, status: v.status, agent_id: v.agent, limit: v.limit, cursor: v.cursor },
  });
  const more = body.next_cursor ? `\nmore: supervisor runs list --cursor ${body.next_cursor}` : '';
  print(body, () => runRows(body.runs) + more);
  return EXIT.ok;
}

async function cancelRun({ api, args, v, print }: Ctx): Promise<number> {
  const { body } = await api.json<PublicRunRecord>('POST', `${runPath(args[0]!)}/cancel`, { body: v.reason ? { reason: v.reason } : {} });
  const note = body.status === 'cancelling' ? ' (stops at its next step; its tool call in flight is aborted)' : '';
  print(body, () => `${body.run_id} ${body.status}${note}`);
  return EXIT.ok;
}

async function runEvents({ api, args, v, io }: Ctx): Promise<number> {
  const show = (e: Parameters<typeof eventLine>[0]) => io.out(v.json ? JSON.stringify(e) : eventLine(e));
  if (v.follow) {
    await followEvents(api, args[0]!, show, { pollMs: seconds(v), ...timing(io) });
    return EXIT.ok;
  }
  if (v.interval !== undefined) throw new UsageError('--interval needs --follow');
  const { body } = await api.json<{ events: Array<Parameters<typeof eventLine>[0]> }>('GET', `${runPath(args[0]!)}/events`);
  body.events.forEach(show);
  return EXIT.ok;
}

async function listGraphs({ api, print }: Ctx): Promise<number> {
  const { body } = await api.json<GraphList>('GET', '/v1/graphs');
  print(body, () => body.graphs.map(graphText).join('\n\n'));
  return EXIT.ok;
}
