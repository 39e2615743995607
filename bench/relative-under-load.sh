#!/bin/sh
# Does the relative step time hold under load? Measures the training step of
# bench-fused relative to bench-dw (nas bench --against, alternating bursts)
# REPS times on the machine as it is, and REPS times while a busy loop keeps
# one core busy, alternating the two conditions, then prints every ratio, the
# medians and loaded/quiet. The claim (README): within 15% of the quiet value.
#
#   REPS=5 bench/relative-under-load.sh | tee results/relative-under-load.txt
#
# "Quiet" is the machine as it is: on a shared machine other programs are
# load too, which the uptime lines before and after record.
set -eu
cd "$(dirname "$0")/.."
REPS=${REPS:-5}
PAIRS=${PAIRS:-10}
go build -o nas ./cmd/nas
tmp=$(mktemp -d)
burner=""
cleanup() { [ -n "$burner" ] && kill "$burner" 2>/dev/null; rm -rf "$tmp"; }
trap cleanup EXIT INT TERM

ratio() { # prints relative_step_time, noise, retimed, both medians (ms)
  ./nas bench bench-fused --against bench-dw --pairs "$PAIRS" --steps 1 --json > "$tmp/o.json"
  python3 - "$tmp/o.json" <<'PY'
import json, sys
d = json.load(open(sys.argv[1])); i = d["interleaved"]
print("%.4f %.4f %d %.1f %.1f" % (d["relative_step_time"], i["noise"], i.get("retimed", 0),
      d["train_step"]["median"] * 1e3, i["baseline"]["median"] * 1e3))
PY
}

echo "$(date -u '+%Y-%m-%d %H:%M:%S UTC'), $(nproc) cores, $(go version | cut -d' ' -f3), REPS=$REPS PAIRS=$PAIRS"
echo "before: $(uptime)"
echo "condition relative noise retimed fused_ms dw_ms"
for rep in $(seq "$REPS"); do
  echo "quiet $(ratio)" | tee -a "$tmp/all.txt"
  sh -c 'while :; do :; done' &
  burner=$!
  sleep 1
  echo "loaded $(ratio)" | tee -a "$tmp/all.txt"
  kill "$burner"; wait "$burner" 2>/dev/null || true
  burner=""
done
echo "after: $(uptime)"
python3 - "$tmp/all.txt" <<'PY'
import statistics, sys
rows = [l.split() for l in open(sys.argv[1])]
med = lambda cond, col: statistics.median(float(r[col]) for r in rows if r[0] == cond)
q, l = med("quiet", 1), med("loaded", 1)
print("median relative step time: quiet %.4f, one core busy %.4f; loaded/quiet %.4f (%+.1f%%)" % (q, l, l / q, 100 * (l / q - 1)))
print("median absolute step time of bench-fused: quiet %.1f ms, one core busy %.1f ms (%+.1f%%)" %
      (med("quiet", 4), med("loaded", 4), 100 * (med("loaded", 4) / med("quiet", 4) - 1)))
print("within 15%%: %s" % ("yes" if abs(l / q - 1) <= 0.15 else "NO"))
PY
