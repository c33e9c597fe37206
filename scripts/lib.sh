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

# host and port of a redis:// URL (defaults 127.0.0.1:6379)
redis_host() { node -e 'const u=new URL(process.argv[1]);console.log(u.hostname||"127.0.0.1")' "$1"; }
redis_port() { node -e 'const u=new URL(process.argv[1]);console.log(u.port||6379)' "$1"; }

# PING over a plain TCP socket, so no redis-cli is needed to find out.
redis_answers() {
  local host port reply
  host=$(redis_host "$1") port=$(redis_port "$1")
  { exec 9<>"/dev/tcp/$host/$port"; } 2>/dev/null || return 1
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

# Uses $REDIS_URL when it answers; otherwise starts a project-local redis-server and exports REDIS_URL.
# $1 = mode: "aof" (durable, data under .data/redis) or "ephemeral" (tests).
ensure_redis() {
  local mode=${1:-aof} url=${REDIS_URL:-redis://127.0.0.1:6379}
  if redis_answers "$url"; then
    export REDIS_URL=$url
    say "using Redis at $REDIS_URL"
    return 0
  fi
  ensure_redis_binary
  local port=${EMBEDDED_REDIS_PORT:-6390} dir="$ROOT/.data/redis"
  mkdir -p "$dir"
  export REDIS_URL="redis://127.0.0.1:$port"
  if ! redis_answers "$REDIS_URL"; then
    say "starting embedded redis-server on 127.0.0.1:$port ($mode, $dir)"
    local persist=(--save "" --appendonly no)
    [ "$mode" = aof ] && persist=(--save "" --appendonly yes --appendfsync everysec)
    redis-server --port "$port" --bind 127.0.0.1 --dir "$dir" --daemonize yes \
      --pidfile "$dir/redis.pid" --logfile "$dir/redis.log" --maxmemory-policy noeviction "${persist[@]}"
    for _ in $(seq 1 50); do redis_answers "$REDIS_URL" && break; sleep 0.1; done
    redis_answers "$REDIS_URL" || { say "embedded redis did not start; see $dir/redis.log"; return 1; }
  fi
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
