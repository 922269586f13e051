#!/usr/bin/env bash
# Failover time: kill -9 of the master → first successful write on the new master, with
# redis-sentinel vs `ringkv --sentinel` as the sentinels, same machine, same script.
#
# Setup per run (fresh directories, fresh sentinel state): 1 master + 2 replicas (ringkv from
# target/release/ringkv, or redis-server with DATA=redis), 3 sentinels of the kind under test
# (quorum 2, down-after-milliseconds DOWN_AFTER_MS, failover-timeout 10000, parallel-syncs 1).
# A python3 (redis-py) writer does INCR + WAIT $ACK 1000 on the master for PREKILL_MS (an INCR
# counts as acknowledged when WAIT reaches $ACK replicas), then sends SIGKILL to the master itself
# and starts the clock. From then on it asks the sentinels in turn for the master's address
# (SENTINEL GET-MASTER-ADDR-BY-NAME) and tries an INCR there every 5 ms; the first INCR that
# succeeds stops the clock. That INCR's value minus one is the counter the new master held: it must
# be at least the last acknowledged value (no acknowledged write lost), else the run says LOST.
# RUNS runs per sentinel kind; median and max; ratios are ringkv / redis (lower is better).
# Every wait has a deadline (FAILOVER_DEADLINE_S for the failover itself).
#
#   perf/failover.sh                      # both kinds, 10 runs each
#   perf/failover.sh redis                # redis-sentinel only (also SENTINEL=redis)
#   RUNS=3 DATA=redis perf/failover.sh    # control: redis-server data servers
set -euo pipefail
cd "$(dirname "$0")/.."

KINDS=${1:-${SENTINEL:-both}}
[ "$KINDS" = both ] && KINDS="redis ringkv"
RUNS=${RUNS:-10}
DATA=${DATA:-ringkv}
RINGKV=${RINGKV:-target/release/ringkv}
DOWN_AFTER_MS=${DOWN_AFTER_MS:-1000}
PREKILL_MS=${PREKILL_MS:-1000}
ACK=${ACK:-2}
FAILOVER_DEADLINE_S=${FAILOVER_DEADLINE_S:-60}
BASE_PORT=${BASE_PORT:-7410}
MPORT=$BASE_PORT
R1PORT=$((BASE_PORT + 1))
R2PORT=$((BASE_PORT + 2))
SPORTS=($((BASE_PORT + 10)) $((BASE_PORT + 11)) $((BASE_PORT + 12)))

for tool in redis-cli python3; do
  command -v "$tool" >/dev/null || { echo "missing $tool: apt-get install -y redis-tools python3"; exit 1; }
done
[ "$DATA" = redis ] && { command -v redis-server >/dev/null || { echo "missing redis-server: apt-get install -y redis-server"; exit 1; }; }
python3 -c 'import redis' 2>/dev/null || { echo "missing redis-py: pip install redis"; exit 1; }
echo "+ cargo build --release"
cargo build --release -q

PIDS=()
DIRS=()
stop_all() {
  for p in "${PIDS[@]:-}"; do [ -n "$p" ] && kill -9 "$p" 2>/dev/null || true; done
  for p in "${PIDS[@]:-}"; do [ -n "$p" ] && wait "$p" 2>/dev/null || true; done
  PIDS=()
}
cleanup() { stop_all; for d in "${DIRS[@]:-}"; do [ -n "$d" ] && rm -rf "$d"; done; true; }
trap cleanup EXIT

VERBOSE=${VERBOSE:-0}
RUN=1
exec 3>&2 # the commands are printed here; a run's own stderr is dropped (bash's "Killed" notices)
say() { if [ "$VERBOSE" = 1 ] || [ "$RUN" = 1 ]; then { printf '+'; printf ' %q' "$@"; echo; } >&3; fi; }
now_ms() { date +%s%3N; }
field() { redis-cli -p "$1" info "$2" 2>/dev/null | tr -d '\r' | awk -v f="$3:" 'index($0, f) == 1 {print substr($0, length(f) + 1)}'; }

# poll SECONDS COMMAND...: runs COMMAND every 50 ms until it succeeds; fails after SECONDS.
poll() {
  local deadline=$(( $(now_ms) + $1 * 1000 )); shift
  until "$@"; do
    [ "$(now_ms)" -lt "$deadline" ] || return 1
    sleep 0.05
  done
}
pings() { [ "$(redis-cli -p "$1" ping 2>/dev/null)" = PONG ]; }

start_data() { # port dir [args...]
  local port=$1 dir=$2; shift 2
  local cmd
  if [ "$DATA" = redis ]; then
    cmd=(redis-server --port "$port" --bind 127.0.0.1 --save "" --appendonly no --dir "$dir" --logfile "$dir/log.txt" "$@")
  else
    cmd=("$RINGKV" --port "$port" --bind 127.0.0.1 --save "" --dir "$dir" --logfile "$dir/log.txt" "$@")
  fi
  say "${cmd[@]}"
  "${cmd[@]}" >/dev/null 2>&1 & PIDS+=($!)
  LAST_PID=$!
  poll 10 pings "$port" || { echo "data server on $port did not start" >&3; return 1; }
}

linked() { # every replica's link up and the master counting both
  [ "$(field "$MPORT" replication connected_slaves)" = 2 ] &&
    [ "$(field "$R1PORT" replication master_link_status)" = up ] &&
    [ "$(field "$R2PORT" replication master_link_status)" = up ]
}

start_sentinel() { # kind port dir
  local kind=$1 port=$2 dir=$3
  cat >"$dir/sentinel.conf" <<EOF
port $port
bind 127.0.0.1
daemonize no
logfile "$dir/sentinel.log"
dir $dir
sentinel monitor mymaster 127.0.0.1 $MPORT 2
sentinel down-after-milliseconds mymaster $DOWN_AFTER_MS
sentinel failover-timeout mymaster 10000
sentinel parallel-syncs mymaster 1
EOF
  if [ "$VERBOSE" = 1 ] || [ "$RUN" = 1 ]; then echo "+ cat $dir/sentinel.conf" >&3; sed 's/^/    /' "$dir/sentinel.conf" >&3; fi
  local cmd
  if [ "$kind" = redis ]; then
    cmd=(redis-sentinel "$dir/sentinel.conf")
  else
    cmd=("$RINGKV" "$dir/sentinel.conf" --sentinel --port "$port")
  fi
  say "${cmd[@]}"
  "${cmd[@]}" >>"$dir/sentinel.log" 2>&1 & PIDS+=($!)
  local pid=$! deadline=$(( $(now_ms) + 10000 ))
  until pings "$port"; do # give up at once when it exited
    kill -0 "$pid" 2>/dev/null && [ "$(now_ms)" -lt "$deadline" ] || return 1
    sleep 0.05
  done
}

discovered() { # each sentinel: status ok, 2 replicas, 3 sentinels
  local p line
  for p in "${SPORTS[@]}"; do
    line=$(field "$p" sentinel master0)
    case "$line" in *status=ok*slaves=2,sentinels=3*) ;; *) return 1 ;; esac
  done
}

WRITER=perf/failover_writer.py

# one_run KIND -> prints "<ms> ok|LOST ..." or "FAIL <why>"
one_run() {
  local kind=$1 base i
  base=$(mktemp -d); DIRS+=("$base")
  for i in m r1 r2 s0 s1 s2; do mkdir -p "$base/$i"; done
  start_data "$MPORT" "$base/m" || { echo "FAIL master"; return; }
  local mpid=$LAST_PID
  start_data "$R1PORT" "$base/r1" --replicaof 127.0.0.1 "$MPORT" || { echo "FAIL replica"; return; }
  start_data "$R2PORT" "$base/r2" --replicaof 127.0.0.1 "$MPORT" || { echo "FAIL replica"; return; }
  poll 20 linked || { echo "FAIL replicas did not link"; return; }
  for i in 0 1 2; do
    start_sentinel "$kind" "${SPORTS[$i]}" "$base/s$i" || { echo "FAIL sentinel did not start: $(tail -3 "$base/s$i/sentinel.log" | tr '\n' ' ')"; return; }
  done
  poll 30 discovered || { echo "FAIL sentinels did not discover each other"; return; }
  say python3 "$WRITER" "$MPORT" "$mpid" "$ACK" "$PREKILL_MS" "$FAILOVER_DEADLINE_S" "${SPORTS[@]}"
  python3 "$WRITER" "$MPORT" "$mpid" "$ACK" "$PREKILL_MS" "$FAILOVER_DEADLINE_S" "${SPORTS[@]}" || true
}

# stats: reads numbers, prints "median max"
stats() { sort -n | awk '{a[NR]=$1} END {if (NR==0) {print "- -"; exit} m=(NR%2)?a[(NR+1)/2]:(a[NR/2]+a[NR/2+1])/2; print m, a[NR]}'; }

declare -A MED MAX OKN
RESULT=$(mktemp); DIRS+=("$RESULT")
for kind in $KINDS; do
  if [ "$kind" = ringkv ]; then
    probe=$(mktemp -d); DIRS+=("$probe")
    if ! start_sentinel ringkv "${SPORTS[0]}" "$probe" 2>/dev/null; then
      echo "ringkv sentinel: not available ($(head -c 200 "$probe/sentinel.log" | tr '\n' ' '))"
      stop_all
      continue
    fi
    stop_all
  fi
  echo "== sentinel: $kind, data servers: $DATA, $RUNS runs"
  times=()
  for RUN in $(seq 1 "$RUNS"); do
    one_run "$kind" >"$RESULT" 2>/dev/null # not in a subshell: PIDS must reach stop_all
    stop_all 2>/dev/null
    out=$(cat "$RESULT")
    echo "run $RUN: $out"
    case "$out" in
      *" ok "*) times+=("${out%% *}") ;;
    esac
  done
  read -r med max < <(printf '%s\n' "${times[@]:-}" | grep -v '^$' | stats)
  MED[$kind]=$med; MAX[$kind]=$max; OKN[$kind]=${#times[@]}
done
RUN=0

echo
echo "kill -9 of the master → first successful INCR on the new master (ms), down-after ${DOWN_AFTER_MS} ms"
printf '%-20s %8s %10s %10s\n' sentinel ok/runs median max
for kind in $KINDS; do
  [ -n "${MED[$kind]:-}" ] || { printf '%-20s %s\n' "$kind" "not available"; continue; }
  printf '%-20s %8s %10s %10s\n' "$kind" "${OKN[$kind]}/$RUNS" "${MED[$kind]}" "${MAX[$kind]}"
done
if [ -n "${MED[redis]:-}" ] && [ -n "${MED[ringkv]:-}" ] && [ "${MED[redis]}" != - ] && [ "${MED[ringkv]}" != - ]; then
  printf '%-20s %8s %10.2f %10.2f\n' "ratio ringkv/redis" "" \
    "$(echo "${MED[ringkv]} / ${MED[redis]}" | bc -l)" "$(echo "${MAX[ringkv]} / ${MAX[redis]}" | bc -l)"
fi
