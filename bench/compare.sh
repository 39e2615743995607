#!/usr/bin/env bash
# Same-session comparison of the training step of the bench networks: ours
# (nas bench) against PyTorch (bench/torch_step.py), alternating the two so
# that both see the same machine state, REPS times per configuration.
# Prints the CPU class, the backends and the load average before and after
# (other work on the machine slows both sides, not always equally), then one
# Markdown table of medians over the repetitions.
#
#   apt-get install -y python3-torch time
#   go build -o nas ./cmd/nas && REPS=3 bench/compare.sh
#   KERNELS=avx2 REPS=3 bench/compare.sh   # both held to AVX2 (on an AVX-512 machine too)
#
# KERNELS (default auto) is our backend (EFFNAS_KERNELS: auto, avx512, avx2,
# neon, go, ref). avx2 also holds PyTorch to AVX2 (ATEN_CPU_CAPABILITY=avx2,
# ONEDNN_MAX_CPU_ISA=AVX2) and avx512 to AVX-512 (avx512, AVX512_CORE);
# otherwise PyTorch picks its own.
set -euo pipefail
cd "$(dirname "$0")/.."
T='glibc.malloc.mmap_threshold=2147483647:glibc.malloc.trim_threshold=2147483647'
REPS=${REPS:-3}
KERNELS=${KERNELS:-auto}
export EFFNAS_KERNELS=$KERNELS
torch_env=()
case "$KERNELS" in
  avx2) torch_env=(ATEN_CPU_CAPABILITY=avx2 ONEDNN_MAX_CPU_ISA=AVX2) ;;
  avx512) torch_env=(ATEN_CPU_CAPABILITY=avx512 ONEDNN_MAX_CPU_ISA=AVX512_CORE) ;;
  auto|neon|go|ref) ;;
  *) echo "KERNELS=$KERNELS: want auto, avx512, avx2, neon, go or ref" >&2; exit 2 ;;
esac
# The CPU class, from what the CPU reports.
arch=$(uname -m)
if [ "$arch" = aarch64 ] || [ "$arch" = arm64 ]; then
  class=arm64
elif grep -qw avx512f /proc/cpuinfo; then
  class=AVX-512
elif grep -qw avx2 /proc/cpuinfo && grep -qw fma /proc/cpuinfo; then
  class=AVX2+FMA
else
  class="$arch (no AVX2)"
fi
model=$(grep -m1 -E '^(model name|Model)' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//' || true)
echo "CPU: ${model:-unknown} ($(nproc) cores), class $class"
echo "ours: EFFNAS_KERNELS=$KERNELS; PyTorch: ${torch_env[*]:-its own choice}"
echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
for rep in $(seq "$REPS"); do
  for cfg in "dw 28 1 2" "dw 28 1 1" "dw 32 3 2" "dw 32 3 1" "fused 28 1 2" "fused 28 1 1"; do
    set -- $cfg; v=$1; s=$2; c=$3; th=$4
    ./nas bench "bench-$v" --image-size "$s" --channels "$c" --threads "$th" --json > "$tmp/o.json"
    python3 - "$tmp/o.json" "$v $s $c $th" "$tmp/backend" >> "$tmp/ours.txt" <<'PY'
import json, sys
d = json.load(open(sys.argv[1])); t = d["train_step"]
open(sys.argv[3], "w").write(d["host"]["backend"])
print(sys.argv[2], t["median"] * 1e3, d["train_gflops"], t["allocs"], t["bytes"] / 2**20, d["peak_rss_bytes"] / 2**20)
PY
    extra=""; [ "$c" = 3 ] && extra="--channels 3 --size 32"
    /usr/bin/time -f "%M" -o "$tmp/rss" env GLIBC_TUNABLES=$T "${torch_env[@]}" /usr/bin/python3 bench/torch_step.py --variant "$v" $extra --threads "$th" > "$tmp/t.json"
    python3 - "$tmp/t.json" "$tmp/rss" "$v $s $c $th" >> "$tmp/torch.txt" <<'PY'
import json, sys
d = json.loads(open(sys.argv[1]).read().strip().splitlines()[-1])
print(sys.argv[3], d["median_ms"], int(open(sys.argv[2]).read().split()[-1]) / 1024)
PY
  done
done
echo "ours ran on kernels $(cat "$tmp/backend")"
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
python3 - "$tmp/ours.txt" "$tmp/torch.txt" <<'PY'
import statistics, sys
from collections import defaultdict
ours, torch = defaultdict(list), defaultdict(list)
for line in open(sys.argv[1]):
    f = line.split(); ours[tuple(f[:4])].append([float(x) for x in f[4:]])
for line in open(sys.argv[2]):
    f = line.split(); torch[tuple(f[:4])].append([float(x) for x in f[4:]])
print("| network | input | threads | ours ms | PyTorch ms | ours/PyTorch | ours GFLOP/s | allocs/step | MiB/step | peak RSS ours / PyTorch MiB |")
print("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
for k in ours:
    o = [statistics.median(x) for x in zip(*ours[k])]
    t = [statistics.median(x) for x in zip(*torch[k])]
    v, s, c, th = k
    print(f"| bench-{v} | {c}x{s}x{s} | {th} | {o[0]:.1f} | {t[0]:.1f} | {o[0]/t[0]:.2f} | {o[1]:.0f} | {o[2]:.0f} | {o[3]:.2f} | {o[4]:.0f} / {t[1]:.0f} |")
PY
