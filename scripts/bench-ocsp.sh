#!/usr/bin/env bash
# OCSP speed (issue #4): 100,000 issued certificates with pre-signed responses, then wrk
# GETs of random known serials against `hanko serve` and against nginx serving the same
# responses as static files. Not a test; prints requests/s and latency percentiles.
#
# Usage: scripts/bench-ocsp.sh [count (100000)] [duration (20s)] [connections (64)]
# BUILD=debug uses the debug build (quick check of the script itself).
set -euo pipefail
cd "$(dirname "$0")/.."
COUNT=${1:-100000}
DURATION=${2:-20s}
CONNS=${3:-64}
THREADS=${THREADS:-2}
BUILD=${BUILD:-release}
if [ "$BUILD" = release ]; then
  cargo build --release -p hanko -p acme-tests --bin hanko --bin ocsp_bench
else
  cargo build -p hanko -p acme-tests --bin hanko --bin ocsp_bench
fi
BIN=target/$BUILD
export HANKO_BIN=$PWD/$BIN/hanko

WORK=$(mktemp -d /tmp/hanko-ocsp-bench.XXXXXX)
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

"$BIN/ocsp_bench" --data "$WORK/data" --out "$WORK/out" --count "$COUNT"
# nginx workers run unprivileged: let them read the static responses.
chmod 755 "$WORK"
chmod -R a+rX "$WORK/out"

cat > "$WORK/paths.lua" <<'LUA'
local paths = {}
for line in io.lines(os.getenv("PATHS")) do paths[#paths + 1] = line end
math.randomseed(os.time() + tonumber(tostring({}):sub(8), 16))
request = function()
  return wrk.format("GET", paths[math.random(#paths)])
end
LUA

# hanko serve on the pre-signed database.
HTTPS=$(free_port); STATUS=$(free_port)
HANKO_STORAGE__DATA_DIR="$WORK/data" HANKO_SERVER__LISTEN="127.0.0.1:$HTTPS" \
HANKO_SERVER__HTTP_LISTEN="127.0.0.1:$STATUS" HANKO_CA__OCSP_URL="http://127.0.0.1:$STATUS/ocsp" \
HANKO_LOG__LEVEL=warn "$HANKO_BIN" serve > "$WORK/hanko.log" 2>&1 &
PIDS+=($!)
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$STATUS/ca/issuer.der" -o /dev/null && break; sleep 0.2; done
FIRST=$(head -1 "$WORK/out/hanko_paths.txt")
curl -sf "http://127.0.0.1:$STATUS$FIRST" -o "$WORK/one.der"
openssl ocsp -respin "$WORK/one.der" -noverify -resp_text | grep -q "Cert Status: good"

# nginx serving the same responses as static files.
if ! command -v nginx > /dev/null; then
  apt-get install -y nginx-light > /dev/null 2>&1 || apt-get install -y nginx > /dev/null
fi
NGINX_PORT=$(free_port)
mkdir -p "$WORK/nginx/logs"
cat > "$WORK/nginx/nginx.conf" <<CONF
worker_processes auto;
pid $WORK/nginx/nginx.pid;
error_log $WORK/nginx/logs/error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  sendfile on;
  tcp_nopush on;
  default_type application/ocsp-response;
  server {
    listen 127.0.0.1:$NGINX_PORT;
    root $WORK/out/www;
  }
}
CONF
nginx -p "$WORK/nginx" -c "$WORK/nginx/nginx.conf" -g 'daemon off;' &
PIDS+=($!)
for _ in $(seq 50); do curl -sf "http://127.0.0.1:$NGINX_PORT$(head -1 "$WORK/out/nginx_paths.txt")" -o /dev/null && break; sleep 0.2; done

run_wrk() {
  echo "== $1: wrk -t$THREADS -c$CONNS -d$DURATION --latency -s paths.lua $2"
  PATHS=$3 wrk -t"$THREADS" -c"$CONNS" -d"$DURATION" --latency -s "$WORK/paths.lua" "$2"
}
run_wrk hanko "http://127.0.0.1:$STATUS" "$WORK/out/hanko_paths.txt"
run_wrk nginx "http://127.0.0.1:$NGINX_PORT" "$WORK/out/nginx_paths.txt"
