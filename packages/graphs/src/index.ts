import { releaseCheck } from './release-check.js';
import type { GraphDefinition } from './types.js';

export * from './types.js';
export { releaseCheck, ReleaseCheckInput, verdictOf } from './release-check.js';
export type { Check, PollOutput, ReleaseVerdict, StartOutput } from './release-check.js';
export { makeNoopGraph } from './noop.js';

/** Every graph the system serves. Adding a graph is adding its module and one entry here. */
export const graphs: Record<string, GraphDefinition> = Object.fromEntries(
  [releaseCheck].map((g): [string, GraphDefinition] => [g.name, g]),
);

export function getGraph(name: string): GraphDefinition | undefined {
  return Object.hasOwn(graphs, name) ? graphs[name] : undefined;
}
