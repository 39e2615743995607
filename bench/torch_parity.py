#!/usr/bin/env python3
"""Parity of the effnas trainer with PyTorch on one batch.

    /usr/bin/python3 bench/torch_parity.py ARCH_OR_CHECKPOINT [--image-size S] [--batch B] [--nas ./nas]
        [--seed N] [--synthetic] [--label-smoothing EPS] [--keep DIR] [--threads T]

Runs `nas dump` (building ./cmd/nas with `go build` unless --nas is given)
on a built-in architecture name, an architecture file or a checkpoint;
loads the dumped model.safetensors into bench/effnas_torch.py's module; and
redoes what the trainer did on the dumped batch: logits in evaluation mode,
logits and loss in training mode (batch statistics, the trainer's dropout
and drop-connect masks), every parameter gradient, the BatchNorm running
statistics after the step, and logits in evaluation mode with them.

The reference is PyTorch in float64 on the same float32 weights and
inputs, so each figure is the trainer's own float32 error; PyTorch's
float32 error against the same reference is printed beside it for scale.
Tolerances (exit status 1 beyond any of them):

  logits, loss      |ours - ref| <= 1e-4 absolute (--tol-logits)
  gradients         max |ours - ref| over a tensor <= 1e-3 x the tensor's
                    largest |ref| entry (--tol-grad); tensors whose
                    gradient vanishes mathematically (a BatchNorm shift
                    cancelled by the next training-mode BatchNorm) are
                    measured against 1e-3 x the largest gradient of the
                    network instead, since both sides hold only rounding
  BatchNorm stats   |ours - ref| <= 1e-4 x max(1, largest |ref| of the
                    tensor) (--tol-stats)

The last line gives the largest difference of each kind and PASS or FAIL.
Needs Debian's python3-torch (torch 1.13; run /usr/bin/python3).
"""
import argparse
import os
import shutil
import subprocess
import sys
import tempfile

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import effnas_torch as et  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def torch_run(model_path, par, dtype):
    """Everything the dump holds, computed by PyTorch in dtype, as float64
    numpy arrays in the trainer's layouts and names."""
    model, _ = et.load_checkpoint(model_path, dtype)
    x = torch.from_numpy(par["x"]).permute(0, 3, 1, 2).contiguous().to(dtype)
    y = torch.from_numpy(par["y"]).to(dtype)
    out = {}
    with torch.no_grad():
        out["eval.logits"] = model(x)
    model.train()
    masks = {k[len("mask."):]: torch.from_numpy(v).to(dtype) for k, v in par.items() if k.startswith("mask.")}
    logits = model(x, masks)
    loss = -(y * F.log_softmax(logits, dim=1)).sum(1).mean()
    loss.backward()
    out["train.logits"], out["train.loss"] = logits.detach(), loss.detach()
    grads = {n: p.grad for n, p in model.named_parameters()}
    for k, v in et.to_effnas(model, grads).items():
        out["grad." + k] = v
    for k, v in model.state_dict().items():
        if k.endswith(("running_mean", "running_var")):
            out["after." + k] = v
    model.eval()
    with torch.no_grad():
        out["eval_after.logits"] = model(x)
    return {k: (v.detach().double().numpy() if isinstance(v, torch.Tensor) else v.astype(np.float64))
            for k, v in out.items()}


def compare(ours, ref, tol_logits, tol_grad, tol_stats):
    """Per tensor: (kind, error, tolerance) with errors as the docstring says."""
    gmax = max(np.abs(v).max(initial=0) for k, v in ref.items() if k.startswith("grad."))
    res = {}
    for k, r in ref.items():
        d = np.abs(ours[k].astype(np.float64) - r).max(initial=0)
        if k.startswith("grad."):
            scale = np.abs(r).max(initial=0)
            res[k] = ("gradients", d / max(scale, 1e-3 * gmax), tol_grad)
        elif k.startswith("after."):
            res[k] = ("BatchNorm statistics", d / max(1.0, np.abs(r).max(initial=0)), tol_stats)
        elif k == "train.loss":
            res[k] = ("loss", d, tol_logits)
        else:
            res[k] = ("logits", d, tol_logits)
    return res


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("target", help="built-in name, architecture file or checkpoint")
    ap.add_argument("--image-size", type=int, default=0, help="image size (default: the architecture's training size)")
    ap.add_argument("--batch", type=int, default=4)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--nas", help="the nas binary (default: go build ./cmd/nas)")
    ap.add_argument("--synthetic", action="store_true", help="synthetic images even if Fashion-MNIST is installed")
    ap.add_argument("--label-smoothing", type=float, default=0, help="smoothed targets (nas dump --label-smoothing)")
    ap.add_argument("--keep", help="dump into this directory and keep it")
    ap.add_argument("--tol-logits", type=float, default=1e-4)
    ap.add_argument("--tol-grad", type=float, default=1e-3)
    ap.add_argument("--tol-stats", type=float, default=1e-4)
    ap.add_argument("--threads", type=int, default=0, help="torch threads (default: torch's)")
    a = ap.parse_args()
    if a.threads:
        torch.set_num_threads(a.threads)
    tmp = tempfile.mkdtemp(prefix="effnas-parity-")
    try:
        nas = a.nas
        if not nas:
            nas = os.path.join(tmp, "nas")
            subprocess.run(["go", "build", "-o", nas, "./cmd/nas"], cwd=ROOT, check=True)
        out = a.keep or os.path.join(tmp, "dump")
        cmd = [nas, "dump", a.target, "-o", out, "--batch", str(a.batch), "--seed", str(a.seed)]
        if a.image_size:
            cmd += ["--image-size", str(a.image_size)]
        if a.synthetic:
            cmd.append("--synthetic")
        if a.label_smoothing:
            cmd += ["--label-smoothing", str(a.label_smoothing)]
        r = subprocess.run(cmd)
        if r.returncode != 0:
            sys.exit(f"torch_parity: {' '.join(cmd)} failed (exit {r.returncode})")
        model_path = os.path.join(out, "model.safetensors")
        par, md = et.read_safetensors(os.path.join(out, "parity.safetensors"))
        if float(md["bn_epsilon"]) != 1e-3 or abs(float(md["bn_momentum"]) - 0.9) > 1e-12:
            sys.exit(f"torch_parity: the trainer's BatchNorm has epsilon {md['bn_epsilon']} and momentum "
                     f"{md['bn_momentum']}; effnas_torch builds 1e-3 and 0.9")
        ref = torch_run(model_path, par, torch.float64)
        t32 = torch_run(model_path, par, torch.float32)
        names = set(ref)
        dumped = {k for k in par if not k.startswith("mask.") and k not in ("x", "y")}
        if names != dumped:
            sys.exit(f"torch_parity: tensors only in the dump {sorted(dumped - names)[:5]}, "
                     f"only in PyTorch {sorted(names - dumped)[:5]}")
        ours = compare(par, ref, a.tol_logits, a.tol_grad, a.tol_stats)
        theirs = compare(t32, ref, a.tol_logits, a.tol_grad, a.tol_stats)
        print(f"batch: {md['source']}")
        print(f"{'tensor':44s} {'effnas f32':>11s} {'torch f32':>11s} {'tolerance':>10s}   (difference from torch f64)")
        worst = sorted(ours, key=lambda k: -ours[k][1] / ours[k][2])
        for k in worst[:12]:
            print(f"{k:44s} {ours[k][1]:11.3e} {theirs[k][1]:11.3e} {ours[k][2]:10.1e}")
        failed = [k for k in worst if not ours[k][1] <= ours[k][2]]
        for k in failed:
            print(f"FAIL {k}: {ours[k][0]} difference {ours[k][1]:.3e} > {ours[k][2]:.1e}")
        kinds = {}
        for k, (kind, err, _) in ours.items():
            kinds[kind] = max(kinds.get(kind, 0.0), err)
        summary = ", ".join(f"{kind} {kinds[kind]:.2e}" for kind in
                            ("logits", "loss", "gradients", "BatchNorm statistics") if kind in kinds)
        print(f"parity {a.target} ({len(ours)} tensors; logits and loss absolute, gradients and statistics "
              f"relative): {summary}: {'FAIL' if failed else 'PASS'}")
        sys.exit(1 if failed else 0)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
