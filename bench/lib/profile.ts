/** Summaries of a V8 CPU profile (`Profiler.stop` result or a .cpuprofile file). */
export interface CpuProfile {
  nodes: Array<{ id: number; callFrame: { functionName: string; url: string }; children?: number[] }>;
  samples?: number[];
  timeDeltas?: number[];
}

type Node = CpuProfile['nodes'][number];

export interface Summary {
  nodes: Map<number, Node>;
  self: Map<number, number>;
  total: number;
  busy: number;
}

export function summarise(profile: CpuProfile): Summary {
  const nodes = new Map<number, Node>(profile.nodes.map((n) => [n.id, n]));
  const self = new Map<number, number>();
  let total = 0;
  (profile.samples ?? []).forEach((id, i) => {
    const dt = profile.timeDeltas?.[i] ?? 0;
    self.set(id, (self.get(id) ?? 0) + dt);
    total += dt;
  });
  const idle = [...self].filter(([id]) => nodes.get(id)!.callFrame.functionName === '(idle)').reduce((a, [, t]) => a + t, 0);
  return { nodes, self, total, busy: total - idle };
}

/** Share of busy CPU spent inside (inclusive) frames matching each pattern, keyed by label. */
export function inclusive(s: Summary, watch: Array<[string, RegExp]>, root: number): Map<string, number> {
  const incl = new Map<string, number>(watch.map(([k]) => [k, 0]));
  const walk = (id: number, active: Set<string>) => {
    const n = s.nodes.get(id)!;
    const key = `${n.callFrame.functionName}@${n.callFrame.url}`;
    const now = new Set(active);
    for (const [label, re] of watch) if (re.test(key)) now.add(label);
    const t = s.self.get(id) ?? 0;
    for (const l of now) incl.set(l, incl.get(l)! + t);
    for (const c of n.children ?? []) walk(c, now);
  };
  walk(root, new Set());
  return new Map([...incl].map(([k, t]) => [k, (100 * t) / s.busy]));
}

const shortUrl = (url: string) =>
  url.replace(/^.*\/node_modules\/(\.pnpm\/[^/]+\/node_modules\/)?/, '').replace(/^file:\/\/.*\/(packages|apps|bench)\//, '$1/');

/** The `n` functions with the most self time, as "share %  function file" lines. */
export function topSelf(s: Summary, n: number): string[] {
  const byFn = new Map<string, number>();
  for (const [id, t] of s.self) {
    const { functionName, url } = s.nodes.get(id)!.callFrame;
    if (functionName === '(idle)') continue;
    const key = `${functionName || '(anonymous)'} ${shortUrl(url)}`;
    byFn.set(key, (byFn.get(key) ?? 0) + t);
  }
  return [...byFn].sort((a, b) => b[1] - a[1]).slice(0, n).map(([k, t]) => `${((100 * t) / s.busy).toFixed(1).padStart(5)} %  ${k}`);
}

/** Self time per library (package name from node_modules, else our folder or a node: builtin). */
export function byPackage(s: Summary): string[] {
  const out = new Map<string, number>();
  for (const [id, t] of s.self) {
    const { functionName, url } = s.nodes.get(id)!.callFrame;
    if (functionName === '(idle)') continue;
    const m = url.match(/node_modules\/(?:\.pnpm\/[^/]+\/node_modules\/)?((?:@[^/]+\/)?[^/]+)/);
    const key = m ? m[1]! : url.match(/\/(packages|apps)\/([^/]+)\//)?.slice(1).join('/') ?? (url.startsWith('node:') ? 'node: builtins' : functionName.startsWith('(') ? functionName : url ? 'other' : '(native/VM)');
    out.set(key, (out.get(key) ?? 0) + t);
  }
  return [...out].sort((a, b) => b[1] - a[1]).map(([k, t]) => `${((100 * t) / s.busy).toFixed(1).padStart(5)} %  ${k}`);
}
