# Shared by start.sh and test.sh: everything a fresh machine needs, installed on demand.
# shellcheck shell=bash
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
PNPM_VERSION=12.4.2

say() { printf '==> %s\n' "$*" >&2; }

ensure_pnpm() {
  if [ "$(pnpm --version 2>/dev/null || true)" != "$PNPM_VERSION" ]; then
    say "installing pnpm $PNPM_VERSION (npm i -g)"
    npm i -g -E "pnpm@$PNPM_VERSION" >/dev/null 2>&1 || {
      say "global install failed; using npx pnpm@$PNPM_VERSION"
      pnpm() { npx -y "pnpm@$PNPM_VERSION" "$@"; }
    }
  fi
}

ensure_deps() {
  ensure_pnpm
  say "pnpm install --frozen-lockfile"
  (cd "$ROOT" && pnpm install --frozen-lockfile --reporter=silent)
}

# "host port" of a redis:// or rediss:// URL (defaults 127.0.0.1 6379); fails quietly on anything else
redis_addr() {
  node -e 'try { const u = new URL(process.argv[1]); if (!/^rediss?:$/.test(u.protocol)) throw 0;
    console.log((u.hostname.replace(/^\[|\]$/g, "") || "127.0.0.1") + " " + (u.port || 6379)) } catch { process.exit(2) }' "$1"
}
# a URL as it may be printed: user info masked
redis_shown() { printf '%s' "$1" | sed -E 's#^([a-z]+://)[^/@]*@#\1***@#'; }

# PING over a plain TCP socket, so no redis-cli is needed to find out. A TLS URL (rediss://) is only
# checked for a listening port: the apps themselves speak TLS.
redis_answers() {
  local addr host port reply
  addr=$(redis_addr "$1") || return 1
  host=${addr% *} port=${addr#* }
  { exec 9<>"/dev/tcp/$host/$port"; } 2>/dev/null || return 1
  case "$1" in rediss://*) exec 9>&- 9<&-; return 0 ;; esac
  printf 'PING\r\n' >&9
  read -r -t 2 reply <&9 || true
  exec 9>&- 9<&-
  case "$reply" in +PONG*|-NOAUTH*) return 0 ;; *) return 1 ;; esac
}

ensure_redis_binary() {
  command -v redis-server >/dev/null && return 0
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    say "installing Debian's redis-server (apt-get)"
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server) >/dev/null
    command -v redis-server >/dev/null && return 0
  fi
  say "no redis-server found. Install it with:  sudo apt-get install -y redis-server   (or set REDIS_URL to a reachable Redis)"
  return 1
}

# REDIS_URL set (in the shell or .env): that Redis, and stop with one line when it does not answer —
# never a private, empty stand-in for a shared Redis that is briefly down. Unset or empty: the Redis
# at 127.0.0.1:6379 when it answers, else a project-local redis-server on EMBEDDED_REDIS_PORT (6390).
# $1 = mode of the local one: "aof" (durable, data under .data/redis) or "ephemeral" (tests).
ensure_redis() {
  local mode=${1:-aof}
  if [ -n "${REDIS_URL:-}" ]; then
    if ! redis_addr "$REDIS_URL" >/dev/null; then
      say "REDIS_URL=$(redis_shown "$REDIS_URL") is not a redis://host:port or rediss:// URL"
      return 1
    fi
    if redis_answers "$REDIS_URL"; then
      export REDIS_URL
      say "using Redis at $(redis_shown "$REDIS_URL") (REDIS_URL)"
      return 0
    fi
    say "REDIS_URL=$(redis_shown "$REDIS_URL") does not answer: start that Redis, or unset REDIS_URL to use the local one (127.0.0.1:6379, else an embedded redis-server on port ${EMBEDDED_REDIS_PORT:-6390})"
    return 1
  fi
  if redis_answers redis://127.0.0.1:6379; then
    export REDIS_URL=redis://127.0.0.1:6379
    say "using Redis at $REDIS_URL"
    return 0
  fi
  ensure_redis_binary
  local port=${EMBEDDED_REDIS_PORT:-6390} dir="$ROOT/.data/redis"
  mkdir -p "$dir"
  export REDIS_URL="redis://127.0.0.1:$port"
  if redis_answers "$REDIS_URL"; then
    say "using the embedded Redis at $REDIS_URL"
  else
    say "starting embedded redis-server on 127.0.0.1:$port ($mode, $dir)"
    local persist=(--save "" --appendonly no)
    [ "$mode" = aof ] && persist=(--save "" --appendonly yes --appendfsync everysec)
    redis-server --port "$port" --bind 127.0.0.1 --dir "$dir" --daemonize yes \
      --pidfile "$dir/redis.pid" --logfile "$dir/redis.log" --maxmemory-policy noeviction "${persist[@]}"
    for _ in $(seq 1 50); do redis_answers "$REDIS_URL" && break; sleep 0.1; done
    redis_answers "$REDIS_URL" || { say "embedded redis did not start; see $dir/redis.log"; return 1; }
  fi
}

# $ROOT/.env, when present, as if exported (`set -a`); a variable already set in the environment
# keeps its value (the shell wins over the file). start.sh only: tests do not read it.
load_dotenv() {
  local file="$ROOT/.env" name kept=0
  [ -f "$file" ] || return 0
  local -A shell=()
  while IFS= read -r name; do
    if [ -n "${!name+x}" ]; then shell[$name]=${!name}; kept=$((kept + 1)); fi
  done < <(sed -nE 's/^[[:space:]]*(export[[:space:]]+)?([A-Za-z_][A-Za-z0-9_]*)=.*/\2/p' "$file" | sort -u)
  set -a
  # shellcheck disable=SC1090
  . "$file"
  set +a
  for name in "${!shell[@]}"; do export "$name=${shell[$name]}"; done
  say "read $file ($kept of its variables already set in the shell keep the shell's value)"
}

# Debian's chromium for the real-browser test of /admin/queues (e2e/test/admin-browser.test.ts).
# Never fatal: without it that test skips and says why. CHROMIUM_PATH overrides the binary.
ensure_chromium() {
  local bin=${CHROMIUM_PATH:-/usr/bin/chromium}
  [ -x "$bin" ] && return 0
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    say "installing Debian's chromium (apt-get) for the browser test"
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium) >/dev/null 2>&1 || true
    [ -x "$bin" ] && return 0
  fi
  say "no chromium at $bin: the browser test will skip (install with: sudo apt-get install -y chromium)"
  return 0
}

# Debian's docker-compose (v1, validates compose/ offline: e2e/test/compose.test.ts) and iproute2
# (`ip netns` for the multi-host test, e2e/test/multihost.test.ts). Never fatal: without them those
# tests skip and say why. --no-install-recommends: no Docker engine is wanted, only the validator.
ensure_deployment_tools() {
  local missing=()
  command -v docker-compose >/dev/null || missing+=(docker-compose)
  command -v ip >/dev/null || missing+=(iproute2)
  [ ${#missing[@]} -eq 0 ] && return 0
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    say "installing Debian's ${missing[*]} (apt-get) for the deployment tests"
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}") >/dev/null 2>&1 || true
  fi
  command -v docker-compose >/dev/null || say "no docker-compose: the compose test will skip (install with: sudo apt-get install -y --no-install-recommends docker-compose)"
  command -v ip >/dev/null || say "no ip (iproute2): the multi-host test will skip"
  return 0
}
