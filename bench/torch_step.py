#!/usr/bin/env python3
"""Training-step time of the bench networks in PyTorch, for comparison with
`nas bench` on the same machine.

Builds bench-dw or bench-fused (see `nas describe bench-dw`) from the same
block strings (PyTorch's NCHW layout), TF "same" padding, BatchNorm
(eps 1e-3), SiLU, squeeze-excite, dropout 0.2; times forward + backward +
RMSprop(lr 1e-3, alpha 0.9, eps 1e-3, momentum 0.9) steps on random data and
prints one JSON line.

    apt-get install -y python3-torch
    T='glibc.malloc.mmap_threshold=2147483647:glibc.malloc.trim_threshold=2147483647'
    env GLIBC_TUNABLES=$T /usr/bin/python3 bench/torch_step.py --variant dw --threads 2

Use Debian's /usr/bin/python3 (it is the one that sees python3-torch).
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
}


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


def build(variant, cin, classes=10, stem=16, head=256):
    layers = [Same(cin, stem, 3, 1, bias=False), bn(stem), nn.SiLU()]
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
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--warmup", type=int, default=5)
    ap.add_argument("--steps", type=int, default=30)
    a = ap.parse_args()
    torch.manual_seed(0)
    torch.set_num_threads(a.threads)
    net = build(a.variant, a.channels)
    opt = torch.optim.RMSprop(net.parameters(), lr=1e-3, alpha=0.9, eps=1e-3, momentum=0.9)
    x = torch.randn(a.batch, a.channels, a.size, a.size)
    y = torch.randint(0, 10, (a.batch,))
    times = []
    for i in range(a.warmup + a.steps):
        t = time.perf_counter()
        opt.zero_grad(set_to_none=True)
        F.cross_entropy(net(x), y).backward()
        opt.step()
        if i >= a.warmup:
            times.append(time.perf_counter() - t)
    times.sort()
    q = lambda p: times[min(len(times) - 1, int(p * (len(times) - 1) + 0.5))]
    print(json.dumps({"framework": "pytorch " + torch.__version__, "variant": a.variant,
                      "input": [a.channels, a.size, a.size], "batch": a.batch, "threads": a.threads,
                      "params": sum(p.numel() for p in net.parameters()),
                      "median_ms": 1e3 * statistics.median(times), "p10_ms": 1e3 * q(0.1),
                      "p90_ms": 1e3 * q(0.9), "steps": len(times)}))


if __name__ == "__main__":
    main()
