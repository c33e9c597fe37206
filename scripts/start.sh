#!/usr/bin/env bash
# The one command that starts the whole system: API, workers, scheduler and the development tool
# gateway, on the Redis at $REDIS_URL or an embedded one. Ctrl-C stops everything: the workers
# first (each finishes its node in flight and hands its runs back), then the API and the gateway.
source "$(dirname "$0")/lib.sh"
cd "$ROOT"
# schedules reconciled by the API at start-up; a relative path is taken from where start.sh was run
# (one from .env, read below, from the repository root, where the API runs)
if [ -n "${SCHEDULES_FILE:-}" ]; then
  case $SCHEDULES_FILE in /*) ;; *) SCHEDULES_FILE="$OLDPWD/$SCHEDULES_FILE" ;; esac
  export SCHEDULES_FILE
  say "schedules from $SCHEDULES_FILE"
fi
load_dotenv
ensure_deps
ensure_redis aof
say "building"
pnpm turbo run build --output-logs=errors-only

WORKERS=${WORKERS:-2}
SIM_PORT=${SIM_PORT:-8000}
export GATEWAY_URL=${GATEWAY_URL:-http://127.0.0.1:$SIM_PORT}
export SUPERVISOR_API_KEY=${SUPERVISOR_API_KEY:-dev-supervisor-key}
pids=() workers=() others=()
stop() {
  trap - EXIT
  # a second Ctrl-C does not wait any longer (a worker gives up by itself after WORKER_STOP_TIMEOUT_MS):
  # a second SIGTERM has the launcher SIGKILL its children (killed itself, they would stop gracefully)
  trap 'say "killing"; kill -TERM "${workers[@]}" 2>/dev/null; kill -KILL "${others[@]}" 2>/dev/null || true' INT TERM
  say "stopping: the workers first (they hand their runs back), then the API, then the gateway"
  if [ ${#workers[@]} -gt 0 ]; then
    kill -TERM "${workers[@]}" 2>/dev/null || true
    wait "${workers[@]}" 2>/dev/null || true
  fi
  kill -TERM "${others[@]}" 2>/dev/null || true
  wait 2>/dev/null || true
}
trap 'stop; exit 130' INT TERM
trap stop EXIT

# Each process runs in a session of its own, so the terminal's Ctrl-C (SIGINT to the whole
# foreground process group) reaches start.sh alone, which stops them in order; the line prefixer
# ignores SIGINT so the last lines still get through. Each line carries its process's name, as
# `docker logs <container>` would separate them (the launcher names its own children's lines).
detach=()
command -v setsid >/dev/null && detach=(setsid)
run() {
  local name=$1 group=$2; shift 2
  if [ -n "$name" ]; then
    "${detach[@]}" "$@" > >(trap '' INT; exec sed -u "s/^/[$name] /") 2>&1 &
  else
    "${detach[@]}" "$@" &
  fi
  pids+=($!)
  if [ "$group" = worker ]; then workers+=($!); else others+=($!); fi
}
if [ "${START_GATEWAY_SIM:-1}" = 1 ]; then
  run gateway-sim other env SIM_PORT="$SIM_PORT" SIM_API_KEY="$SUPERVISOR_API_KEY" node apps/gateway-sim/dist/main.js
fi
# the API and $WORKERS workers under apps/launcher, as in the sofiia-supervisor container: it starts
# a worker that exits again, and on stop takes the workers down first, then the API. Worker i serves
# its metrics on WORKER_METRICS_PORT + i - 1 when that is set.
run "" worker env WORKERS="$WORKERS" LAUNCHER_LINE_PREFIX=true node apps/launcher/dist/main.js
say "API on http://localhost:${PORT:-8084}  (healthz: curl -sf http://localhost:${PORT:-8084}/healthz)"
wait -n "${pids[@]}" || true
say "a process exited; stopping the rest"
