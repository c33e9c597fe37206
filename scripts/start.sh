#!/usr/bin/env bash
# The one command that starts the whole system: API, workers, scheduler and the development tool
# gateway, on the Redis at $REDIS_URL or an embedded one. Ctrl-C stops everything.
source "$(dirname "$0")/lib.sh"
cd "$ROOT"
# schedules reconciled by the API at start-up; a relative path is taken from where start.sh was run
if [ -n "${SCHEDULES_FILE:-}" ]; then
  case $SCHEDULES_FILE in /*) ;; *) SCHEDULES_FILE="$OLDPWD/$SCHEDULES_FILE" ;; esac
  export SCHEDULES_FILE
  say "schedules from $SCHEDULES_FILE"
fi
ensure_deps
ensure_redis aof
say "building"
pnpm turbo run build --output-logs=errors-only

WORKERS=${WORKERS:-2}
SIM_PORT=${SIM_PORT:-8000}
export GATEWAY_URL=${GATEWAY_URL:-http://127.0.0.1:$SIM_PORT}
export SUPERVISOR_API_KEY=${SUPERVISOR_API_KEY:-dev-supervisor-key}
pids=()
stop() { trap - INT TERM EXIT; say "stopping"; kill -TERM "${pids[@]}" 2>/dev/null || true; wait 2>/dev/null || true; }
trap stop INT TERM EXIT

# each process's lines carry its name, as `docker logs <container>` would separate them
run() { local name=$1; shift; "$@" > >(sed -u "s/^/[$name] /") 2>&1 & pids+=($!); }
if [ "${START_GATEWAY_SIM:-1}" = 1 ]; then
  run gateway-sim env SIM_PORT="$SIM_PORT" SIM_API_KEY="$SUPERVISOR_API_KEY" node apps/gateway-sim/dist/main.js
fi
# WORKER_METRICS_PORT is the first worker's metrics port; the others take the next ones
for i in $(seq 1 "$WORKERS"); do
  port=0; [ "${WORKER_METRICS_PORT:-0}" != 0 ] && port=$((WORKER_METRICS_PORT + i - 1))
  run "worker$i" env WORKER_METRICS_PORT=$port node apps/worker/dist/main.js
done
run api node apps/api/dist/main.js
say "API on http://localhost:${PORT:-8084}  (healthz: curl -sf http://localhost:${PORT:-8084}/healthz)"
wait -n "${pids[@]}" || true
say "a process exited; stopping the rest"
