#!/usr/bin/env bash
# GPU check of the effnas trainer, in one run of at most 7.5 minutes on a GPU
# host that has no Go: versions and the CUDA libraries loaded, the parity
# of every GPU kernel with the CPU ops (FP32, then TF32), kernel timings
# against cuDNN, the training step of bench-dw (batch 64 and 256) and
# efficientnetv2-b0 at 224 (batch 64) against PyTorch with cuDNN on the
# same GPU, and one epoch of bench-dw on Fashion-MNIST.
#
# Build the binary elsewhere, carry it with the repository, run from there:
#
#   CGO_ENABLED=0 go build -buildvcs=true -ldflags=-s\ -w -o nas ./cmd/nas
#   bench/gpu-check.sh [./nas]
#
# Environment: PYTHON (default python3, with torch), FMNIST (the directory
# of the Fashion-MNIST .gz files; default /usr/share/datasets/fashion-mnist
# or tmp/fashion-mnist), CPU_EPOCH=1 to also run the same epoch on the CPU
# (last, about 2 minutes), OUT (a directory that also receives the log).
#
# Steps the binary does not support yet (the --device flag of bench, train
# and eval) print "not available in this build" instead of failing. The log
# goes to results/gpu/gpu-check-<UTC time>.txt; the exit status is 1 if a
# step that ran failed (the kernel parity included).
set -u
cd "$(dirname "$0")/.."
NAS=${1:-./nas}
PYTHON=${PYTHON:-python3}
export NAS PYTHON
BUDGET=${BUDGET:-450} # seconds for the whole run: each step gets at most what is left
START=$(date +%s)
STAMP=$(date -u +%Y%m%dT%H%M%SZ)
mkdir -p results/gpu
LOG=results/gpu/gpu-check-$STAMP.txt

main() {
if [ ! -x "$NAS" ]; then
  echo "gpu-check: $NAS is not an executable effnas binary (build it with CGO_ENABLED=0 go build -o nas ./cmd/nas)"
  return 2
fi
if [ -z "${FMNIST:-}" ]; then
  for d in /usr/share/datasets/fashion-mnist tmp/fashion-mnist; do
    [ -f "$d/train-images-idx3-ubyte.gz" ] && FMNIST=$d && break
  done
fi

export FMNIST
declare -a SUMMARY
FAILED=0
# step NAME TIMEOUT CMD...: runs CMD with a time limit and records the outcome.
step() {
  local name=$1 limit=$2
  shift 2
  local now=$(($(date +%s) - START))
  echo
  echo "=== $name (at ${now}s)"
  echo "\$ $*"
  if [ $((BUDGET - now)) -lt 10 ]; then
    echo "skipped: the ${BUDGET}s budget is spent"
    SUMMARY+=("$name: skipped (time)")
    return
  fi
  [ "$limit" -gt $((BUDGET - now)) ] && limit=$((BUDGET - now))
  local t0=$(date +%s)
  if declare -F "$1" >/dev/null; then
    # a function of this script: timeout runs programs, so a bash that has it
    timeout "$limit" bash -c "$(declare -f "$1"); \"\$@\"" _ "$@"
  else
    timeout "$limit" "$@"
  fi
  local rc=$?
  local dt=$(($(date +%s) - t0))
  if [ $rc -eq 0 ]; then
    SUMMARY+=("$name: ok (${dt}s)")
  else
    [ $rc -eq 124 ] && echo "timed out after ${limit}s"
    SUMMARY+=("$name: FAILED, exit $rc (${dt}s)")
    FAILED=1
  fi
}
# unsupported NAME REASON: a step this build cannot run.
unsupported() {
  echo
  echo "=== $1"
  echo "not available in this build: $2"
  SUMMARY+=("$1: not available in this build")
}
# has_flag CMD FLAG: whether `nas help CMD` lists --FLAG.
has_flag() { "$NAS" help "$1" 2>/dev/null | grep -qE -- "^ +-$2( |\$)"; }

echo "effnas GPU check, $STAMP, host $(hostname)"
echo "binary: $NAS ($(stat -c %s "$NAS") bytes): $("$NAS" version 2>/dev/null | sed -n 2p)"

step "nvidia-smi" 30 nvidia-smi
step "GPU summary" 30 nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm,power.limit --format=csv
step "nvcc" 10 bash -c 'set -o pipefail; nvcc --version | tail -2'
step "python and torch" 60 "$PYTHON" -c '
import torch, sys
print("python", sys.version.split()[0], "torch", torch.__version__, "CUDA", torch.version.cuda, "cuDNN", torch.backends.cudnn.version())
print("GPU", torch.cuda.get_device_name(0) if torch.cuda.is_available() else "none")'

# the devices and the libraries this binary loads (and from where)
step "nas devices" 60 "$NAS" devices
step "nas devices --json" 60 "$NAS" devices --json

DEVJSON=$("$NAS" devices --json 2>&1)
if echo "$DEVJSON" | grep -q '"error"'; then
  # a library not found: say where the libraries are
  step "where the CUDA libraries are" 60 bash -c 'ls /usr/local/nvidia/lib64 2>/dev/null | head -20; find / -xdev \( -name "libcuda.so*" -o -name "libcudart.so*" -o -name "libnvrtc*.so*" -o -name "libcublas*.so*" -o -name "libcudnn*.so*" \) 2>/dev/null | head -40; echo "LD_LIBRARY_PATH=${LD_LIBRARY_PATH:-}"; command -v python3'
fi
if echo "$DEVJSON" | grep -q '"gpus": \[\]'; then
  echo
  echo "=== summary ($(($(date +%s) - START))s): no GPU usable, the rest skipped"
  printf '%s\n' "${SUMMARY[@]}"
  return 1
fi

# parity of every GPU kernel with the CPU ops
step "kernel parity, FP32" 150 "$NAS" devices --check
if [ "${SUMMARY[-1]%%(*}" != "kernel parity, FP32: ok " ]; then
  # the kernel source as NVRTC sees it, compiled by nvcc too (a second
  # opinion on compile errors)
  SRC=$(mktemp --suffix=.cu)
  "$NAS" devices --source > "$SRC"
  ARCH=$("$NAS" devices --json | "$PYTHON" -c 'import json,sys; g=json.load(sys.stdin)["gpus"]; print("sm_%d%d" % (g[0]["Major"], g[0]["Minor"]) if g else "")' 2>/dev/null)
  if command -v nvcc >/dev/null && [ -n "$ARCH" ]; then
    step "nvcc compiles the kernels ($ARCH)" 60 nvcc -arch="$ARCH" -cubin -o /dev/null "$SRC"
  fi
  rm -f "$SRC"
fi

# the training step, ours against PyTorch+cuDNN on the same GPU: each
# median into $TMPD (nas bench --json, torch_step.py's JSON line), the
# ratios in a table after them. The most telling steps come first, so that
# a run cut short by its budget still answers the main questions.
export TMPD=$(mktemp -d)
trap 'rm -rf "$TMPD"' EXIT
# bench_json NAME ARGS...: nas bench ARGS --json into $TMPD/NAME.json, shown
bench_json() { local f=$TMPD/$1.json; shift; "$NAS" bench "$@" --json > "$f"; local rc=$?; cat "$f"; return $rc; }
# torch_json NAME ARGS...: torch_step.py ARGS into $TMPD/NAME.json, shown
torch_json() { local f=$TMPD/$1.json; shift; "$PYTHON" bench/torch_step.py "$@" > "$f"; local rc=$?; cat "$f"; return $rc; }
HAS_BENCH=0; has_flag bench device && HAS_BENCH=1
[ $HAS_BENCH = 1 ] || unsupported "nas bench --device cuda (bench-dw 64, 256; efficientnetv2-b0 224)" "nas bench has no --device flag yet"
[ $HAS_BENCH = 1 ] && step "nas bench bench-dw batch 64" 60 bench_json ours-dw64 bench-dw --device cuda --batch 64 --steps 50 --warmup 10
step "PyTorch dw 28px batch 64, FP32" 60 torch_json torch-dw64 --device cuda --variant dw --size 28 --channels 1 --classes 10 --batch 64 --warmup 10 --steps 50

# one epoch of bench-dw on Fashion-MNIST on the GPU, its checkpoint
# evaluated on the GPU and on the CPU (the same weights must score the
# same); the CPU's epoch with the same seed is in results/trainer (and,
# with CPU_EPOCH=1, runs last here)
CKPT=$TMPD/bench-dw-gpu.safetensors
if ! has_flag train device; then
  unsupported "nas train bench-dw --epochs 1 --device cuda" "nas train has no --device flag yet"
elif [ -z "${FMNIST:-}" ]; then
  unsupported "nas train bench-dw --epochs 1 --device cuda" "Fashion-MNIST not found (set FMNIST=DIR)"
else
  step "nas train bench-dw 1 epoch on the GPU" 150 "$NAS" train bench-dw --device cuda --epochs 1 --seed 1 --data "$FMNIST" -o "$CKPT"
  if [ -f "$CKPT" ] && has_flag eval device; then
    step "nas eval of the GPU checkpoint on the GPU" 40 "$NAS" eval "$CKPT" --device cuda --data "$FMNIST"
    step "nas eval of the GPU checkpoint on the CPU" 60 "$NAS" eval "$CKPT" --data "$FMNIST"
  fi
fi

if [ $HAS_BENCH = 1 ]; then
  step "nas bench efficientnetv2-b0 224 batch 64" 90 bench_json ours-b0 efficientnetv2-b0 --device cuda --image-size 224 --batch 64 --steps 20 --warmup 5
  step "nas bench bench-dw batch 256" 60 bench_json ours-dw256 bench-dw --device cuda --batch 256 --steps 30 --warmup 5
fi
step "PyTorch efficientnetv2-b0 224px batch 64, FP32 channels-last" 60 torch_json torch-b0-cl --device cuda --variant efficientnetv2-b0 --size 224 --channels 3 --classes 1000 --batch 64 --warmup 10 --steps 30 --channels-last
step "PyTorch efficientnetv2-b0 224px batch 64, FP32" 60 torch_json torch-b0 --device cuda --variant efficientnetv2-b0 --size 224 --channels 3 --classes 1000 --batch 64 --warmup 10 --steps 30
step "PyTorch dw 28px batch 256, FP32" 60 torch_json torch-dw256 --device cuda --variant dw --size 28 --channels 1 --classes 10 --batch 256 --warmup 10 --steps 50
if [ $HAS_BENCH = 1 ]; then
  # where a step's time goes on the device (events around every instruction)
  step "nas bench bench-dw batch 256 --layers" 60 "$NAS" bench bench-dw --device cuda --batch 256 --steps 5 --warmup 3 --layers
  if has_flag bench tf32; then
    step "nas bench bench-dw batch 64, TF32" 60 bench_json ours-dw64-tf32 bench-dw --device cuda --tf32 --batch 64 --steps 50 --warmup 10
  fi
fi
step "PyTorch dw 28px batch 64, TF32" 60 torch_json torch-dw64-tf32 --device cuda --variant dw --batch 64 --warmup 10 --steps 50 --tf32
step "training step: ours against PyTorch (target: at most 1.5x)" 30 "$PYTHON" - "$TMPD" <<'PY'
import json, os, sys
d = sys.argv[1]
def load(name):
    try:
        with open(os.path.join(d, name + ".json")) as f:
            return json.load(f)
    except (OSError, ValueError):
        return None
def ours(name):  # nas bench --json: seconds, field names before and after measure's snake_case
    r = load(name)
    if not r:
        return None
    st = r.get("train_step") or {}
    m = st.get("median", st.get("Median"))
    return None if m is None else 1e3 * m
def torch(*names):  # torch_step.py: milliseconds; the fastest of the layouts given
    ms = [r["median_ms"] for r in map(load, names) if r and "median_ms" in r]
    return min(ms) if ms else None
rows = [("bench-dw 28px batch 64, FP32", ours("ours-dw64"), torch("torch-dw64")),
        ("bench-dw 28px batch 256, FP32", ours("ours-dw256"), torch("torch-dw256")),
        ("efficientnetv2-b0 224px batch 64, FP32", ours("ours-b0"), torch("torch-b0", "torch-b0-cl")),
        ("bench-dw 28px batch 64, TF32", ours("ours-dw64-tf32"), torch("torch-dw64-tf32"))]
print("%-40s %12s %12s %8s" % ("configuration", "ours ms", "PyTorch ms", "ratio"))
missing = within = 0
for name, a, b in rows:
    if a is None or b is None:
        missing += 1
        print("%-40s %12s %12s %8s" % (name, "-" if a is None else "%.2f" % a, "-" if b is None else "%.2f" % b, "-"))
        continue
    r = a / b
    within += r <= 1.5
    print("%-40s %12.2f %12.2f %7.2fx%s" % (name, a, b, r, "" if r <= 1.5 else "  (over 1.5x)"))
print("%d of %d configurations within 1.5x of PyTorch+cuDNN; %d not measured" % (within, len(rows) - missing, missing))
PY

# a short search whose trials train on the GPU, then one on a worker that
# trains on the GPU: each trial records the GPU in its host
if has_flag search device && [ -n "${FMNIST:-}" ]; then
  step "nas search on the GPU (8 trials)" 120 "$NAS" search --device cuda --trials 8 --db "$TMPD/gpu.db" --data "$FMNIST"
  step "the GPU search's trials" 30 bash -c '"$0" trials --db "$1"; "$0" trials --db "$1" --json | grep -m1 -A6 "\"gpu\""' "$NAS" "$TMPD/gpu.db"
  if has_flag worker device; then
    gpu_worker() {
      "$NAS" search --queue embedded --listen 127.0.0.1:4299 --trials 4 --db "$TMPD/queue.db" --data "$FMNIST" &
      local coord=$!
      sleep 2
      "$NAS" worker --queue nats://127.0.0.1:4299 --device cuda --data "$FMNIST" --name gpu0 &
      local worker=$!
      wait $coord
      local rc=$?
      kill -INT $worker; wait $worker
      "$NAS" trials --db "$TMPD/queue.db" --json | grep -E '"(worker|name)"' | sort | uniq -c
      return $rc
    }
    step "nas search --queue embedded with nas worker --device cuda (4 trials)" 90 gpu_worker
  fi
fi
step "kernel timings (ours against cuDNN)" 90 "$NAS" devices --bench
step "kernel parity, TF32 GEMMs and convolutions" 60 "$NAS" devices --check --tf32 --only Conv
if [ "${CPU_EPOCH:-0}" = 1 ] && [ -n "${FMNIST:-}" ]; then
  step "nas train bench-dw 1 epoch on the CPU (same seed)" 300 "$NAS" train bench-dw --epochs 1 --seed 1 --data "$FMNIST"
fi

echo
echo "=== summary ($(($(date +%s) - START))s)"
printf '%s\n' "${SUMMARY[@]}"
return $FAILED
}

main 2>&1 | tee "$LOG"
rc=${PIPESTATUS[0]}
echo "log: $LOG"
if [ -n "${OUT:-}" ] && [ -d "${OUT:-}" ]; then
  cp "$LOG" "$OUT/"
fi
exit "$rc"
