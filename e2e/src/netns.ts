import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { request } from 'node:http';
import { startProcess, type Proc } from './procs.js';

/**
 * Test hosts on one machine: one network namespace per host, each with an `eth0` (a veth pair)
 * plugged into a bridge that lives in a namespace of its own (the "switch"). Nothing is created in
 * the machine's own namespace, and every address (10.77.0.0/24) exists only inside these
 * namespaces, so no traffic can leave them. The test process itself reaches a host only through
 * Unix sockets (filesystem paths cross namespaces): redis-server's own, or a small relay.
 */

const ip = (...args: string[]) => execFileSync('ip', args, { stdio: ['ignore', 'pipe', 'pipe'] }).toString();

/** Why namespaces cannot be made here, or null when they can (creates and deletes a probe). */
export function netnsUnavailable(): string | null {
  if (process.platform !== 'linux') return `not Linux (${process.platform})`;
  if (process.getuid?.() !== 0) return 'not root (ip netns add needs CAP_SYS_ADMIN)';
  const probe = `supprobe${randomBytes(3).toString('hex')}`;
  try {
    ip('netns', 'add', probe);
    ip('-n', probe, 'link', 'add', 'br0', 'type', 'bridge');
  } catch (err) {
    return `ip netns add / bridge failed: ${(err as Error).message.split('\n')[0]}`;
  } finally {
    try {
      ip('netns', 'del', probe);
    } catch {
      /* was not created */
    }
  }
  return null;
}

export interface TestHost {
  name: string;
  ns: string;
  /** Address inside the test network. */
  addr: string;
  /** This host's port on the switch: set down to cut the host off. */
  switchPort: string;
}

export class TestNetwork {
  private readonly id = randomBytes(3).toString('hex');
  readonly switchNs = `sup${this.id}-sw`;
  readonly hosts = new Map<string, TestHost>();
  private readonly procs: Proc[] = [];

  /** Creates the switch and one host per name, addresses 10.77.0.1, .2, … in order. */
  create(names: string[]): this {
    ip('netns', 'add', this.switchNs);
    ip('-n', this.switchNs, 'link', 'add', 'br0', 'type', 'bridge');
    ip('-n', this.switchNs, 'link', 'set', 'br0', 'up');
    names.forEach((name, i) => {
      const host: TestHost = { name, ns: `sup${this.id}-${name}`, addr: `10.77.0.${i + 1}`, switchPort: `p-${name}`.slice(0, 15) };
      ip('netns', 'add', host.ns);
      this.hosts.set(name, host);
      ip('-n', host.ns, 'link', 'add', 'eth0', 'type', 'veth', 'peer', 'name', host.switchPort, 'netns', this.switchNs);
      ip('-n', this.switchNs, 'link', 'set', host.switchPort, 'master', 'br0', 'up');
      ip('-n', host.ns, 'link', 'set', 'lo', 'up');
      ip('-n', host.ns, 'addr', 'add', `${host.addr}/24`, 'dev', 'eth0');
      ip('-n', host.ns, 'link', 'set', 'eth0', 'up');
      // TCP's retransmission backoff would otherwise wait up to minutes after a link comes back;
      // a per-namespace setting (Linux ≥ 6.15), best effort on older kernels
      try {
        execFileSync('ip', ['netns', 'exec', host.ns, 'sysctl', '-qw', 'net.ipv4.tcp_rto_max_ms=1000'], { stdio: 'ignore' });
      } catch {
        /* older kernel: the test only waits longer */
      }
    });
    return this;
  }

  host(name: string): TestHost {
    const h = this.hosts.get(name);
    if (!h) throw new Error(`no test host ${name}`);
    return h;
  }

  /** Runs a command inside a host's namespace (ip netns exec execs it: the PID is the command's). */
  start(hostName: string, command: string, args: string[], env: Record<string, string>, name: string): Proc {
    const p = startProcess('ip', ['netns', 'exec', this.host(hostName).ns, command, ...args], env, name);
    this.procs.push(p);
    return p;
  }

  /** Link down on the switch: the host keeps running and keeps its sockets, but reaches nothing. */
  cut(hostName: string): void {
    ip('-n', this.switchNs, 'link', 'set', this.host(hostName).switchPort, 'down');
  }

  restore(hostName: string): void {
    ip('-n', this.switchNs, 'link', 'set', this.host(hostName).switchPort, 'up');
  }

  /** Kills every process started here (by PID), then deletes the namespaces and with them the veths. */
  async destroy(): Promise<void> {
    for (const p of this.procs) {
      if (p.child.exitCode === null && p.child.signalCode === null) p.child.kill('SIGKILL');
    }
    await Promise.allSettled(this.procs.map((p) => p.exited));
    for (const ns of [...[...this.hosts.values()].map((h) => h.ns), this.switchNs]) {
      try {
        ip('netns', 'del', ns);
      } catch {
        /* never created */
      }
    }
  }
}

/** Node one-liner run inside a namespace: listens on Unix sockets, forwards each to a local TCP port. */
const RELAY = `
const net = require('node:net');
for (const spec of process.argv.slice(1)) {
  const [path, port] = spec.split('=');
  net.createServer((c) => {
    const u = net.connect(Number(port), '127.0.0.1');
    c.pipe(u); u.pipe(c);
    c.on('error', () => u.destroy()); u.on('error', () => c.destroy());
  }).listen(path, () => console.log('relay ' + path));
}`;

/** Starts the relay in `hostName` for each socket path → port pair, and waits until all listen. */
export async function startRelay(net: TestNetwork, hostName: string, map: Record<string, number>): Promise<Proc> {
  const p = net.start(hostName, process.execPath, ['-e', RELAY, ...Object.entries(map).map(([path, port]) => `${path}=${port}`)],
    { PATH: process.env.PATH ?? '' }, `relay-${hostName}`);
  for (const path of Object.keys(map)) await p.waitFor(new RegExp(`relay ${path.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`));
  return p;
}

/** JSON over HTTP through a Unix socket. */
export function httpUnix<T = any>(socketPath: string, method: string, path: string, body?: unknown): Promise<{ status: number; body: T }> {
  return new Promise((resolve, reject) => {
    const data = body === undefined ? undefined : JSON.stringify(body);
    const req = request({
      socketPath, method, path,
      headers: data ? { 'content-type': 'application/json', 'content-length': Buffer.byteLength(data) } : {},
    }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (text += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text ? JSON.parse(text) : undefined }));
    });
    req.on('error', reject);
    req.setTimeout(10_000, () => req.destroy(new Error(`${method} ${path}: no answer within 10 s`)));
    if (data) req.write(data);
    req.end();
  });
}

