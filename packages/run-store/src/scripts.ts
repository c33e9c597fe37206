import { readFileSync } from 'node:fs';
import type { Cluster, Redis } from 'ioredis';

export type RedisClient = Redis | Cluster;
export type ScriptName = 'create' | 'commit' | 'remove' | 'fill-live';

// read relative to this module, so it works from src (tests) and from dist (build copies lua/)
const source = (name: ScriptName) => readFileSync(new URL(`./lua/${name}.lua`, import.meta.url), 'utf8');
const SOURCES: Record<ScriptName, string> = { create: source('create'), commit: source('commit'), remove: source('remove'), 'fill-live': source('fill-live') };

// namespaced: BullMQ and others define their own commands on shared connections
const commandName = (name: ScriptName) => `runStore_${name.replace('-', '_')}`;

export interface Scripts {
  run(name: ScriptName, keys: string[], args: Array<string | number>): Promise<unknown>;
}

/** Defines the scripts on the connection (EVALSHA, falling back to EVAL once per connection). */
export function defineScripts(redis: RedisClient): Scripts {
  const commands = redis as unknown as Record<string, (...args: Array<string | number>) => Promise<unknown>>;
  for (const name of Object.keys(SOURCES) as ScriptName[]) {
    // numberOfKeys is left open: create and remove take an optional idempotency key
    if (typeof commands[commandName(name)] !== 'function') redis.defineCommand(commandName(name), { lua: SOURCES[name] });
  }
  return {
    run: (name, keys, args) => commands[commandName(name)]!.call(redis, keys.length, ...keys, ...args),
  };
}
