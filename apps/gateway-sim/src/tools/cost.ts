import { z } from 'zod';
import { pick } from '../rand.js';
import { type ToolDef, iso, ok, parseParams, round } from './common.js';

export const costTools: Record<string, ToolDef> = {
  /** A service whose name contains "spike" has a cost anomaly on the last day. */
  'cost_tool.cost_report': {
    sideEffect: false,
    run(params, ctx) {
      const p = parseParams(z.looseObject({ service: z.string().min(1), window_days: z.number().int().positive().max(365).default(7) }), params);
      if (!p.ok) return p.outcome;
      const { service, window_days } = p.value;
      const spike = service.includes('spike');
      const daily = round(pick(`c:${service}`, 40, 900) + pick(`cc:${service}`, 0, 99) / 100, 2);
      const trend = spike ? 182.5 : round((pick(`t:${service}`, 0, 350) - 100) / 10, 1);
      const day = (n: number) => iso(ctx.now() - n * 86_400_000).slice(0, 10);
      const anomalies = spike
        ? [{ date: day(1), amount: round(daily * 2.8, 2), expected: daily, resource: `${service}-autoscaling-group`, reason: 'instance count tripled after deploy' }]
        : [];
      return ok({ service, window_days, currency: 'USD', daily_cost: daily, trend_pct: trend, anomalies });
    },
  },
};
