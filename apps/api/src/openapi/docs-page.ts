import type { JsonSchema } from './json-schema.js';

/*
 * /docs: the OpenAPI document rendered on the server as one HTML page. No scripts and no external
 * assets, because the machines that run this are often offline and a strict CSP should not break it.
 */

const esc = (s: unknown) => String(s).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
const code = (v: unknown) => `<pre>${esc(JSON.stringify(v, null, 2))}</pre>`;
const refName = (v: unknown) => {
  const r = (v as { $ref?: string } | undefined)?.$ref;
  return r ? r.slice(r.lastIndexOf('/') + 1) : undefined;
};
const schemaLink = (s: unknown) => {
  const name = refName(s);
  return name ? `<a href="#schema-${esc(name)}">${esc(name)}</a>` : `<details><summary>schema</summary>${code(s)}</details>`;
};

interface Op {
  summary?: string; description?: string; security?: unknown[];
  parameters?: Array<{ name: string; in: string; required?: boolean; description?: string; schema?: unknown }>;
  requestBody?: { required?: boolean; content: Record<string, { schema: unknown }> };
  responses: Record<string, { $ref?: string; description?: string; content?: Record<string, { schema: unknown }> }>;
}

function operation(method: string, path: string, op: Op, doc: Record<string, any>): string {
  const params = (op.parameters ?? []).map((p) =>
    `<tr><td><code>${esc(p.name)}</code></td><td>${esc(p.in)}</td><td>${p.required ? 'yes' : ''}</td><td>${esc(p.description ?? '')} ${schemaLink(p.schema)}</td></tr>`).join('');
  const body = op.requestBody
    ? `<p><b>Body</b>${op.requestBody.required ? '' : ' (optional)'}: ${Object.entries(op.requestBody.content).map(([t, c]) => `<code>${esc(t)}</code> ${schemaLink(c.schema)}`).join(', ')}</p>`
    : '';
  const responses = Object.entries(op.responses).map(([status, r]) => {
    const res = r.$ref ? doc.components.responses[refName(r)!] : r;
    const content = Object.entries(res.content ?? {}).map(([t, c]) => `<code>${esc(t)}</code> ${schemaLink((c as { schema: unknown }).schema)}`).join(', ');
    return `<tr><td><b>${esc(status)}</b></td><td>${esc(res.description ?? '')}</td><td>${content}</td></tr>`;
  }).join('');
  const open = op.security && op.security.length === 0 ? ' <span class="pub">no key</span>' : '';
  return `<section class="op" id="${esc(`${method}-${path}`)}">
<h3><span class="m ${esc(method)}">${esc(method.toUpperCase())}</span> <code>${esc(path)}</code>${open}</h3>
<p>${esc(op.summary ?? '')}</p>${op.description ? `<p class="d">${esc(op.description)}</p>` : ''}
${params ? `<table><tr><th>parameter</th><th>in</th><th>required</th><th></th></tr>${params}</table>` : ''}${body}
<table><tr><th>status</th><th></th><th>content</th></tr>${responses}</table></section>`;
}

export function renderDocsPage(doc: Record<string, any>): string {
  const ops: string[] = [];
  const toc: string[] = [];
  for (const [path, item] of Object.entries(doc.paths as Record<string, Record<string, Op>>)) {
    for (const [method, op] of Object.entries(item)) {
      ops.push(operation(method, path, op, doc));
      toc.push(`<li><a href="#${esc(`${method}-${path}`)}"><span class="m ${esc(method)}">${esc(method.toUpperCase())}</span> ${esc(path)}</a></li>`);
    }
  }
  const schemas = Object.entries(doc.components.schemas as Record<string, unknown>)
    .map(([name, s]) => `<section id="schema-${esc(name)}"><h3>${esc(name)}</h3>${code(s)}</section>`).join('');
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>${esc(doc.info.title)}</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
body{font:15px/1.45 system-ui,sans-serif;margin:0 auto;max-width:1100px;padding:1em 2em;color:#222}
code,pre{font:13px ui-monospace,monospace}pre{background:#f5f5f5;padding:.6em;overflow:auto;max-height:28em}
table{border-collapse:collapse;margin:.4em 0}td,th{border:1px solid #ddd;padding:.25em .6em;text-align:left;vertical-align:top}
.op{border-top:1px solid #ccc;margin-top:1.2em}.m{display:inline-block;min-width:4.2em;font:bold 12px monospace;padding:.1em .4em;border-radius:3px;color:#fff;background:#607d8b;text-align:center}
.get{background:#2e7d32}.post{background:#1565c0}.delete{background:#c62828}.pub{font-size:12px;color:#2e7d32}.d{color:#444}
ul.toc{columns:2;list-style:none;padding:0}a{color:#1565c0;text-decoration:none}
</style></head><body>
<h1>${esc(doc.info.title)} <small>${esc(doc.info.version)}</small></h1>
<p>${esc(doc.info.description)}</p>
<p>Machine-readable: <a href="/openapi.json">/openapi.json</a> (OpenAPI ${esc(doc.openapi)}).</p>
<ul class="toc">${toc.join('')}</ul>
<h2>Operations</h2>${ops.join('\n')}
<h2>Schemas</h2>${schemas}
</body></html>`;
}
