#!/bin/sh
# The coordinator's overhead on a simulated search on many workers (README
# "Trials on many hosts"): 1,000 trials of the synthetic evaluator with a
# delay, 64 worker processes, each on its own connection to the embedded
# queue server, the coordinator being search.Run with its bbolt store
# (go test ./remote/ -bench SearchOnWorkers, remote/searchsim_test.go). The
# ideal time is waves x delay; the overhead is the rest. Each delay runs
# with --parallel 64 (every new trial waits for the coordinator's round
# trip) and --parallel 128 (64 more queued ahead), REPS times, alternating.
#
#   bench/queue-sim.sh | tee results/queue-sim.txt
#
# The machine is shared: the load and its busiest process (CPU share over
# half a second, of 100% per core) are printed before each run.
set -eu
cd "$(dirname "$0")/.."
REPS=${REPS:-2}
DELAYS=${DELAYS:-"5s 1s"}
TRIALS=${TRIALS:-1000}
WORKERS=${WORKERS:-64}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT INT TERM
go test -c -o "$tmp/remote.test" ./remote/
echo "$(date -u '+%Y-%m-%d %H:%M UTC'), commit $(git rev-parse --short HEAD)$(git diff --quiet HEAD -- remote search store || echo ' (modified)'), $(go version | cut -d' ' -f3)"
echo "machine: $(nproc) cores ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//')), $(free -g | awk '/Mem/{print $2}') GiB, $(df -h "$tmp" | awk 'NR==2{print $1}')"
echo "delay in_flight rep overhead_% wall_s ideal_s gap_ms back_ms out_ms first_ms tail_ms excess_ms load_1min busiest_process"
for delay in $DELAYS; do
  rep=1
  while [ "$rep" -le "$REPS" ]; do
    for queue in 0 "$WORKERS"; do
      load=$(cut -d' ' -f1 /proc/loadavg)
      busiest=$(top -bn2 -d0.5 -o %CPU | awk '/^ *PID/{n++; next} n==2 && NF>=12 {print $12 "(" $9 "%)"; exit}')
      "$tmp/remote.test" -test.run '^$' -test.bench SearchOnWorkers -test.benchtime 1x \
        -sim.trials "$TRIALS" -sim.workers "$WORKERS" -sim.queue "$queue" -sim.delay "$delay" > "$tmp/out" 2>&1 ||
        { cat "$tmp/out"; exit 1; }
      python3 - "$tmp/out" "$delay" "$((WORKERS + queue))" "$rep" "$load" "$busiest" <<'PY'
import re, sys
text = open(sys.argv[1]).read()
d = r"(-?[\d.]+(?:µs|ms|s))"
m = re.search(r"([\d.]+)s against an ideal ([\d.]+)s .*overhead ([+-][\d.]+)%.*waited " + d + r" between trials on average "
              r"\(result back to the search " + d + r", new trial out to a worker " + d + r"\), the last started its first trial " + d +
              r" after the baseline, the search ended " + d + r" after the last trial; trials took " + d + " longer", text)
if not m:
    sys.exit("no report in the benchmark's output:\n" + text)
def ms(v):
    for unit, scale in (("µs", 1e-3), ("ms", 1), ("s", 1e3)):
        if v.endswith(unit):
            return "%.1f" % (float(v[:-len(unit)]) * scale)
delay, inflight, rep, load, busiest = sys.argv[2:]
print(delay, inflight, rep, m.group(3), m.group(1), m.group(2), *[ms(m.group(i)) for i in range(4, 10)], load, busiest)
PY
    done
    rep=$((rep + 1))
  done
done
echo "gap: a worker's wait between two trials; back and out: its two parts (the result back to the search, the new trial out"
echo "to a worker), meaningful with one trial in flight per worker (with trials queued ahead a worker does not wait for them);"
echo "first: when the last worker started its first trial, after the baseline; tail: the search's end after the last trial's;"
echo "excess: how much longer than the delay a trial took on its worker (its process waiting for a core: the machine's load)"
