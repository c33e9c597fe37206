import { CallLog } from './calls.js';
import { type SimConfig, DEFAULT_CONFIG } from './config.js';
import { Prng } from './rand.js';
import type { ToolStores } from './tools/index.js';

export interface StoredAnswer {
  status: number;
  body: unknown;
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
  ) {
    this.config = structuredClone(initialConfig);
    this.rng = new Prng(seed);
  }

  private static emptyStores(): ToolStores {
    return { jobs: new Map(), incidents: new Map(), counters: { jobs: 0, artifacts: 0, events: 0 } };
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

  static create(opts: { config?: Partial<SimConfig>; seed?: string | number; now?: () => number }): SimState {
    return new SimState({ ...DEFAULT_CONFIG, ...opts.config }, opts.seed ?? 'gateway-sim', opts.now ?? Date.now);
  }
}
