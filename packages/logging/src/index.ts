import winston from 'winston';

export type LogFormat = 'text' | 'json';
export interface LoggerOptions {
  service: string;
  level?: string;
  format?: LogFormat;
  /** Where lines go; defaults to stdout. Tests pass a stream to read lines back. */
  stream?: NodeJS.WritableStream;
}
export type Logger = winston.Logger;

/** `2026-02-23T10:00:01Z`, the runbook's timestamp (second precision; formatted once a second). */
let stampSec = Number.NaN;
let stampText = '';
const stamp = () => {
  const sec = Math.floor(Date.now() / 1000);
  if (sec !== stampSec) {
    stampSec = sec;
    stampText = `${new Date(sec * 1000).toISOString().slice(0, 19)}Z`;
  }
  return stampText;
};

function fmtValue(v: unknown): string {
  if (v === null || v === undefined) return String(v);
  if (typeof v === 'object') return JSON.stringify(v);
  const s = String(v);
  return /[\s"=]/.test(s) ? JSON.stringify(s) : s;
}

const HIDDEN = new Set(['level', 'message', 'timestamp', 'service']);

/** The runbook's line: `<ts> [INFO] <event> key=value ...` */
export const textFormat = winston.format.printf((info) => {
  const pairs = Object.entries(info)
    .filter(([k]) => !HIDDEN.has(k))
    .map(([k, v]) => `${k}=${fmtValue(v)}`);
  return [`${info.timestamp} [${String(info.level).toUpperCase()}] ${String(info.message)}`, ...pairs].join(' ');
});

/**
 * One logger per process. Callers log an event name plus flat metadata, never payloads:
 * `log.info('gateway_ok', { tool, node, run, elapsed_ms })`.
 */
export function createLogger(opts: LoggerOptions): Logger {
  const transport = opts.stream
    ? new winston.transports.Stream({ stream: opts.stream })
    : new winston.transports.Console();
  // winston formats every message and lets the transport drop it by level afterwards; dropping it
  // first saves a worker the formatting of its per-step debug/info lines it does not print
  const enabled = winston.format((info) => (logger.isLevelEnabled(info.level) ? info : false));
  const logger: Logger = winston.createLogger({
    level: opts.level ?? 'info',
    defaultMeta: { service: opts.service },
    format: winston.format.combine(
      enabled(),
      winston.format.timestamp({ format: stamp }),
      opts.format === 'json' ? winston.format.json() : textFormat,
    ),
    transports: [transport],
  });
  skipDisabledLevels(logger);
  return logger;
}

/**
 * `log.debug(…)` below the level returns at once. The `enabled` format above keeps a dropped line
 * from being formatted, but only once winston has built its info object and pushed it through its
 * object stream (a Transform per logger); a worker makes such a call per node step. The check is
 * winston's own rule — the logger's level, or a transport's own, whichever lets more through —
 * read at each call, so a level changed later is followed.
 */
function skipDisabledLevels(logger: Logger): void {
  const levels = logger.levels;
  const passes = (level: string, max: string | undefined) => max !== undefined && levels[max] !== undefined && levels[level]! <= levels[max]!;
  const enabled = (level: string) => passes(level, logger.level) || logger.transports.some((t) => passes(level, t.level));
  const methods = logger as unknown as Record<string, (this: Logger | undefined, ...args: unknown[]) => Logger>;
  for (const level of Object.keys(levels)) {
    const write = methods[level];
    if (typeof write !== 'function') continue;
    // `this`: a child logger (winston's child() inherits these methods) writes through itself
    methods[level] = function (...args) {
      const self = this ?? logger;
      return enabled(level) ? write.apply(self, args) : self;
    };
  }
}

/**
 * For a line that comes in bursts (every connection of a process reports every reconnect attempt
 * while Redis is down: ~65 lines in the first second, measured): the first is written at once, then
 * at most one per `everyMs`, carrying `repeated=<n>`, the lines folded into it since the last.
 */
export function burstLimited<F extends Record<string, unknown>>(write: (fields: F) => void, everyMs = 5_000, now: () => number = Date.now): (fields: F) => void {
  let last = Number.NEGATIVE_INFINITY;
  let folded = 0;
  return (fields) => {
    const t = now();
    if (t - last < everyMs) {
      folded++;
      return;
    }
    write(folded > 0 ? { ...fields, repeated: folded } : fields);
    last = t;
    folded = 0;
  };
}

/**
 * The runbook's `Redis connection error error="…"` line, as an ioredis/BullMQ 'error' listener: one
 * line per burst and 5 s (burstLimited), since every connection reports every reconnect attempt.
 */
export function redisConnectionErrors(log: Logger, everyMs = 5_000): (err: Error) => void {
  const write = burstLimited((f: { error: string }) => log.error('Redis connection error', f), everyMs);
  return (err) => write({ error: err.message });
}
