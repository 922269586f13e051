#!/usr/bin/env bash
# Replication: redis-server -> redis-server vs ringkv -> ringkv, same machine, same script.
#
# For each kind: the master (CPU 0; ringkv --threads 1) gets KEYS_N keys of 100 bytes (DEBUG
# POPULATE); then
#   1. full sync: a replica (CPU 1) is started with --replicaof and timed until its link is up
#      and it holds every key (diskless transfer, repl-diskless-sync-delay 0); the master's
#      peak memory during it (no writes: the snapshot's own overhead) against before;
#   2. cost: SET throughput at -P 16 (redis-benchmark on CPU 1) with that replica attached,
#      with a second one too, and with none (the replicas detached), and the master's CPU
#      time per SET in each (us_*; lower is better);
#   3. lag: after that load, the time until the replica's offset reaches the master's;
#   4. sync under load: a fresh replica (CPU 1, nice 19 so that it does not starve the load
#      generator it shares the core with) syncs while redis-benchmark writes SYNC_LOAD_N SETs;
#      the master's throughput during it against (2)'s rate alone, and the master's peak
#      memory (PSS of it and its children, i.e. redis's fork, sampled every 20 ms) against
#      its steady memory just before, and its memory once the replica has caught up.
# Ratios are ringkv / redis (time: lower is better; throughput: higher is better).
#
#   perf/repl.sh                  # 1,000,000 keys
#   KEYS_N=200000 perf/repl.sh
set -euo pipefail
cd "$(dirname "$0")/.."

KEYS_N=${KEYS_N:-1000000}
REQUESTS=${REQUESTS:-1000000}
RINGKV=${RINGKV:-target/release/ringkv}
MPORT=${MPORT:-7394}
RPORT=${RPORT:-7395}
R2PORT=${R2PORT:-7396}
R3PORT=${R3PORT:-7397}
SYNC_LOAD_N=${SYNC_LOAD_N:-500000}

for tool in redis-server redis-cli redis-benchmark taskset; do
  command -v "$tool" >/dev/null || { echo "missing $tool: apt-get install -y redis-server redis-tools util-linux"; exit 1; }
done
echo "+ cargo build --release"
cargo build --release -q

PIDS=()
DIRS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done; for d in "${DIRS[@]}"; do rm -rf "$d"; done; true; }
trap cleanup EXIT

start() { # kind cpu port [args...]   (NICE=n runs the server niced)
  local kind=$1 cpu=$2 port=$3; shift 3
  local dir; dir=$(mktemp -d); DIRS+=("$dir")
  local common=(--port "$port" --bind 127.0.0.1 --save "" --appendonly no --dir "$dir" --logfile "$dir/log.txt" --enable-debug-command yes --repl-diskless-sync-delay 0 "$@")
  if [ "$kind" = redis ]; then
    cmd=(nice -n "${NICE:-0}" taskset -c "$cpu" redis-server "${common[@]}")
  else
    cmd=(nice -n "${NICE:-0}" taskset -c "$cpu" "$RINGKV" "${common[@]}" --threads 1)
  fi
  echo "+ ${cmd[*]}" >&2
  "${cmd[@]}" & PIDS+=($!)
  for _ in $(seq 1 200); do redis-cli -p "$port" ping >/dev/null 2>&1 && return; sleep 0.05; done
  echo "server did not start" >&2; exit 1
}

field() { redis-cli -p "$1" info "$2" | tr -d '\r' | awk -F: -v f="$3" '$1 == f {print $2}'; }
now_ms() { date +%s%3N; }
stop_all() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; done; PIDS=(); }

. perf/lib.sh # pss_kb

# The master's CPU time (user + sys, clock ticks) and microseconds per request between two
# readings: throughput rows with replicas are bounded by CPU 1, which the load generator
# shares with the replicas, so the master's CPU per SET is the cleaner cost figure.
HZ=$(getconf CLK_TCK)
# Children's times count too (redis's fork, once reaped; ringkv has none).
cpu_ticks() { awk '{print $14 + $15 + $16 + $17}' "/proc/$1/stat"; }
us_per() { echo "scale=2; ($2 - $1) * 1000000 / $HZ / $3" | bc; } # ticks0 ticks1 requests

bench() { # [requests]
  local cmd=(taskset -c 1 redis-benchmark -p "$MPORT" -c 50 -P 16 -n "${1:-$REQUESTS}" -r 100000 -d 100 -t set -q)
  echo "+ ${cmd[*]}" >&2
  "${cmd[@]}" | tr '\r' '\n' | awk '/requests per second/ {print $2}' | tail -1
}

declare -A R
for kind in redis ringkv; do
  start "$kind" 0 "$MPORT"
  master_pid=${PIDS[-1]}
  echo "+ redis-cli -p $MPORT debug populate $KEYS_N key 100" >&2
  redis-cli -p "$MPORT" debug populate "$KEYS_N" key 100 >/dev/null
  idle=$(pss_kb "$master_pid")
  idle_peak=$idle
  t0=$(now_ms)
  start "$kind" 1 "$RPORT" --replicaof 127.0.0.1 "$MPORT"
  until [ "$(field "$RPORT" replication master_link_status)" = up ] && [ "$(redis-cli -p "$RPORT" dbsize)" -ge "$KEYS_N" ]; do
    now=$(pss_kb "$master_pid"); [ "$now" -gt "$idle_peak" ] && idle_peak=$now
    sleep 0.02
  done
  R[$kind.sync_ms]=$(( $(now_ms) - t0 ))
  R[$kind.idle_sync_peak_ratio]=$(echo "scale=2; $idle_peak / $idle" | bc)
  c0=$(cpu_ticks "$master_pid")
  R[$kind.rps_1replica]=$(bench)
  R[$kind.us_1replica]=$(us_per "$c0" "$(cpu_ticks "$master_pid")" "$REQUESTS")
  start "$kind" 1 "$R2PORT" --replicaof 127.0.0.1 "$MPORT"
  until [ "$(field "$R2PORT" replication master_link_status)" = up ]; do sleep 0.05; done
  c0=$(cpu_ticks "$master_pid")
  R[$kind.rps_2replicas]=$(bench)
  R[$kind.us_2replicas]=$(us_per "$c0" "$(cpu_ticks "$master_pid")" "$REQUESTS")
  t0=$(now_ms)
  until [ "$(field "$RPORT" replication slave_repl_offset)" = "$(field "$MPORT" replication master_repl_offset)" ]; do sleep 0.005; done
  R[$kind.lag_ms]=$(( $(now_ms) - t0 ))
  redis-cli -p "$RPORT" replicaof no one >/dev/null
  redis-cli -p "$R2PORT" replicaof no one >/dev/null
  until [ "$(field "$MPORT" replication connected_slaves)" = 0 ]; do sleep 0.05; done
  c0=$(cpu_ticks "$master_pid")
  R[$kind.rps_alone]=$(bench)
  R[$kind.us_alone]=$(us_per "$c0" "$(cpu_ticks "$master_pid")" "$REQUESTS")
  steady=$(pss_kb "$master_pid")
  peak=$steady
  c0=$(cpu_ticks "$master_pid")
  bench "$SYNC_LOAD_N" > "/tmp/repl_rps.$$" &
  bench_pid=$!
  t0=$(now_ms)
  NICE=19 start "$kind" 1 "$R3PORT" --replicaof 127.0.0.1 "$MPORT"
  synced=""
  while kill -0 "$bench_pid" 2>/dev/null || [ -z "$synced" ]; do
    now=$(pss_kb "$master_pid"); [ "$now" -gt "$peak" ] && peak=$now
    if [ -z "$synced" ] && [ "$(field "$R3PORT" replication master_link_status)" = up ] && [ "$(redis-cli -p "$R3PORT" dbsize)" -ge "$KEYS_N" ]; then
      synced=$(( $(now_ms) - t0 ))
    fi
    sleep 0.02
  done
  wait "$bench_pid"
  R[$kind.us_during_sync]=$(us_per "$c0" "$(cpu_ticks "$master_pid")" "$SYNC_LOAD_N")
  R[$kind.rps_during_sync]=$(cat "/tmp/repl_rps.$$"); rm -f "/tmp/repl_rps.$$"
  R[$kind.sync_under_load_ms]=$synced
  R[$kind.steady_mib]=$(( steady / 1024 ))
  R[$kind.peak_mib]=$(( peak / 1024 ))
  until [ "$(field "$R3PORT" replication slave_repl_offset)" = "$(field "$MPORT" replication master_repl_offset)" ]; do sleep 0.05; done
  R[$kind.after_mib]=$(( $(pss_kb "$master_pid") / 1024 ))
  stop_all
done

printf '%-32s %12s %12s %7s\n' measure redis ringkv ratio
for m in sync_ms lag_ms rps_alone rps_1replica rps_2replicas us_alone us_1replica us_2replicas sync_under_load_ms rps_during_sync us_during_sync steady_mib peak_mib after_mib; do
  r=${R[redis.$m]}; k=${R[ringkv.$m]}
  printf '%-32s %12s %12s %7.2f\n' "$m" "$r" "$k" "$(echo "$k / ($r + 0.000001)" | bc -l)"
done
printf '%-32s %12.2f %12.2f\n' "rps_2replicas / rps_alone" \
  "$(echo "${R[redis.rps_2replicas]} / ${R[redis.rps_alone]}" | bc -l)" \
  "$(echo "${R[ringkv.rps_2replicas]} / ${R[ringkv.rps_alone]}" | bc -l)"
printf '%-32s %12.2f %12.2f\n' "rps_during_sync / rps_alone" \
  "$(echo "${R[redis.rps_during_sync]} / ${R[redis.rps_alone]}" | bc -l)" \
  "$(echo "${R[ringkv.rps_during_sync]} / ${R[ringkv.rps_alone]}" | bc -l)"
printf '%-32s %12.2f %12.2f\n' "peak / steady memory" \
  "$(echo "${R[redis.peak_mib]} / ${R[redis.steady_mib]}" | bc -l)" \
  "$(echo "${R[ringkv.peak_mib]} / ${R[ringkv.steady_mib]}" | bc -l)"
printf '%-32s %12.2f %12.2f\n' "peak / before, sync without load" \
  "${R[redis.idle_sync_peak_ratio]}" "${R[ringkv.idle_sync_peak_ratio]}"
printf '%-32s %12.2f %12.2f\n' "rps_during_sync / rps_1replica" \
  "$(echo "${R[redis.rps_during_sync]} / ${R[redis.rps_1replica]}" | bc -l)" \
  "$(echo "${R[ringkv.rps_during_sync]} / ${R[ringkv.rps_1replica]}" | bc -l)"
