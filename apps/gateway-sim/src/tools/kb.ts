import { z } from 'zod';
import { type ToolDef, ok, parseParams } from './common.js';

/** A tiny fixed runbook corpus; search scores documents by shared words with the query. */
const DOCS = [
  { title: 'Runbook: elevated 5xx error rate', url: 'https://kb.example.invalid/runbooks/5xx-error-rate', text: 'high error rate 5xx errors http 500 503 upstream failing rollback deploy circuit breaker' },
  { title: 'Runbook: latency regression (p95/p99)', url: 'https://kb.example.invalid/runbooks/latency', text: 'latency slow p95 p99 timeout degraded performance database query pool' },
  { title: 'Runbook: database connection pool exhausted', url: 'https://kb.example.invalid/runbooks/db-pool', text: 'database db connection pool exhausted timeout postgres slow queries' },
  { title: 'Runbook: rolling back a bad deploy', url: 'https://kb.example.invalid/runbooks/rollback', text: 'deploy deployment rollback release version bad regression canary' },
  { title: 'Runbook: service down / health checks failing', url: 'https://kb.example.invalid/runbooks/service-down', text: 'service down outage health check failing crashloop restart pods unavailable' },
  { title: 'Runbook: SLO burn-rate alerts', url: 'https://kb.example.invalid/runbooks/slo-burn', text: 'slo error budget burn rate alert availability objective' },
  { title: 'Policy: PII in logs and traces', url: 'https://kb.example.invalid/policies/pii-logging', text: 'privacy pii personal data email phone logs traces gdpr redaction data governance' },
  { title: 'Runbook: cloud cost anomaly', url: 'https://kb.example.invalid/runbooks/cost-anomaly', text: 'cost spend anomaly budget spike autoscaling billing' },
  { title: 'Template: postmortem', url: 'https://kb.example.invalid/templates/postmortem', text: 'postmortem incident review timeline root cause action items impact summary' },
];

const words = (s: string) => s.toLowerCase().split(/[^a-z0-9]+/).filter((w) => w.length > 1);

export const kbTools: Record<string, ToolDef> = {
  'kb_tool.search': {
    sideEffect: false,
    run(params) {
      const p = parseParams(z.looseObject({ query: z.string().min(1), limit: z.number().int().positive().max(50).default(5) }), params);
      if (!p.ok) return p.outcome;
      const q = new Set(words(p.value.query));
      const hits = DOCS.map((d, i) => {
        const dw = new Set([...words(d.title), ...words(d.text)]);
        let score = 0;
        for (const w of q) if (dw.has(w)) score++;
        return { d, i, score };
      })
        .filter((h) => h.score > 0)
        .sort((a, b) => b.score - a.score || a.i - b.i)
        .slice(0, p.value.limit)
        .map(({ d, score }) => ({
          title: d.title,
          url: d.url,
          snippet: `${d.title.replace(/^\w+: /, '')}: ${d.text.split(' ').slice(0, 12).join(' ')}…`,
          score: Number((score / Math.max(1, q.size)).toFixed(2)),
        }));
      return ok({ query: p.value.query, hits });
    },
  },
};
