import { CallLog } from './calls.js';
import { type SimConfig, DEFAULT_CONFIG } from './config.js';
import { Prng } from './rand.js';
import type { ToolStores } from './tools/index.js';

export interface StoredAnswer {
  status: number;
  body: unknown;
}

/**
 * Idempotency keys the sim remembers (executed calls, stored answers of side effects): beyond this
 * the oldest tenth is forgotten, so a sim left running for days (scripts/start.sh with schedules)
 * keeps a bounded memory. A replay of a forgotten key runs again: far older than any retry.
 */
export const MAX_REMEMBERED_KEYS = 200_000;

/** Drops the oldest tenth of a Set or Map (insertion order) once it holds more than `max`. */
function bound(c: Set<string> | Map<string, unknown>, max: number): void {
  if (c.size <= max) return;
  let drop = c.size - max + Math.ceil(max / 10);
  for (const k of c.keys()) {
    if (drop-- <= 0) break;
    c.delete(k);
  }
}

/** All the sim's in-memory state; `reset()` brings it back to how it started. */
export class SimState {
  config: SimConfig;
  readonly calls = new CallLog();
  stores: ToolStores = SimState.emptyStores();
  rng: Prng;
  /** First answer of each side-effecting call, by `tool.action` + idempotency key. */
  answers = new Map<string, StoredAnswer>();
  /** `tool.action` + idempotency key of every executed call (reads included). */
  executed = new Set<string>();

  constructor(
    private readonly initialConfig: SimConfig,
    private readonly seed: string | number,
    readonly now: () => number,
    private readonly maxKeys = MAX_REMEMBERED_KEYS,
  ) {
    this.config = structuredClone(initialConfig);
    this.rng = new Prng(seed);
  }

  private static emptyStores(): ToolStores {
    return { jobs: new Map(), incidents: new Map(), counters: { jobs: 0, artifacts: 0, events: 0 } };
  }

  /** Records that a call with this key ran (and the answer of a side effect), within MAX_REMEMBERED_KEYS. */
  remember(idemKey: string, answer?: StoredAnswer): void {
    this.executed.add(idemKey);
    bound(this.executed, this.maxKeys);
    if (answer) {
      this.answers.set(idemKey, answer);
      bound(this.answers, this.maxKeys);
    }
  }

  /** Back to the start: config, PRNG, calls, jobs, incidents and idempotency memory. */
  reset(): void {
    this.config = structuredClone(this.initialConfig);
    this.rng = new Prng(this.seed);
    this.calls.clear();
    this.stores = SimState.emptyStores();
    this.answers.clear();
    this.executed.clear();
  }

  static create(opts: { config?: Partial<SimConfig>; seed?: string | number; now?: () => number; maxKeys?: number }): SimState {
    return new SimState({ ...DEFAULT_CONFIG, ...opts.config }, opts.seed ?? 'gateway-sim', opts.now ?? Date.now, opts.maxKeys);
  }
}
