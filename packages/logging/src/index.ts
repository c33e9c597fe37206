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

/** `2026-02-23T10:00:01Z`, the runbook's timestamp (second precision). */
const stamp = () => new Date().toISOString().replace(/\.\d{3}Z$/, 'Z');

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
  return winston.createLogger({
    level: opts.level ?? 'info',
    defaultMeta: { service: opts.service },
    format: winston.format.combine(
      winston.format.timestamp({ format: stamp }),
      opts.format === 'json' ? winston.format.json() : textFormat,
    ),
    transports: [transport],
  });
}
