/**
 * Cuts free text a tool returned to `n` characters (with an ellipsis), so one runaway value cannot
 * bloat the run record, which is rewritten on every step.
 */
export const clip = (s: string, n = 300): string => (s.length > n ? `${s.slice(0, n)}…` : s);
