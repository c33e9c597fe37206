/** The help text: `supervisor --help`. */

export const USAGE = `usage: supervisor <command> [options]

  runs create <graph> --agent <id> [--input '{...}' | --input @file.json] [--idempotency-key K]
                      [--metadata '{...}'] [--webhook URL] [--wait [--interval SEC]]
  runs get <run_id>
  runs list [--graph G] [--status S] [--agent A] [--limit N] [--cursor C]
  runs cancel <run_id> [--reason TEXT]
  runs events <run_id> [--follow [--interval SEC]]
  graphs

options for every command:
  --url URL        API base URL (default $SUPERVISOR_URL or http://localhost:8084)
  --api-key KEY    Bearer key (default $SUPERVISOR_API_KEY_CLI or $API_KEY)
  --json           print the API's JSON as it is (events: one JSON object per line)
  -h, --help       this text

exit codes: 0 ok, 1 API or network error (message on stderr), 2 usage error,
            3 --wait: the run finished but did not succeed`;
