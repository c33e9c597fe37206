import { parseArgs } from 'node:util';
import { ApiClient, ApiError } from './client.js';
import { checkArg, COMMANDS, EXIT, OPTIONS, UsageError, type CliIo, type Values } from './commands.js';
import { commandUsage, USAGE, version } from './usage.js';

export { EXIT, type CliIo } from './commands.js';
export { USAGE } from './usage.js';

const hint = (name?: string) => `run 'supervisor ${name && Object.hasOwn(COMMANDS, name) ? `${name} ` : ''}--help' for usage`;

/** Runs one command line; returns the exit code. Everything it prints goes through `io`. */
export async function run(argv: string[], io: CliIo): Promise<number> {
  let parsed: { values: Values; positionals: string[] };
  try {
    parsed = parseArgs({ args: argv, options: OPTIONS, allowPositionals: true, strict: true });
  } catch (err) {
    return usageError(io, argv.includes('--json'), (err as Error).message);
  }
  const { values: v, positionals: pos } = parsed;
  const name = pos[0] === 'runs' ? `runs ${pos[1] ?? ''}`.trim() : (pos[0] ?? '');
  const cmd = Object.hasOwn(COMMANDS, name) ? COMMANDS[name] : undefined;
  try {
    if (v.version) {
      io.out(version());
      return EXIT.ok;
    }
    if (v.help && (cmd || name === '' || name === 'runs')) {
      io.out(cmd ? commandUsage(name) : USAGE);
      return EXIT.ok;
    }
    if (!cmd) throw new UsageError(name ? `unknown command "${name}"` : 'no command given');
    const args = pos.slice(name.split(' ').length);
    if (args.length !== cmd.args.length) throw new UsageError(`${name} takes ${cmd.args.map((a) => `<${a}>`).join(' ') || 'no arguments'}`);
    cmd.args.forEach((kind, i) => checkArg(kind, args[i]!));
    const allowed = new Set<string>(['url', 'api-key', 'json', 'help', 'version', ...cmd.options]);
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
    if (err instanceof UsageError) return usageError(io, v.json === true, err.message, name);
    if (err instanceof ApiError) {
      // --json: the API's error body as it came (the CLI's own errors in its shape)
      io.err(v.json ? (err.body ?? errorJson(err.code, err.message, err.details)) : errorText(err));
      return EXIT.api;
    }
    // a bug of ours: still one line, not a stack
    const e = err as Error;
    io.err(v.json ? errorJson('internal', `${e.name}: ${e.message}`) : `supervisor: internal error: ${e.name}: ${e.message}`);
    return EXIT.api;
  }
}

/** An error of the CLI itself in the shape of the API's error bodies (for --json). */
const errorJson = (code: string, message: string, details: unknown = null) => JSON.stringify({ error: { code, message, details: details ?? null } });

function usageError(io: CliIo, json: boolean, message: string, name?: string): number {
  io.err(json ? errorJson('usage', message) : `supervisor: ${message}\n${hint(name)}`);
  return EXIT.usage;
}

/** The API's own errors name their code and status; the others say what came in their message. */
const errorText = (err: ApiError) => `error: ${err.message}${err.body !== undefined ? ` (${err.code}, HTTP ${err.status})` : ''}${detailText(err.details)}`;

function detailText(details: unknown): string {
  if (!Array.isArray(details)) return details === undefined || details === null ? '' : `\n  ${JSON.stringify(details)}`;
  return details.map((d: { path?: string; message?: string }) => `\n  ${d.path || '(body)'}: ${d.message ?? JSON.stringify(d)}`).join('');
}
