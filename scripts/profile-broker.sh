#!/usr/bin/env bash
# CPU profile of the broker under load: runs one scripts/bench-broker.sh pass of CASE for each
# target and, PROFILE_DELAY (5) s into each run, records `perf record -g` on the broker process for
# PROFILE_SECONDS (6) s at PROFILE_FREQ (499) samples a second, with JIT
# symbols (perf map files). Compare with: perf report -i .local/prof/perf-TARGET.data --no-children --sort dso,sym
# usage: scripts/profile-broker.sh [CASE=fanin-q0-e2e] [TARGETS="iot-sink-off iot-authz"]
# PROFILE=path records the broker's socket syscalls instead (no call stacks) and prints, per target, how
# long the broker takes from an epoll_wait return to the send it causes, and how busy each wake-up is
# (scripts/bench/path.mjs): the broker's own share of latency, apart from the load generator and the machine.
# PROFILE=alloc records the .NET runtime's allocation samples with their call stacks instead (dotnet-trace:
# `dotnet tool install -g dotnet-trace`) and prints, per .NET target, the bytes allocated by type and by
# call site (benchmarks/IoTServerless.AllocReport): what the broker allocates per message or per connect.
# Needs: perf (linux-perf), and what scripts/bench-broker.sh needs.
set -uo pipefail
source "$(dirname "$0")/lib.sh"
cd "$ROOT" || exit 1
CASE=${1:-fanin-q0-e2e}
export TARGETS=${2:-${TARGETS:-iot-sink-off iot-authz}}
export LATENCY_RUNS=${LATENCY_RUNS:-1} # one run of the case per target, latency too
if [ "${PROFILE:-cpu}" = alloc ]; then
  TRACE=$(command -v dotnet-trace || echo "$HOME/.dotnet/tools/dotnet-trace")
  [ -x "$TRACE" ] || { echo "dotnet-trace is not installed (dotnet tool install -g dotnet-trace)" >&2; exit 1; }
else
  command -v perf >/dev/null || { echo "perf is not installed" >&2; exit 1; }
fi
OUTDIR=$LOCAL/prof; mkdir -p "$OUTDIR"
export DOTNET_PerfMapEnabled=1 DOTNET_EnableWriteXorExecute=0
bash scripts/bench-broker.sh 1 "$CASE" > "$OUTDIR/bench.out" 2> "$OUTDIR/bench.err" &
BENCH_PID=$!
seen=""
paths=()
allocs=()
while kill -0 "$BENCH_PID" 2>/dev/null; do
  line=$(grep '^== ' "$OUTDIR/bench.err" | tail -1)
  if [ -n "$line" ] && [ "$line" != "$seen" ]; then
    seen=$line
    target=$(sed -E 's/.* on ([^ ]+) \(pid [0-9]+\)/\1/' <<<"$line")
    pid=$(sed -E 's/.*\(pid ([0-9]+)\)/\1/' <<<"$line")
    sleep "${PROFILE_DELAY:-5}"
    if [ "${PROFILE:-cpu}" = path ]; then
      perf record -e syscalls:sys_exit_epoll_wait,syscalls:sys_enter_epoll_wait,syscalls:sys_enter_sendto,syscalls:sys_enter_sendmsg,syscalls:sys_enter_write \
        -p "$pid" -o "$OUTDIR/path-$target.data" -- sleep "${PROFILE_SECONDS:-6}" > "$OUTDIR/path-$target.log" 2>&1
      perf script -i "$OUTDIR/path-$target.data" -F tid,time,event > "$OUTDIR/path-$target.txt" 2>> "$OUTDIR/path-$target.log"
      paths+=("$OUTDIR/path-$target.txt")
    elif [ "${PROFILE:-cpu}" = alloc ]; then
      # GC keyword at verbose level (AllocationTick, one event per ~100 KB allocated) with call stacks.
      "$TRACE" collect -p "$pid" --providers "Microsoft-Windows-DotNETRuntime:0x40000001:5" \
        --duration "00:00:00:$(printf %02d "${PROFILE_SECONDS:-6}")" -o "$OUTDIR/alloc-$target.nettrace" > "$OUTDIR/alloc-$target.log" 2>&1 \
        && allocs+=("$OUTDIR/alloc-$target.nettrace")
    else
      perf record -F "${PROFILE_FREQ:-499}" -g -p "$pid" -o "$OUTDIR/perf-$target.data" -- sleep "${PROFILE_SECONDS:-6}" > "$OUTDIR/perf-$target.log" 2>&1
    fi
    echo "profiled $target (pid $pid): $OUTDIR" >&2
  fi
  sleep 0.3
done
cat "$OUTDIR/bench.out"
for trace in "${allocs[@]}"; do
  echo; echo "### $(basename "$trace" .nettrace)"
  dotnet run -c Release --project "$ROOT/benchmarks/IoTServerless.AllocReport" -- "$trace" "${ALLOC_FRAMES:-3}" "${ALLOC_TOP:-12}"
done
if [ ${#paths[@]} -gt 0 ]; then mapfile -t paths < <(printf "%s\n" "${paths[@]}" | sort -u); node "$ROOT/scripts/bench/path.mjs" "${paths[@]}"; fi
