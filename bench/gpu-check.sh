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
#   CGO_ENABLED=0 go build -ldflags=-s\ -w -o nas ./cmd/nas
#   bench/gpu-check.sh [./nas]
#
# Environment: PYTHON (default python3, with torch), FMNIST (the directory
# of the Fashion-MNIST .gz files; default /usr/share/datasets/fashion-mnist
# or tmp/fashion-mnist), CPU_EPOCH=1 to train the same epoch on the CPU
# too, OUT (a directory that also receives the log).
#
# Steps the binary does not support yet (the --device flag of bench and
# train) print "not available in this build" instead of failing. The log
# goes to results/gpu/gpu-check-<UTC time>.txt; the exit status is 1 if a
# step that ran failed (the kernel parity included).
set -u
cd "$(dirname "$0")/.."
NAS=${1:-./nas}
PYTHON=${PYTHON:-python3}
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
  timeout "$limit" "$@"
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
has_flag() { "$NAS" help "$1" 2>/dev/null | grep -q -- "-$2 "; }

echo "effnas GPU check, $STAMP, host $(hostname)"
echo "binary: $NAS ($(stat -c %s "$NAS") bytes), commit $(git rev-parse --short HEAD 2>/dev/null || echo unknown)"

step "nvidia-smi" 30 nvidia-smi
step "GPU summary" 30 nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm,power.limit --format=csv
step "nvcc" 10 bash -c 'set -o pipefail; nvcc --version | tail -2'
step "python and torch" 60 "$PYTHON" -c '
import torch, sys
print("python", sys.version.split()[0], "torch", torch.__version__, "CUDA", torch.version.cuda, "cuDNN", torch.backends.cudnn.version())
print("GPU", torch.cuda.get_device_name(0) if torch.cuda.is_available() else "none")'
step "NVIDIA wheels" 60 bash -c "$PYTHON -m pip list 2>/dev/null | grep -i -e nvidia -e torch || echo 'no nvidia wheels listed'"

# the devices and the libraries this binary loads (and from where)
step "nas devices" 60 "$NAS" devices
step "nas devices --json" 60 "$NAS" devices --json

# the kernel source as NVRTC sees it, compiled by nvcc too (a second
# opinion on compile errors)
SRC=$(mktemp --suffix=.cu)
trap 'rm -f "$SRC"' EXIT
"$NAS" devices --source > "$SRC"
ARCH=$("$NAS" devices --json | "$PYTHON" -c 'import json,sys; g=json.load(sys.stdin)["gpus"]; print("sm_%d%d" % (g[0]["Major"], g[0]["Minor"]) if g else "")' 2>/dev/null)
if command -v nvcc >/dev/null && [ -n "$ARCH" ]; then
  step "nvcc compiles the kernels ($ARCH)" 120 nvcc -arch="$ARCH" -cubin -o /dev/null "$SRC"
fi

# parity of every GPU kernel with the CPU ops
step "kernel parity, FP32" 180 "$NAS" devices --check
step "kernel parity, TF32 GEMMs and convolutions" 120 "$NAS" devices --check --tf32 --only Conv
step "kernel timings (ours against cuDNN)" 180 "$NAS" devices --bench

# the training step, ours against PyTorch+cuDNN on the same GPU
if has_flag bench device; then
  step "nas bench bench-dw batch 64" 120 "$NAS" bench bench-dw --device cuda --batch 64 --steps 50 --warmup 10
  step "nas bench bench-dw batch 256" 120 "$NAS" bench bench-dw --device cuda --batch 256 --steps 30 --warmup 5
  step "nas bench efficientnetv2-b0 224 batch 64" 180 "$NAS" bench efficientnetv2-b0 --device cuda --image-size 224 --batch 64 --steps 20 --warmup 5
  if has_flag bench tf32; then
    step "nas bench bench-dw batch 64, TF32" 120 "$NAS" bench bench-dw --device cuda --tf32 --batch 64 --steps 50 --warmup 10
  fi
else
  unsupported "nas bench --device cuda (bench-dw 64, 256; efficientnetv2-b0 224)" "nas bench has no --device flag yet"
fi
for cfg in "dw 28 1 10 64" "dw 28 1 10 256" "efficientnetv2-b0 224 3 1000 64"; do
  set -- $cfg
  step "PyTorch $1 ${2}px batch $5, FP32" 120 "$PYTHON" bench/torch_step.py --device cuda --variant "$1" --size "$2" --channels "$3" --classes "$4" --batch "$5" --warmup 10 --steps 50
done
step "PyTorch efficientnetv2-b0 224px batch 64, FP32 channels-last" 120 "$PYTHON" bench/torch_step.py --device cuda --variant efficientnetv2-b0 --size 224 --channels 3 --classes 1000 --batch 64 --warmup 10 --steps 30 --channels-last
step "PyTorch dw 28px batch 64, TF32" 120 "$PYTHON" bench/torch_step.py --device cuda --variant dw --batch 64 --warmup 10 --steps 50 --tf32

# one epoch of bench-dw on Fashion-MNIST
if ! has_flag train device; then
  unsupported "nas train bench-dw --epochs 1 --device cuda" "nas train has no --device flag yet"
elif [ -z "${FMNIST:-}" ]; then
  unsupported "nas train bench-dw --epochs 1 --device cuda" "Fashion-MNIST not found (set FMNIST=DIR)"
else
  step "nas train bench-dw 1 epoch on the GPU" 240 "$NAS" train bench-dw --device cuda --epochs 1 --seed 1 --data "$FMNIST"
  if [ "${CPU_EPOCH:-0}" = 1 ]; then
    step "nas train bench-dw 1 epoch on the CPU (same seed)" 300 "$NAS" train bench-dw --epochs 1 --seed 1 --data "$FMNIST"
  fi
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
