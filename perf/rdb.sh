#!/usr/bin/env bash
# SAVE time and load time: redis-server vs ringkv on the same mixed dataset, same machine.
#
# KEYS_N keys (60% strings of 20-100 bytes, 10% each hashes, lists, sets and sorted sets of 10
# elements) are generated once and piped into each server (pinned to CPU 0, --threads 1 for
# ringkv); then SAVE is timed, and the server is restarted on its own dump and the time until it
# answers with all keys loaded is measured (and the "DB loaded from disk" figure it logs).
#
#   perf/rdb.sh                    # 1,000,000 keys
#   KEYS_N=200000 perf/rdb.sh
set -euo pipefail
cd "$(dirname "$0")/.."

KEYS_N=${KEYS_N:-1000000}
RINGKV=${RINGKV:-target/release/ringkv}
PORT=${PORT:-7392}

for tool in redis-server redis-cli taskset python3; do
  command -v "$tool" >/dev/null || { echo "missing $tool: apt-get install -y redis-server redis-tools util-linux python3"; exit 1; }
done
echo "+ cargo build --release"
cargo build --release -q

DATA=$(mktemp)
PID=""
cleanup() { [ -n "$PID" ] && kill "$PID" 2>/dev/null || true; rm -f "$DATA"; }
trap cleanup EXIT

python3 - "$KEYS_N" > "$DATA" <<'PY'
import sys, random
random.seed(7)
n = int(sys.argv[1]); out = sys.stdout.buffer
def cmd(*args):
    parts = [b"*%d\r\n" % len(args)]
    for a in args:
        a = a if isinstance(a, bytes) else str(a).encode()
        parts.append(b"$%d\r\n%s\r\n" % (len(a), a))
    return b"".join(parts)
buf = []
for i in range(n):
    kind = i % 10
    if kind < 6:
        buf.append(cmd("SET", "s:%d" % i, "v" * random.randint(20, 100)))
    elif kind == 6:
        buf.append(cmd("HSET", "h:%d" % i, *sum((["f%d" % f, "val%d" % random.randint(0, 999)] for f in range(10)), [])))
    elif kind == 7:
        buf.append(cmd("RPUSH", "l:%d" % i, *["item%d" % random.randint(0, 99999) for _ in range(10)]))
    elif kind == 8:
        buf.append(cmd("SADD", "t:%d" % i, *[random.randint(0, 100000) for _ in range(10)]))
    else:
        buf.append(cmd("ZADD", "z:%d" % i, *sum(([random.random() * 100, "m%d" % m] for m in range(10)), [])))
    if len(buf) >= 10000:
        out.write(b"".join(buf)); buf = []
out.write(b"".join(buf))
PY

start() { # kind dir -> sets PID
  if [ "$1" = redis ]; then
    cmd=(taskset -c 0 redis-server --port "$PORT" --bind 127.0.0.1 --save "" --appendonly no --dir "$2" --logfile "$2/log.txt")
  else
    cmd=(taskset -c 0 "$RINGKV" --port "$PORT" --bind 127.0.0.1 --save "" --threads 1 --dir "$2" --logfile "$2/log.txt")
  fi
  echo "+ ${cmd[*]}" >&2
  "${cmd[@]}" >/dev/null 2>&1 & PID=$!
}

wait_keys() { # expected -> waits until the server answers DBSIZE with it
  for _ in $(seq 1 6000); do
    [ "$(redis-cli -p "$PORT" dbsize 2>/dev/null)" = "$1" ] && return 0
    sleep 0.01
  done
  echo "server did not load $1 keys"; exit 1
}

ms() { echo $(( $(date +%s%N) / 1000000 )); }

run() { # kind
  local kind=$1 dir t0 save_ms load_ms logged size
  dir=$(mktemp -d)
  start "$kind" "$dir"; wait_keys 0
  redis-cli -p "$PORT" --pipe < "$DATA" >/dev/null
  wait_keys "$KEYS_N"
  t0=$(ms); redis-cli -p "$PORT" save >/dev/null; save_ms=$(( $(ms) - t0 ))
  size=$(stat -c %s "$dir/dump.rdb")
  kill "$PID"; wait "$PID" 2>/dev/null || true
  t0=$(ms); start "$kind" "$dir"; wait_keys "$KEYS_N"; load_ms=$(( $(ms) - t0 ))
  logged=$(grep -o "DB loaded from disk: [0-9.]* seconds" "$dir/log.txt" | awk '{print $5}')
  kill "$PID"; wait "$PID" 2>/dev/null || true; PID=""
  rm -rf "$dir"
  printf "| %-7s | %8d | %8d | %8d | %12s | %10d |\n" "$kind" "$KEYS_N" "$save_ms" "$load_ms" "$logged" "$size"
}

echo "# SAVE and load of $KEYS_N mixed keys (60% strings 20-100 B; 10% each hash, list, set, zset of 10)"
echo "| server  | keys     | SAVE ms  | load ms  | logged load s | file bytes |"
echo "|---------|----------|----------|----------|---------------|------------|"
run redis
run ringkv
