import type { JsonSchema } from './json-schema.js';

const METHODS = ['get', 'put', 'post', 'delete', 'patch'];

/**
 * The methods the API document lists for a request path (`/v1/runs/gr_x` → GET), so a request
 * with another method can be told 405 with `Allow` instead of 404. `{param}` matches one segment;
 * HEAD goes with GET, as Express serves it. Subtrees (the bull-board app) are left out.
 */
export function allowedMethods(doc: JsonSchema): (path: string) => string[] {
  const routes = Object.entries(doc.paths as Record<string, Record<string, { 'x-subtree'?: boolean }>>).map(([template, ops]) => {
    const pattern = template.split(/(\{[^}]+\})/).map((part) => (part.startsWith('{') ? '[^/]+' : part.replace(/[.*+?^$()|[\]\\]/g, '\\$&'))).join('');
    const methods = Object.keys(ops).filter((m) => METHODS.includes(m) && !ops[m]!['x-subtree']).map((m) => m.toUpperCase());
    return { re: new RegExp(`^${pattern}/?$`), methods: methods.includes('GET') ? [...methods, 'HEAD'] : methods };
  });
  return (path) => [...new Set(routes.filter((r) => r.re.test(path)).flatMap((r) => r.methods))];
}
