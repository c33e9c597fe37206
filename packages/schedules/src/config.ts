import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { AppError } from '@sup/contracts';
import type { GraphDefinition } from '@sup/graphs';
import { validateSchedule, type Schedule } from './schema.js';

/** Thrown for a bad SCHEDULES_FILE / SCHEDULES; its message is the one line printed at start-up. */
export class ScheduleConfigError extends Error {
  constructor(variable: string, value: string, problem: string) {
    super(`invalid configuration: ${variable}=${JSON.stringify(value.length > 80 ? `${value.slice(0, 77)}...` : value)}: ${problem}`);
    this.name = 'ScheduleConfigError';
  }
}

// An empty list removes every config schedule, so it must be written out: a blank file, one of only
// comments or a bare `schedules:` (every entry commented out) is more likely a mistake than that.
const NOTHING = 'no schedules in it (empty, blank or only comments); to remove every config schedule write schedules: [] (or [])';

// a list, or `{schedules: [...]}` so the file can grow other top-level keys later; else what is wrong
function entries(doc: unknown): unknown[] | string {
  if (doc === null || doc === undefined) return NOTHING;
  if (Array.isArray(doc)) return doc;
  if (typeof doc === 'object' && 'schedules' in doc) {
    const list = (doc as { schedules: unknown }).schedules;
    if (list === null) return NOTHING;
    if (Array.isArray(list)) return list;
  }
  return 'expected a list of schedules or {schedules: [...]}';
}

function fromSource(variable: string, value: string, text: string, graphs: Record<string, GraphDefinition>): Schedule[] {
  let doc: unknown;
  try {
    // YAML 1.2 is a superset of JSON, so one parser reads both
    doc = parseYaml(text);
  } catch (err) {
    throw new ScheduleConfigError(variable, value, `not valid YAML or JSON: ${(err as Error).message.split('\n')[0]}`);
  }
  const list = entries(doc);
  if (typeof list === 'string') throw new ScheduleConfigError(variable, value, list);
  return list.map((item, i) => {
    const id = (item as { id?: unknown } | null)?.id;
    const where = `schedules[${i}]${typeof id === 'string' ? ` (${id})` : ''}`;
    if (typeof id !== 'string') throw new ScheduleConfigError(variable, value, `${where}: id is required (configured schedules are matched by id)`);
    try {
      return validateSchedule(item, graphs, 'config', new Date(), where);
    } catch (err) {
      if (err instanceof AppError) throw new ScheduleConfigError(variable, value, err.message);
      throw err;
    }
  });
}

/**
 * The schedules the configuration declares, validated like POST /v1/schedules, or null when neither
 * SCHEDULES_FILE nor SCHEDULES is set (then config schedules in Redis are left alone: an instance
 * started without the variables must not wipe a deployment's schedules). A variable holding only
 * whitespace (`SCHEDULES=' '`, a template that filled in nothing) counts as unset.
 */
export function loadScheduleConfig(
  given: { SCHEDULES_FILE: string; SCHEDULES: string }, graphs: Record<string, GraphDefinition>,
  readFile: (path: string) => string = (p) => readFileSync(p, 'utf8'),
): Schedule[] | null {
  const set = (v: string) => (v.trim() === '' ? '' : v);
  const env = { SCHEDULES_FILE: set(given.SCHEDULES_FILE), SCHEDULES: set(given.SCHEDULES) };
  if (!env.SCHEDULES_FILE && !env.SCHEDULES) return null;
  const out: Schedule[] = [];
  if (env.SCHEDULES_FILE) {
    let text: string;
    try {
      text = readFile(env.SCHEDULES_FILE);
    } catch (err) {
      throw new ScheduleConfigError('SCHEDULES_FILE', env.SCHEDULES_FILE, `cannot read the file: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
    }
    out.push(...fromSource('SCHEDULES_FILE', env.SCHEDULES_FILE, text, graphs));
  }
  if (env.SCHEDULES) out.push(...fromSource('SCHEDULES', env.SCHEDULES, env.SCHEDULES, graphs));
  const seen = new Set<string>();
  for (const s of out) {
    if (seen.has(s.id)) {
      const variable = env.SCHEDULES ? 'SCHEDULES' : 'SCHEDULES_FILE';
      throw new ScheduleConfigError(variable, env.SCHEDULES || env.SCHEDULES_FILE, `schedule id ${s.id} is declared twice`);
    }
    seen.add(s.id);
  }
  return out;
}
