#!/usr/bin/env bash
# Replication: redis-server -> redis-server vs ringkv -> ringkv, same machine, same script.
#
# For each kind: the master (CPU 0; ringkv --threads 1) gets KEYS_N keys of 100 bytes (DEBUG
# POPULATE); then
#   1. full sync: a replica (CPU 1) is started with --replicaof and timed until its link is up
#      and it holds every key (diskless transfer, repl-diskless-sync-delay 0);
#   2. cost: SET throughput at -P 16 (redis-benchmark on CPU 1) with that replica and a second
#      one attached, against the same master with none (the replicas detached);
#   3. lag: after that load, the time until the replica's offset reaches the master's.
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

for tool in redis-server redis-cli redis-benchmark taskset; do
  command -v "$tool" >/dev/null || { echo "missing $tool: apt-get install -y redis-server redis-tools util-linux"; exit 1; }
done
echo "+ cargo build --release"
cargo build --release -q

PIDS=()
DIRS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done; for d in "${DIRS[@]}"; do rm -rf "$d"; done; true; }
trap cleanup EXIT

start() { # kind cpu port [args...]
  local kind=$1 cpu=$2 port=$3; shift 3
  local dir; dir=$(mktemp -d); DIRS+=("$dir")
  local common=(--port "$port" --bind 127.0.0.1 --save "" --appendonly no --dir "$dir" --logfile "$dir/log.txt" --enable-debug-command yes --repl-diskless-sync-delay 0 "$@")
  if [ "$kind" = redis ]; then
    cmd=(taskset -c "$cpu" redis-server "${common[@]}")
  else
    cmd=(taskset -c "$cpu" "$RINGKV" "${common[@]}" --threads 1)
  fi
  echo "+ ${cmd[*]}" >&2
  "${cmd[@]}" & PIDS+=($!)
  for _ in $(seq 1 200); do redis-cli -p "$port" ping >/dev/null 2>&1 && return; sleep 0.05; done
  echo "server did not start" >&2; exit 1
}

field() { redis-cli -p "$1" info "$2" | tr -d '\r' | awk -F: -v f="$3" '$1 == f {print $2}'; }
now_ms() { date +%s%3N; }
stop_all() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; done; PIDS=(); }

bench() {
  local cmd=(taskset -c 1 redis-benchmark -p "$MPORT" -c 50 -P 16 -n "$REQUESTS" -r 100000 -d 100 -t set -q)
  echo "+ ${cmd[*]}" >&2
  "${cmd[@]}" | tr '\r' '\n' | awk '/requests per second/ {print $2}' | tail -1
}

declare -A R
for kind in redis ringkv; do
  start "$kind" 0 "$MPORT"
  echo "+ redis-cli -p $MPORT debug populate $KEYS_N key 100" >&2
  redis-cli -p "$MPORT" debug populate "$KEYS_N" key 100 >/dev/null
  t0=$(now_ms)
  start "$kind" 1 "$RPORT" --replicaof 127.0.0.1 "$MPORT"
  until [ "$(field "$RPORT" replication master_link_status)" = up ] && [ "$(redis-cli -p "$RPORT" dbsize)" -ge "$KEYS_N" ]; do sleep 0.02; done
  R[$kind.sync_ms]=$(( $(now_ms) - t0 ))
  start "$kind" 1 "$R2PORT" --replicaof 127.0.0.1 "$MPORT"
  until [ "$(field "$R2PORT" replication master_link_status)" = up ]; do sleep 0.05; done
  R[$kind.rps_2replicas]=$(bench)
  t0=$(now_ms)
  until [ "$(field "$RPORT" replication slave_repl_offset)" = "$(field "$MPORT" replication master_repl_offset)" ]; do sleep 0.005; done
  R[$kind.lag_ms]=$(( $(now_ms) - t0 ))
  redis-cli -p "$RPORT" replicaof no one >/dev/null
  redis-cli -p "$R2PORT" replicaof no one >/dev/null
  until [ "$(field "$MPORT" replication connected_slaves)" = 0 ]; do sleep 0.05; done
  R[$kind.rps_alone]=$(bench)
  stop_all
done

printf '%-32s %12s %12s %7s\n' measure redis ringkv ratio
for m in sync_ms lag_ms rps_alone rps_2replicas; do
  r=${R[redis.$m]}; k=${R[ringkv.$m]}
  printf '%-32s %12s %12s %7.2f\n' "$m" "$r" "$k" "$(echo "$k / ($r + 0.000001)" | bc -l)"
done
printf '%-32s %12.2f %12.2f\n' "rps_2replicas / rps_alone" \
  "$(echo "${R[redis.rps_2replicas]} / ${R[redis.rps_alone]}" | bc -l)" \
  "$(echo "${R[ringkv.rps_2replicas]} / ${R[ringkv.rps_alone]}" | bc -l)"
