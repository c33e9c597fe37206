import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { startProcess, stopProc, until, type Proc } from './procs.js';

const run = promisify(execFile);

/** Throwaway redis-server processes for one suite: each in a temp dir, stopped by PID. */

async function portFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createServer();
    s.once('error', () => resolve(false));
    s.listen(port, '127.0.0.1', () => s.close(() => resolve(true)));
  });
}

/**
 * A free port whose +10000 (the Cluster bus port) is free as well, picked at random in 20000–29999
 * so parallel suites rarely collide (the bus port may fall in the kernel's ephemeral range, hence
 * the check of both).
 */
export async function freeRedisPort(): Promise<number> {
  for (let i = 0; i < 200; i++) {
    const p = 20_000 + Math.floor(Math.random() * 10_000);
    if ((await portFree(p)) && (await portFree(p + 10_000))) return p;
  }
  throw new Error('no free port pair for redis-server');
}

export async function redisCli(port: number, ...args: string[]): Promise<string> {
  const { stdout } = await run('redis-cli', ['-h', '127.0.0.1', '-p', String(port), ...args], { timeout: 30_000 });
  return stdout.trim();
}

export interface RedisServer {
  port: number;
  url: string;
  proc: Proc;
  dir: string;
}

/** redis-server in the foreground (a child of this process), nothing on disk unless args say so. */
export async function startRedisServer(args: string[] = [], name = 'redis'): Promise<RedisServer> {
  const port = await freeRedisPort();
  const dir = mkdtempSync(join(tmpdir(), `sup-${name}-`));
  const proc = startProcess('redis-server', [
    '--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--save', '', '--appendonly', 'no', ...args,
  ], { PATH: process.env.PATH ?? '' }, `${name}:${port}`);
  const server = { port, url: `redis://127.0.0.1:${port}`, proc, dir };
  try {
    await proc.waitFor(/Ready to accept connections/);
  } catch (err) {
    await stopRedisServer(server);
    throw err;
  }
  return server;
}

export async function stopRedisServer(s: RedisServer | undefined): Promise<void> {
  if (!s) return;
  await stopProc(s.proc);
  rmSync(s.dir, { recursive: true, force: true });
}

/** A local Redis Cluster of `masters` masters and no replicas, all slots assigned. */
export class LocalCluster {
  readonly servers: RedisServer[] = [];

  /** `host:port,...` as REDIS_CLUSTER_NODES takes it. */
  get nodes(): string {
    return this.servers.map((s) => `127.0.0.1:${s.port}`).join(',');
  }

  async start(masters = 3): Promise<this> {
    for (let i = 0; i < masters; i++) {
      this.servers.push(await startRedisServer([
        '--cluster-enabled', 'yes', '--cluster-config-file', 'nodes.conf', '--cluster-node-timeout', '5000',
        '--maxmemory-policy', 'noeviction',
      ], `cluster${i}`));
    }
    await run('redis-cli', ['--cluster', 'create', ...this.servers.map((s) => `127.0.0.1:${s.port}`), '--cluster-replicas', '0', '--cluster-yes'], { timeout: 60_000 });
    // every node must agree the cluster is up (gossip settles after create returns)
    await until('cluster_state:ok on every node', async () => {
      for (const s of this.servers) {
        if (!(await redisCli(s.port, 'CLUSTER', 'INFO')).includes('cluster_state:ok')) return false;
      }
      return true;
    }, 30_000, 100);
    return this;
  }

  async stop(): Promise<void> {
    await Promise.allSettled(this.servers.map((s) => stopRedisServer(s)));
  }
}

/** A master, one replica and one sentinel watching the master as `name`. */
export class LocalSentinel {
  master!: RedisServer;
  replica!: RedisServer;
  sentinel!: RedisServer;
  private confDir = '';

  constructor(readonly name = 'mymaster') {}

  async start(): Promise<this> {
    // diskless sync starts at once (Redis waits 5 s by default for more replicas to join)
    const sync = ['--repl-diskless-sync-delay', '0'];
    this.master = await startRedisServer(['--maxmemory-policy', 'noeviction', ...sync], 'sentinel-master');
    this.replica = await startRedisServer(['--maxmemory-policy', 'noeviction', ...sync, '--replicaof', '127.0.0.1', String(this.master.port)], 'sentinel-replica');
    await this.replica.proc.waitFor(/MASTER <-> REPLICA sync: Finished with success/);
    const port = await freeRedisPort();
    this.confDir = mkdtempSync(join(tmpdir(), 'sup-sentinel-'));
    const conf = join(this.confDir, 'sentinel.conf');
    // the sentinel rewrites its own file, so it lives in a writable temp dir
    writeFileSync(conf, [
      `port ${port}`, 'bind 127.0.0.1', `dir ${this.confDir}`,
      `sentinel monitor ${this.name} 127.0.0.1 ${this.master.port} 1`,
      `sentinel down-after-milliseconds ${this.name} 1000`,
      `sentinel failover-timeout ${this.name} 10000`,
      '',
    ].join('\n'));
    const proc = startProcess('redis-server', [conf, '--sentinel'], { PATH: process.env.PATH ?? '' }, `sentinel:${port}`);
    this.sentinel = { port, url: `redis://127.0.0.1:${port}`, proc, dir: this.confDir }; // stop() needs it even if the wait fails
    await proc.waitFor(/\+monitor master/);
    // a failover needs the sentinel to know the replica
    await until('the sentinel to see the replica', async () =>
      (await redisCli(port, 'SENTINEL', 'REPLICAS', this.name)).includes(String(this.replica.port)), 30_000, 200);
    return this;
  }

  /** Port of the master the sentinel names right now. */
  async masterPort(): Promise<number> {
    const out = (await redisCli(this.sentinel.port, 'SENTINEL', 'GET-MASTER-ADDR-BY-NAME', this.name)).split('\n');
    return Number(out[1]);
  }

  async stop(): Promise<void> {
    await Promise.allSettled([this.sentinel, this.replica, this.master].map((s) => stopRedisServer(s)));
  }
}
