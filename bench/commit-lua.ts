/**
 * What one step's commit costs Redis, and what each part of commit.lua is worth: redis-server CPU
 * per call of the script (INFO cpu delta ÷ calls) on a throwaway redis-server, node-step commits of
 * a noop8-sized record (~2.1 KB) with one event, pipelined 200 at a time so the client does not
 * limit it. Besides the script as shipped, variants made from its text — each leaves one thing
 * out, to price it, not to ship it:
 *
 *   empty        `return {'ok'}`: the script call with the same keys and arguments, nothing done
 *   get-only     the GET of the current record, nothing else
 *   no-expire    without the EXPIRE of the events stream
 *   no-publish   without the PUBLISH that wakes SSE followers
 *   full-get     the checks read the whole record (GET), as before 2026-11-29 evening, instead of
 *                its first 512 bytes (GETRANGE)
 *
 * The variants take turns, `--rounds` times, so the neighbours' load hits all alike; medians.
 *
 *   pnpm exec tsx bench/commit-lua.ts [--rounds=5] [--calls=20000]
 */
import { readFileSync } from 'node:fs';
import { Redis } from 'ioredis';
import { RedisServer } from './lib/redis-server.js';
import { arg, infoNumber, load, say } from './lib/util.js';

const rounds = arg('rounds', 5);
const calls = arg('calls', 20_000);
const PIPE = 200;
const commit = readFileSync(new URL('../packages/run-store/src/lua/commit.lua', import.meta.url), 'utf8');
const without = (line: RegExp) => {
  if (!line.test(commit)) throw new Error(`commit.lua has no line ${line}`);
  return commit.replace(line, '-- (left out)');
};
const swap = (from: string, to: string) => {
  if (!commit.includes(from)) throw new Error(`commit.lua has no ${from}`);
  return commit.replace(from, to);
};
const variants: Record<string, string> = {
  shipped: commit,
  empty: "return {'ok'}",
  'get-only': "local cur = redis.call('GET', KEYS[1])\nreturn {'ok'}",
  'no-expire': without(/^redis\.call\('EXPIRE', KEYS\[2\], ARGV\[4\]\)$/m),
  'no-publish': without(/^if ARGV\[5\] ~= '' and #ARGV >= 8 then redis\.call\('PUBLISH'.*$/m),
  'full-get': swap("local cur = redis.call('GETRANGE', KEYS[1], 0, HEAD_BYTES - 1)", "local cur = redis.call('GET', KEYS[1]) or ''"),
};

const server = await RedisServer.start();
const r = new Redis(server.url);
const cpu = async () => {
  const info = await r.info('cpu');
  return infoNumber(info, 'used_cpu_user') + infoNumber(info, 'used_cpu_sys');
};

// a running noop8 record as the worker writes it: head fields first, 8 history entries, snapshot
const at = '2026-11-29T19:54:47.272Z';
const record = (id: string) => JSON.stringify({
  run_id: id, status: 'running', lease: 'L1', graph: 'noop8', agent_id: 'bench', current_node: 'node_7',
  created_at: at, started_at: at, finished_at: null, updated_at: at, attempt: 1, input: {}, webhook: null,
  trigger: { type: 'api' }, parent_run_id: null, result: null, error: null,
  nodes: Array.from({ length: 8 }, (_, i) => ({ node: `node_${i}`, visit: 1, status: 'succeeded', started_at: at, finished_at: at, duration_ms: 1, tool_calls: 0 })),
  snapshot: {
    status: 'active', value: { node_7: 'ready' }, historyValue: {},
    context: {
      input: {}, outputs: Object.fromEntries(Array.from({ length: 7 }, (_, i) => [`node_${i}`, { i }])),
      visits: Object.fromEntries(Array.from({ length: 8 }, (_, i) => [`node_${i}`, 1])), park: 0, retries: 0, delayMs: 0, reason: '', error: null, last: 'node_6',
    },
    children: {},
  },
});
const event = JSON.stringify({ ts: at, type: 'node_finished', node: 'node_6', data: { tool_calls: 0, duration_ms: 1, visit: 1, outcome: 'ok', next: 'node_7' } });
const ids = Array.from({ length: PIPE }, (_, i) => `run:b${i}`);
const json = ids.map(record);
say(`one record: ${json[0]!.length} B; ${calls} calls per variant and round, ${rounds} rounds; load ${load()}`);

async function perCall(src: string): Promise<number> {
  const sha = (await r.script('LOAD', src)) as string;
  const fresh = r.pipeline();
  for (const [i, id] of ids.entries()) fresh.del(`${id}:events`).set(id, json[i]!);
  await fresh.exec();
  const c0 = await cpu();
  for (let sent = 0; sent < calls; sent += PIPE) {
    const p = r.pipeline();
    for (const [i, id] of ids.entries()) p.evalsha(sha, 2, id, `${id}:events`, 'running', 'L1', json[i]!, 86_400, 'run-events', id, '', event);
    const res = (await p.exec())!;
    const bad = res.find(([err, reply]) => err || String(reply) !== 'ok');
    if (bad) throw new Error(`script answered ${String(bad[0] ?? bad[1])}`);
  }
  return ((await cpu()) - c0) * 1e6 / calls;
}

const seen: Record<string, number[]> = {};
for (let i = 0; i < rounds; i++) {
  const names = Object.keys(variants);
  for (const name of i % 2 ? names.reverse() : names) (seen[name] ??= []).push(await perCall(variants[name]!));
}
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1]!;
for (const [name, xs] of Object.entries(seen)) {
  console.log(`${name.padEnd(11)} ${median(xs).toFixed(1).padStart(6)} µs of redis-server CPU per call (${Math.min(...xs).toFixed(1)}–${Math.max(...xs).toFixed(1)})`);
}
say(`load ${load()}`);
await r.quit();
await server.stop();
process.exit(0);
