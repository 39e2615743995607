#!/usr/bin/env python3
"""Training-step time of the bench networks in PyTorch, for comparison with
`nas bench` on the same machine.

Builds bench-dw, bench-fused or efficientnetv2-b0 (see `nas describe
bench-dw`) from the same block strings (PyTorch's NCHW layout), TF "same"
padding, BatchNorm (eps 1e-3), SiLU, squeeze-excite, dropout 0.2; times
forward + backward + RMSprop(lr 1e-3, alpha 0.9, eps 1e-3, momentum 0.9)
steps on random data and prints one JSON line.

    apt-get install -y python3-torch
    T='glibc.malloc.mmap_threshold=2147483647:glibc.malloc.trim_threshold=2147483647'
    env GLIBC_TUNABLES=$T /usr/bin/python3 bench/torch_step.py --variant dw --threads 2

Use Debian's /usr/bin/python3 (it is the one that sees python3-torch).

On a GPU (--device cuda): cuDNN with benchmark mode (the fastest algorithm
per shape), full FP32 unless --tf32 (which allows TF32 in cuBLAS and
cuDNN), each step timed between torch.cuda.synchronize() calls;
--channels-last uses NHWC memory (our layout). For example

    python3 bench/torch_step.py --device cuda --variant efficientnetv2-b0 --size 224 --channels 3 --classes 1000 --batch 64
"""
import argparse, json, math, statistics, time
import torch
import torch.nn as nn
import torch.nn.functional as F

BLOCKS = {
    "dw": ["r1_k3_s1_e1_i16_o16_c1", "r2_k3_s2_e4_i16_o32_c1",
           "r2_k3_s2_e4_i32_o48_se0.25", "r2_k3_s1_e6_i48_o64_se0.25"],
    "fused": ["r1_k3_s1_e1_i16_o16_c1", "r2_k3_s2_e4_i16_o32_c1",
              "r2_k3_s2_e4_i32_o48_se0.25_c1", "r2_k3_s1_e6_i48_o64_se0.25_c1"],
    # searchspace/reference.go, from google/automl's effnetv2_configs.py
    "efficientnetv2-b0": ["r1_k3_s1_e1_i32_o16_c1", "r2_k3_s2_e4_i16_o32_c1", "r2_k3_s2_e4_i32_o48_c1",
                          "r3_k3_s2_e4_i48_o96_se0.25", "r5_k3_s1_e6_i96_o112_se0.25",
                          "r8_k3_s2_e6_i112_o192_se0.25"],
}
# stem channels and stride, head channels
GLOBAL = {"dw": (16, 1, 256), "fused": (16, 1, 256), "efficientnetv2-b0": (32, 2, 1280)}


def parse(s):
    d = {"se": 0.0, "c": 0}
    for tok in s.split("_"):
        k = "".join(ch for ch in tok if ch.isalpha())
        v = tok[len(k):]
        d[k] = float(v) if k == "se" else int(v)
    return d


class Same(nn.Conv2d):
    """Conv2d with TensorFlow 'same' padding (asymmetric at stride 2)."""
    def forward(self, x):
        ih, iw = x.shape[-2:]
        k, s = self.kernel_size[0], self.stride[0]
        ph = max((math.ceil(ih / s) - 1) * s + k - ih, 0)
        pw = max((math.ceil(iw / s) - 1) * s + k - iw, 0)
        x = F.pad(x, [pw // 2, pw - pw // 2, ph // 2, ph - ph // 2])
        return F.conv2d(x, self.weight, self.bias, self.stride, 0, 1, self.groups)


def bn(c):
    return nn.BatchNorm2d(c, eps=1e-3, momentum=0.1)


class SE(nn.Module):
    def __init__(self, mid, n):
        super().__init__()
        self.r, self.e = nn.Conv2d(mid, n, 1), nn.Conv2d(n, mid, 1)
    def forward(self, x):
        s = x.mean((2, 3), keepdim=True)
        return x * torch.sigmoid(self.e(F.silu(self.r(s))))


class Block(nn.Module):
    def __init__(self, fused, k, s, e, i, o, se):
        super().__init__()
        mid, layers = i * e, []
        if fused and e == 1:
            layers += [Same(i, o, k, s, bias=False), bn(o), nn.SiLU()]
        else:
            if fused:
                layers += [Same(i, mid, k, s, bias=False), bn(mid), nn.SiLU()]
            else:
                if e != 1:
                    layers += [nn.Conv2d(i, mid, 1, bias=False), bn(mid), nn.SiLU()]
                layers += [Same(mid, mid, k, s, groups=mid, bias=False), bn(mid), nn.SiLU()]
            if se > 0:
                layers.append(SE(mid, max(1, int(i * se))))
            layers += [nn.Conv2d(mid, o, 1, bias=False), bn(o)]
        self.body = nn.Sequential(*layers)
        self.res = s == 1 and i == o
    def forward(self, x):
        y = self.body(x)
        return y + x if self.res else y


def build(variant, cin, classes=10):
    stem, stride, head = GLOBAL[variant]
    layers = [Same(cin, stem, 3, stride, bias=False), bn(stem), nn.SiLU()]
    last = stem
    for b in map(parse, BLOCKS[variant]):
        for r in range(b["r"]):
            i, s = (b["i"], b["s"]) if r == 0 else (b["o"], 1)
            layers.append(Block(b["c"] == 1, b["k"], s, b["e"], i, b["o"], b["se"]))
        last = b["o"]
    layers += [nn.Conv2d(last, head, 1, bias=False), bn(head), nn.SiLU(),
               nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Dropout(0.2), nn.Linear(head, classes)]
    return nn.Sequential(*layers)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--variant", default="dw", choices=sorted(BLOCKS))
    ap.add_argument("--channels", type=int, default=1)
    ap.add_argument("--size", type=int, default=28)
    ap.add_argument("--classes", type=int, default=10)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--warmup", type=int, default=5)
    ap.add_argument("--steps", type=int, default=30)
    ap.add_argument("--device", default="cpu", help="cpu, cuda or cuda:N")
    ap.add_argument("--tf32", action="store_true", help="on a GPU, allow TF32 in cuBLAS and cuDNN")
    ap.add_argument("--channels-last", action="store_true", help="NHWC memory format")
    a = ap.parse_args()
    torch.manual_seed(0)
    torch.set_num_threads(a.threads)
    dev = torch.device(a.device)
    gpu = dev.type == "cuda"
    if gpu:
        torch.backends.cudnn.benchmark = True
        torch.backends.cuda.matmul.allow_tf32 = a.tf32
        torch.backends.cudnn.allow_tf32 = a.tf32
    fmt = torch.channels_last if a.channels_last else torch.contiguous_format
    net = build(a.variant, a.channels, a.classes).to(dev, memory_format=fmt)
    opt = torch.optim.RMSprop(net.parameters(), lr=1e-3, alpha=0.9, eps=1e-3, momentum=0.9)
    x = torch.randn(a.batch, a.channels, a.size, a.size).to(dev, memory_format=fmt)
    y = torch.randint(0, a.classes, (a.batch,)).to(dev)
    sync = torch.cuda.synchronize if gpu else (lambda: None)
    times = []
    for i in range(a.warmup + a.steps):
        sync()
        t = time.perf_counter()
        opt.zero_grad(set_to_none=True)
        F.cross_entropy(net(x), y).backward()
        opt.step()
        sync()
        if i >= a.warmup:
            times.append(time.perf_counter() - t)
    times.sort()
    q = lambda p: times[min(len(times) - 1, int(p * (len(times) - 1) + 0.5))]
    out = {"framework": "pytorch " + torch.__version__, "variant": a.variant,
           "input": [a.channels, a.size, a.size], "classes": a.classes, "batch": a.batch, "threads": a.threads,
           "device": a.device, "params": sum(p.numel() for p in net.parameters()),
           "median_ms": 1e3 * statistics.median(times), "p10_ms": 1e3 * q(0.1),
           "p90_ms": 1e3 * q(0.9), "steps": len(times)}
    if gpu:
        out.update({"gpu": torch.cuda.get_device_name(dev), "cuda": torch.version.cuda,
                    "cudnn": torch.backends.cudnn.version(), "tf32": a.tf32, "channels_last": a.channels_last,
                    "images_per_s": a.batch / statistics.median(times)})
    print(json.dumps(out))


if __name__ == "__main__":
    main()
