#!/usr/bin/env bash
# Side-by-side: redis-server (Debian) vs ringkv on this machine, same workloads, same script.
#
# Each server runs with persistence off on loopback, pinned to CPU 0; redis-benchmark runs pinned
# to CPU 1. For every test and pipeline depth the two servers are interleaved over ROUNDS rounds
# and the medians are reported: requests/s, p50 and p99 latency (ms), and the server's CPU time per
# request (user+sys from /proc/PID/stat before and after the run, divided by the requests).
# A second mode (SCALING=1) runs ringkv with --threads 2, unpinned, to show scaling.
#
# Usage: perf/compare.sh              (defaults below)
#        ROUNDS=5 TESTS=set,get perf/compare.sh
set -euo pipefail
cd "$(dirname "$0")/.."

ROUNDS=${ROUNDS:-3}
CLIENTS=${CLIENTS:-50}
KEYSPACE=${KEYSPACE:-100000}
N_P1=${N_P1:-200000}
N_P16=${N_P16:-2000000}
TESTS=${TESTS:-set,get,incr,mset,lpush,rpush,lpop,rpop,sadd,hset,spop,zadd,zpopmin,lrange_100}
PIPELINES=${PIPELINES:-"1 16"}
SCALING=${SCALING:-1}
RINGKV=${RINGKV:-target/release/ringkv}
PORT_REDIS=${PORT_REDIS:-7379}
PORT_RINGKV=${PORT_RINGKV:-7380}
TICK_HZ=$(getconf CLK_TCK)

for tool in redis-server redis-benchmark redis-cli taskset; do
  command -v "$tool" >/dev/null || { echo "missing $tool: apt-get install -y redis-server redis-tools util-linux"; exit 1; }
done
echo "+ cargo build --release"
cargo build --release -q

PIDS=()
cleanup() { for p in "${PIDS[@]:-}"; do [ -n "$p" ] && kill "$p" 2>/dev/null || true; done; }
trap cleanup EXIT

wait_ready() { # port
  for _ in $(seq 1 100); do redis-cli -p "$1" ping >/dev/null 2>&1 && return 0; sleep 0.05; done
  echo "server on port $1 did not start"; exit 1
}

start_redis() {
  local cmd=(taskset -c 0 redis-server --port "$PORT_REDIS" --bind 127.0.0.1 --save "" --appendonly no --daemonize no --loglevel warning)
  echo "+ ${cmd[*]}" >&2
  "${cmd[@]}" >/dev/null 2>&1 & REDIS_PID=$!; PIDS+=("$REDIS_PID"); wait_ready "$PORT_REDIS"
}
start_ringkv() { # extra args...; pinned unless UNPINNED=1
  local cmd=("$RINGKV" --port "$PORT_RINGKV" --bind 127.0.0.1 --save "" --loglevel warning "$@")
  [ "${UNPINNED:-0}" = 1 ] || cmd=(taskset -c 0 "${cmd[@]}")
  echo "+ ${cmd[*]}" >&2
  "${cmd[@]}" >/dev/null 2>&1 & RINGKV_PID=$!; PIDS+=("$RINGKV_PID"); wait_ready "$PORT_RINGKV"
}

cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }

# bench PORT PID TEST PIPELINE N -> "rps p50 p99 us_per_req"
bench() {
  local port=$1 pid=$2 test=$3 p=$4 n=$5
  redis-cli -p "$port" flushall >/dev/null
  local t0; t0=$(cpu_ticks "$pid")
  local csv; csv=$(taskset -c 1 redis-benchmark -p "$port" -c "$CLIENTS" -n "$n" -r "$KEYSPACE" -P "$p" -t "$test" --csv 2>/dev/null | tail -n 1)
  local t1; t1=$(cpu_ticks "$pid")
  # "test","rps","avg_latency_ms","min_latency_ms","p50_latency_ms","p95_latency_ms","p99_latency_ms","max_latency_ms"
  echo "$csv" | tr -d '"' | awk -F, -v dt=$((t1 - t0)) -v hz="$TICK_HZ" -v n="$n" \
    '{ printf "%s %s %s %.3f\n", $2, $5, $7, dt * 1e6 / hz / n }'
}

median() { sort -g | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }

run_table() { # title, ringkv args...
  local title=$1; shift
  echo
  echo "## $title"
  echo "clients=$CLIENTS keyspace=$KEYSPACE rounds=$ROUNDS (medians); CPU = server user+sys µs per request"
  echo
  printf "| %-10s | %2s | %12s | %12s | %5s | %9s | %9s | %9s | %9s | %8s | %8s | %5s |\n" \
    test P "redis req/s" "ringkv req/s" ratio "redis p50" "ringkv p50" "redis p99" "ringkv p99" "redis µs" "ringkv µs" ratio
  echo "|------------|----|--------------|--------------|-------|-----------|-----------|-----------|-----------|----------|----------|-------|"
  for p in $PIPELINES; do
    local n=$N_P1; [ "$p" != 1 ] && n=$N_P16
    for test in ${TESTS//,/ }; do
      local rr=() kr=()
      for _ in $(seq 1 "$ROUNDS"); do
        rr+=("$(bench "$PORT_REDIS" "$REDIS_PID" "$test" "$p" "$n")")
        kr+=("$(bench "$PORT_RINGKV" "$RINGKV_PID" "$test" "$p" "$n")")
      done
      col() { local i=$1; shift; for x in "$@"; do echo "$x" | awk -v i="$i" '{print $i}'; done | median; }
      local r_rps r_p50 r_p99 r_cpu k_rps k_p50 k_p99 k_cpu
      r_rps=$(col 1 "${rr[@]}"); r_p50=$(col 2 "${rr[@]}"); r_p99=$(col 3 "${rr[@]}"); r_cpu=$(col 4 "${rr[@]}")
      k_rps=$(col 1 "${kr[@]}"); k_p50=$(col 2 "${kr[@]}"); k_p99=$(col 3 "${kr[@]}"); k_cpu=$(col 4 "${kr[@]}")
      if [ -z "$k_rps" ] || [ "$k_rps" = 0 ]; then continue; fi
      printf "| %-10s | %2s | %12.0f | %12.0f | %5.2f | %9s | %9s | %9s | %9s | %8.3f | %8.3f | %5.2f |\n" \
        "$test" "$p" "$r_rps" "$k_rps" "$(echo "$k_rps / $r_rps" | bc -l)" "$r_p50" "$k_p50" "$r_p99" "$k_p99" \
        "$r_cpu" "$k_cpu" "$(echo "$k_cpu / $r_cpu" | bc -l)"
    done
  done
}

echo "# ringkv vs redis-server $(redis-server --version | awk '{print $3}') on $(nproc) cores, $(uname -r)"
echo "redis-benchmark: taskset -c 1 redis-benchmark -p PORT -c $CLIENTS -n N -r $KEYSPACE -P P -t TEST --csv (N=$N_P1 at -P 1, $N_P16 otherwise)"
start_redis
start_ringkv --threads 1
run_table "ringkv --threads 1, both servers pinned to CPU 0, redis-benchmark on CPU 1"
if [ "$SCALING" = 1 ]; then
  kill "$RINGKV_PID"; wait "$RINGKV_PID" 2>/dev/null || true
  UNPINNED=1 start_ringkv --threads 2
  ROUNDS=1 run_table "scaling: ringkv --threads 2 unpinned (redis still pinned to CPU 0)"
fi
