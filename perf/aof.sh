#!/usr/bin/env bash
# Write throughput with the AOF on: redis-server vs ringkv, same machine, same script.
#
# For appendfsync everysec and always, each server (pinned to CPU 0, ringkv --threads 1) is
# started with appendonly yes in an empty directory and loaded by redis-benchmark (pinned to
# CPU 1): SET, INCR and LPUSH, 50 clients, pipeline 16. The ratio is ringkv / redis requests
# per second (above 1 is faster). The AOF size after the run is printed too. Durability under
# kill -9 is checked by tests/aof.rs (no acknowledged write may be missing).
#
#   perf/aof.sh                 # 1,000,000 requests per test
#   REQUESTS=300000 perf/aof.sh
set -euo pipefail
cd "$(dirname "$0")/.."

REQUESTS=${REQUESTS:-1000000}
RINGKV=${RINGKV:-target/release/ringkv}
PORT=${PORT:-7393}

for tool in redis-server redis-cli redis-benchmark taskset; do
  command -v "$tool" >/dev/null || { echo "missing $tool: apt-get install -y redis-server redis-tools util-linux"; exit 1; }
done
echo "+ cargo build --release"
cargo build --release -q

PID=""
DIR=""
cleanup() { [ -n "$PID" ] && kill "$PID" 2>/dev/null; [ -n "$DIR" ] && rm -rf "$DIR"; true; }
trap cleanup EXIT

start() { # kind policy -> sets PID, DIR
  DIR=$(mktemp -d)
  local common=(--port "$PORT" --bind 127.0.0.1 --save "" --appendonly yes --appendfsync "$2" --dir "$DIR" --logfile "$DIR/log.txt")
  if [ "$1" = redis ]; then
    cmd=(taskset -c 0 redis-server "${common[@]}")
  else
    cmd=(taskset -c 0 "$RINGKV" "${common[@]}" --threads 1)
  fi
  echo "+ ${cmd[*]}" >&2
  "${cmd[@]}" & PID=$!
  for _ in $(seq 1 200); do redis-cli -p "$PORT" ping >/dev/null 2>&1 && return; sleep 0.05; done
  echo "server did not start" >&2; exit 1
}

stop() {
  redis-cli -p "$PORT" shutdown nosave >/dev/null 2>&1 || true
  wait "$PID" 2>/dev/null || true
  PID=""
  rm -rf "$DIR"; DIR=""
}

bench() { # test -> requests per second
  local cmd=(taskset -c 1 redis-benchmark -p "$PORT" -c 50 -P 16 -n "$REQUESTS" -r 100000 -t "$1" -q)
  echo "+ ${cmd[*]}" >&2
  "${cmd[@]}" | tr '\r' '\n' | awk '/requests per second/ {print $2}' | tail -1
}

printf '%-9s %-7s %12s %12s %7s\n' policy test redis_rps ringkv_rps ratio
for policy in everysec always; do
  declare -A rps=()
  for kind in redis ringkv; do
    start "$kind" "$policy"
    for t in set incr lpush; do
      rps[$kind.$t]=$(bench "$t")
    done
    echo "  $kind AOF bytes: $(du -sb "$DIR/appendonlydir" | cut -f1)" >&2
    stop
  done
  for t in set incr lpush; do
    r=${rps[redis.$t]}; k=${rps[ringkv.$t]}
    printf '%-9s %-7s %12s %12s %7.2f\n' "$policy" "$t" "$r" "$k" "$(echo "$k / $r" | bc -l)"
  done
  unset rps
done
