#!/usr/bin/env bash
# BGSAVE under write load: redis-server (fork + copy-on-write pages) vs ringkv (no fork,
# copy-on-write per record, see src/store/keyspace.rs), same machine, same script.
#
# Each server is pinned to CPU 0, filled by redis-benchmark with ~KEYS_N keys of VALUE_BYTES-byte
# values in a fresh directory; redis-benchmark on CPU 1 overwrites random keys at -P 16. Reported per
# server: steady RSS before the save, peak memory while the save runs (for redis the parent's
# and the child's PSS together, since the child shares unmodified pages), the ratio, how long the
# save took, and SET throughput with and without a save running.
#
#   perf/bgsave.sh                      # 1,000,000 keys of 100 bytes
#   KEYS_N=200000 perf/bgsave.sh
set -euo pipefail
cd "$(dirname "$0")/.."

KEYS_N=${KEYS_N:-1000000}
VALUE_BYTES=${VALUE_BYTES:-100}
BENCH_N=${BENCH_N:-3000000}
RINGKV=${RINGKV:-target/release/ringkv}
PORT=${PORT:-7391}

for tool in redis-server redis-benchmark redis-cli taskset; do
  command -v "$tool" >/dev/null || { echo "missing $tool: apt-get install -y redis-server redis-tools util-linux"; exit 1; }
done
echo "+ cargo build --release"
cargo build --release -q

PID=""
cleanup() { [ -n "$PID" ] && kill "$PID" 2>/dev/null || true; }
trap cleanup EXIT

. perf/lib.sh # pss_kb

in_progress() { redis-cli -p "$PORT" info persistence | tr -d '\r' | awk -F: '/^rdb_bgsave_in_progress/ {print $2}'; }

bench_rps() { # prints requests/s of one SET run
  taskset -c 1 redis-benchmark -p "$PORT" -c 50 -P 16 -t set -d "$VALUE_BYTES" -r "$KEYS_N" -n "$BENCH_N" --csv \
    | awk -F'"' '/"SET"/ {print int($4)}'
}

run() { # kind
  local kind=$1 dir
  dir=$(mktemp -d)
  if [ "$kind" = redis ]; then
    cmd=(taskset -c 0 redis-server --port "$PORT" --bind 127.0.0.1 --save "" --appendonly no --dir "$dir" --enable-debug-command yes --loglevel warning)
  else
    cmd=(taskset -c 0 "$RINGKV" --port "$PORT" --bind 127.0.0.1 --save "" --threads 1 --dir "$dir" --enable-debug-command yes --loglevel warning)
  fi
  echo "+ ${cmd[*]}" >&2
  "${cmd[@]}" >/dev/null 2>&1 & PID=$!
  for _ in $(seq 1 100); do redis-cli -p "$PORT" ping >/dev/null 2>&1 && break; sleep 0.05; done
  # Fill with redis-benchmark's own key names (key:%012d), 3 passes cover ~95% of them.
  taskset -c 1 redis-benchmark -p "$PORT" -c 50 -P 16 -t set -d "$VALUE_BYTES" -r "$KEYS_N" -n $((3 * KEYS_N)) -q >/dev/null
  sleep 1
  local steady rps_plain rps_save peak t0 t1 save_ms
  steady=$(pss_kb "$PID")
  rps_plain=$(bench_rps)
  steady=$(( steady > $(pss_kb "$PID") ? steady : $(pss_kb "$PID") ))
  peak=$steady
  redis-cli -p "$PORT" bgsave >/dev/null
  t0=$(date +%s%N)
  bench_rps > /tmp/bgsave_rps.$$ &
  local bench_pid=$! done_ms=""
  while kill -0 "$bench_pid" 2>/dev/null || [ "$(in_progress)" = 1 ]; do
    local now; now=$(pss_kb "$PID")
    [ "$now" -gt "$peak" ] && peak=$now
    if [ -z "$done_ms" ] && [ "$(in_progress)" = 0 ]; then
      t1=$(date +%s%N); done_ms=$(( (t1 - t0) / 1000000 ))
    fi
    sleep 0.05
  done
  wait "$bench_pid" || true
  rps_save=$(cat /tmp/bgsave_rps.$$); rm -f /tmp/bgsave_rps.$$
  [ -z "$done_ms" ] && done_ms=$(( ($(date +%s%N) - t0) / 1000000 ))
  kill "$PID" 2>/dev/null || true; wait "$PID" 2>/dev/null || true; PID=""
  rm -rf "$dir"
  printf "| %-7s | %12d | %12d | %5s | %8d | %10d | %10d | %5s |\n" "$kind" "$((steady / 1024))" "$((peak / 1024))" \
    "$(echo "scale=2; $peak / $steady" | bc)" "$done_ms" "$rps_plain" "$rps_save" "$(echo "scale=2; $rps_save / $rps_plain" | bc)"
}

echo "# BGSAVE of $KEYS_N keys x $VALUE_BYTES B while redis-benchmark overwrites random keys"
echo "load: taskset -c 1 redis-benchmark -p PORT -c 50 -P 16 -t set -d $VALUE_BYTES -r $KEYS_N -n $BENCH_N"
echo "memory: PSS of the server and its children (/proc/PID/smaps_rollup), sampled every 50 ms"
echo
echo "| server  | steady MiB   | peak MiB     | peak/steady | save ms | SET/s plain | SET/s saving | ratio |"
echo "|---------|--------------|--------------|-------|----------|------------|------------|-------|"
run redis
run ringkv
