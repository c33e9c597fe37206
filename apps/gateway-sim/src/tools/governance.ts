import { z } from 'zod';
import { pick } from '../rand.js';
import { type ToolDef, ok, parseParams } from './common.js';

const FIRST = ['alice', 'bob', 'carol', 'dmitro', 'erin', 'farah'];
const LAST = ['moreau', 'kowalski', 'nguyen', 'okafor', 'silva', 'tanaka'];

/**
 * A fake, e-mail-like value found "in the data". It is returned verbatim in `findings[].sample`
 * on purpose, so tests can check that a report never copies it.
 */
export function sampleEmail(service: string, source: string): string {
  const k = `${service}:${source}`;
  return `${FIRST[pick(`f:${k}`, 0, FIRST.length - 1)]}.${LAST[pick(`l:${k}`, 0, LAST.length - 1)]}${pick(`n:${k}`, 10, 99)}@example.com`;
}

export const governanceTools: Record<string, ToolDef> = {
  /** A service whose name contains "clean" has no PII; every other one leaks e-mails (and some phones). */
  'data_governance_tool.privacy_scan': {
    sideEffect: false,
    run(params) {
      const p = parseParams(
        z.looseObject({ service: z.string().min(1), sources: z.array(z.string().min(1)).default(['logs', 'traces']) }),
        params,
      );
      if (!p.ok) return p.outcome;
      const { service, sources } = p.value;
      const findings: Array<{ type: string; count: number; source: string; sample: string; severity: string }> = [];
      if (!service.includes('clean')) {
        for (const source of sources) {
          findings.push({ type: 'email', count: pick(`e:${service}:${source}`, 1, 250), source, sample: sampleEmail(service, source), severity: 'high' });
          if (pick(`ph:${service}:${source}`, 0, 2) === 0) {
            findings.push({ type: 'phone', count: pick(`p:${service}:${source}`, 1, 40), source, sample: `+380 44 ${pick(`pn:${service}`, 100, 999)} ${pick(`pm:${service}`, 1000, 9999)}`, severity: 'medium' });
          }
        }
      }
      return ok({ service, sources, pii_detected: findings.length > 0, findings });
    },
  },
};
