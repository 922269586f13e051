# Helpers shared by the perf/ scripts (sourced, not run).

# Proportional set size in KiB of a process and its children, summed: for redis-server that
# counts a BGSAVE/full-sync fork's child, which shares the parent's unmodified pages.
pss_kb() { # pid
  local total=0 p
  for p in $1 $(pgrep -P "$1" || true); do
    total=$((total + $(awk '/^Pss:/ {print $2}' "/proc/$p/smaps_rollup" 2>/dev/null || echo 0)))
  done
  echo "$total"
}
