import { readFileSync } from 'node:fs';
import { loadavg } from 'node:os';

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
export const say = (m: string) => process.stderr.write(`${m}\n`);
export const load = () => loadavg().map((x) => x.toFixed(2)).join(' ');

export function pct(xs: number[], p: number): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]!;
}

/** The largest value (NaN when empty, like pct); `Math.max(...xs)` overflows the stack past ~100 000 values. */
export function maxOf(xs: number[]): number {
  return xs.length === 0 ? NaN : xs.reduce((a, b) => Math.max(a, b), -Infinity);
}

/** `--name=value` from argv, else the default. */
/** One field of a Redis INFO reply (`used_memory`, `role`, `master_link_status`, ...). */
export function infoField(info: string, key: string): string | undefined {
  return info.split('\r\n').find((l) => l.startsWith(`${key}:`))?.slice(key.length + 1);
}

/** A numeric INFO field; throws when Redis did not report it. */
export function infoNumber(info: string, key: string): number {
  const v = infoField(info, key);
  if (v === undefined) throw new Error(`INFO has no ${key}`);
  return Number(v);
}

export function arg(name: string, dflt: number): number {
  const a = process.argv.find((x) => x.startsWith(`--${name}=`));
  return a ? Number(a.slice(name.length + 3)) : dflt;
}

/**
 * The e2e harness (e2e/src/system.ts) reads REDIS_URL when it is first imported: set it to the
 * script's own redis-server, then import. Call before anything else imports system.js.
 */
export async function systemOn(redisUrl: string) {
  process.env.REDIS_URL = redisUrl;
  return (await import('../../e2e/src/system.js')).System;
}

const TICK = 100; // USER_HZ on Linux

/** CPU seconds (user+sys) and RSS bytes of a process, from /proc. */
export function procStats(pid: number): { cpuSec: number; rssBytes: number } | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const cpuSec = (Number(fields[11]) + Number(fields[12])) / TICK;
    const rss = readFileSync(`/proc/${pid}/status`, 'utf8').match(/VmRSS:\s+(\d+) kB/);
    return { cpuSec, rssBytes: rss ? Number(rss[1]) * 1024 : NaN };
  } catch {
    return null;
  }
}

export const mb = (b: number) => `${(b / 1048576).toFixed(1)} MB`;

type AnySystem = { sim?: { child: import('node:child_process').ChildProcess }; apis: Array<{ child: import('node:child_process').ChildProcess }>; workers: Array<{ child: import('node:child_process').ChildProcess }>; start(): Promise<unknown> };

/**
 * Constructs and starts a harness System so that its processes die with this script whatever
 * happens — also when start() itself fails halfway (the gateway-sim is already running then).
 */
export async function startSystem<S extends AnySystem>(System: new (opts: never) => S, opts: object): Promise<S> {
  const sys = new System(opts as never);
  process.once('exit', () => {
    for (const p of [...sys.workers, ...sys.apis, ...(sys.sim ? [sys.sim] : [])]) {
      if (p.child.exitCode === null && p.child.signalCode === null) p.child.kill('SIGKILL');
    }
  });
  await sys.start();
  return sys;
}
