/**
 * A throwaway redis-server on a free loopback port, owned by the calling script: nobody else's
 * traffic shows up in its INFO commandstats, and a chaos script may kill and restart it at will.
 * The data dir is a fresh temp dir, removed on stop. The server is killed when this process exits.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';

export interface RedisServerOptions {
  /** AOF with `appendfsync everysec` (the durable production setting); default: no persistence. */
  aof?: boolean;
  port?: number;
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

async function answers(port: number): Promise<boolean> {
  const r = new Redis({ port, host: '127.0.0.1', lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null, enableOfflineQueue: false });
  r.on('error', () => undefined);
  try {
    await r.connect();
    return (await r.ping()) === 'PONG';
  } catch {
    return false;
  } finally {
    r.disconnect();
  }
}

export class RedisServer {
  private child?: ChildProcess;
  private readonly dir = mkdtempSync(join(tmpdir(), 'bench-redis-'));
  readonly url: string;

  private constructor(readonly port: number, private readonly opts: RedisServerOptions) {
    this.url = `redis://127.0.0.1:${port}`;
    process.once('exit', () => this.child?.kill('SIGKILL'));
  }

  static async start(opts: RedisServerOptions = {}): Promise<RedisServer> {
    // BENCH_REDIS_PORT: a fixed port, for a machine where each user of it has its own ports
    const fixed = Number(process.env.BENCH_REDIS_PORT ?? 0);
    const s = new RedisServer(opts.port ?? (fixed > 0 ? fixed : await freePort()), opts);
    await s.launch();
    return s;
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }

  /** (Re)starts the server on the same port and data dir (an AOF is replayed on start). */
  async launch(): Promise<void> {
    const persist = this.opts.aof ? ['--appendonly', 'yes', '--appendfsync', 'everysec'] : ['--appendonly', 'no'];
    this.child = spawn('redis-server', [
      '--port', String(this.port), '--bind', '127.0.0.1', '--dir', this.dir, '--save', '',
      '--maxmemory-policy', 'noeviction', '--daemonize', 'no', '--loglevel', 'warning', ...persist,
    ], { stdio: 'ignore' });
    const deadline = Date.now() + 10_000;
    while (!(await answers(this.port))) {
      if (this.child.exitCode !== null) throw new Error(`redis-server on port ${this.port} exited with ${this.child.exitCode}`);
      if (Date.now() > deadline) throw new Error(`redis-server on port ${this.port} did not answer within 10 s`);
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  /** Stops the process: SIGTERM = Redis shuts down cleanly (AOF flushed); SIGKILL = crash. */
  async kill(signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
    const c = this.child;
    if (!c || c.exitCode !== null || c.signalCode !== null) return;
    const exited = new Promise((r) => c.once('exit', r));
    c.kill(signal);
    await exited;
  }

  client(): Redis {
    return new Redis(this.url, { maxRetriesPerRequest: 3 });
  }

  async stop(): Promise<void> {
    await this.kill('SIGKILL');
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** `INFO commandstats` as { command: calls }. */
export async function commandStats(r: Redis): Promise<Record<string, number>> {
  const text = await r.info('commandstats');
  const out: Record<string, number> = {};
  for (const m of text.matchAll(/^cmdstat_([^:]+):calls=(\d+)/gm)) out[m[1]!] = Number(m[2]);
  return out;
}

export function diffStats(after: Record<string, number>, before: Record<string, number>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [k, v] of Object.entries(after)) {
    const d = v - (before[k] ?? 0);
    if (d > 0) out[k] = d;
  }
  return out;
}
