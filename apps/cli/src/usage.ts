import { readFileSync } from 'node:fs';

/** The help texts: `supervisor --help`, and `supervisor <command> --help` for each command. */

const COMMON = `options for every command:
  --url URL        API base URL (default $SUPERVISOR_URL or http://localhost:8084)
  --api-key KEY    Bearer key (default $SUPERVISOR_API_KEY_CLI or $API_KEY)
  --json           print the API's JSON as it is (events: one JSON object per line; errors: the
                   API's error body on stderr)
  -h, --help       help (of a command: supervisor runs create --help)
  --version        the CLI's version`;

const EXITS = `exit codes: 0 ok, 1 API or network error (message on stderr), 2 usage error,
            3 --wait: the run finished but did not succeed`;

const WAIT = `  --wait               print the run's events as they happen until it ends; exit 3 when it
                       did not succeed
  --interval SEC       with --wait: seconds between polls when the API does not stream (default 1)
  --idempotency-key K  a second call with the same key answers the first one's run`;

export const USAGE = `usage: supervisor <command> [options]

  runs create <graph> --agent <id> [--input '{...}' | --input @file.json] [--idempotency-key K]
                      [--metadata '{...}'] [--webhook URL] [--wait [--interval SEC]]
  runs rerun <run_id> [--idempotency-key K] [--webhook URL] [--wait [--interval SEC]]
  runs get <run_id>
  runs list [--graph G] [--status S] [--agent A] [--limit N] [--cursor C]
  runs cancel <run_id> [--reason TEXT]
  runs events <run_id> [-f | --follow [--interval SEC]]
  graphs

${COMMON}

${EXITS}`;

/** Per command: what `supervisor <command> --help` prints before the common options. */
export const COMMAND_USAGE: Record<string, string> = {
  'runs create': `usage: supervisor runs create <graph> --agent <id> [options]

Starts a run of <graph> (supervisor graphs lists them and their input) and prints its id.

  --agent ID           the agent the run is for (required)
  --input JSON         the graph's input, a JSON object, or @file.json (default {})
  --metadata JSON      a JSON object kept with the run, or @file.json
  --webhook URL        POSTed to when the run finishes
${WAIT}`,
  'runs rerun': `usage: supervisor runs rerun <run_id> [options]

Starts a new run of the same graph with the run's agent, input and metadata, and prints it like
runs create. The webhook is not copied (the API shows it by origin only): give it again with
--webhook.

  --webhook URL        POSTed to when the new run finishes
${WAIT}`,
  'runs get': `usage: supervisor runs get <run_id>

The run: status, current node, per-node history, error or result.`,
  'runs list': `usage: supervisor runs list [options]

Runs, newest first, a page at a time; the last line says how to get the next page.

  --graph G            only runs of this graph
  --status S           only runs in this status (queued, running, waiting, cancelling,
                       succeeded, failed, cancelled)
  --agent A            only runs of this agent
  --limit N            page size, 1-100 (default 20)
  --cursor C           the page after the one that printed it`,
  'runs cancel': `usage: supervisor runs cancel <run_id> [--reason TEXT]

Cancels the run: a queued or parked run at once, a running one at its next step (its tool call in
flight is aborted).

  --reason TEXT        recorded in the run's events`,
  'runs events': `usage: supervisor runs events <run_id> [-f | --follow [--interval SEC]]

The run's events, oldest first: all of them, then exit.

  -f, --follow         keep printing them as they happen until the run ends (live over SSE, or
                       polling when the API does not stream)
  --interval SEC       with --follow: seconds between polls (default 1)`,
  graphs: `usage: supervisor graphs

The graphs runs can be started of, with their nodes and input fields.`,
};

export function commandUsage(name: string): string {
  return `${COMMAND_USAGE[name]}\n\n${COMMON}\n\n${EXITS}`;
}

/** The version of @sup/cli (its package.json, one level above src/ and dist/). */
export function version(): string {
  return (JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }).version;
}
