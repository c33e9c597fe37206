import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { Redis } from 'ioredis';
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

/**
 * Sets a node's `maxmemory` so that what it uses now is `share` of it (e.g. 0.92: over the API's 90 %
 * admission limit, while Redis itself still takes writes). Returns the bytes it used.
 */
export async function nearlyFull(node: Redis, share: number): Promise<number> {
  const used = Number(/^used_memory:(\d+)/m.exec(await node.info('memory'))![1]);
  await node.config('SET', 'maxmemory', String(Math.floor(used / share)));
  return used;
}

export interface RedisServer {
  port: number;
  url: string;
  proc: Proc;
  dir: string;
}

function spawnRedis(port: number, dir: string, args: string[], name: string): Proc {
  return startProcess('redis-server', [
    '--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--save', '', '--appendonly', 'no', ...args,
  ], { PATH: process.env.PATH ?? '' }, `${name}:${port}`);
}

/** redis-server in the foreground (a child of this process), nothing on disk unless args say so. */
export async function startRedisServer(args: string[] = [], name = 'redis'): Promise<RedisServer> {
  const port = await freeRedisPort();
  const dir = mkdtempSync(join(tmpdir(), `sup-${name}-`));
  const proc = spawnRedis(port, dir, args, name);
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

/** A master, `replicas` replicas (default one) and one sentinel watching the master as `name`. */
export class LocalSentinel {
  master!: RedisServer;
  readonly replicas: RedisServer[] = [];
  sentinel!: RedisServer;
  private confDir = '';

  constructor(readonly name = 'mymaster', private readonly replicaCount = 1) {}

  /** The first replica (the one a single-replica set-up has). */
  get replica(): RedisServer {
    return this.replicas[0]!;
  }

  /** Master and replicas, in start order (roles change with every failover). */
  get nodes(): RedisServer[] {
    return [this.master, ...this.replicas];
  }

  async start(): Promise<this> {
    // diskless sync starts at once (Redis waits 5 s by default for more replicas to join)
    const sync = ['--repl-diskless-sync-delay', '0'];
    this.master = await startRedisServer(['--maxmemory-policy', 'noeviction', ...sync], 'sentinel-master');
    for (let i = 0; i < this.replicaCount; i++) {
      const r = await startRedisServer(['--maxmemory-policy', 'noeviction', ...sync, '--replicaof', '127.0.0.1', String(this.master.port)], `sentinel-replica${i}`);
      this.replicas.push(r);
      await r.proc.waitFor(/MASTER <-> REPLICA sync: Finished with success/);
    }
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
    // a failover needs the sentinel to know the replicas
    await until('the sentinel to see the replicas', async () => {
      const known = await redisCli(port, 'SENTINEL', 'REPLICAS', this.name);
      return this.replicas.every((r) => known.includes(String(r.port)));
    }, 30_000, 200);
    return this;
  }

  private node(port: number): RedisServer {
    const n = this.nodes.find((x) => x.port === port);
    if (!n) throw new Error(`no redis-server of this sentinel set-up on port ${port}`);
    return n;
  }

  /** SIGKILLs one node: to the others it is a dead host. */
  async kill(port: number): Promise<void> {
    await stopProc(this.node(port).proc, 'SIGKILL');
  }

  /**
   * Starts a killed node again on its port — empty (nothing on disk) and configured as a master, as
   * a rebooted host would be; the sentinel turns it into a replica of the current master.
   */
  async revive(port: number, args: string[] = []): Promise<void> {
    const n = this.node(port);
    n.proc = spawnRedis(port, n.dir, ['--maxmemory-policy', 'noeviction', '--repl-diskless-sync-delay', '0', ...args], 'sentinel-revived');
    await n.proc.waitFor(/Ready to accept connections/);
  }

  /** Port of the master the sentinel names right now. */
  async masterPort(): Promise<number> {
    const out = (await redisCli(this.sentinel.port, 'SENTINEL', 'GET-MASTER-ADDR-BY-NAME', this.name)).split('\n');
    return Number(out[1]);
  }

  async stop(): Promise<void> {
    await Promise.allSettled([this.sentinel, ...this.replicas, this.master].map((s) => stopRedisServer(s)));
  }
}
