#!/usr/bin/env python3
"""Export an effnas checkpoint to ONNX and check the file against the trainer.

    /usr/bin/python3 bench/onnx_export.py MODEL.safetensors -o model.onnx [--image-size S] [--check [--nas ./nas]]

Loads the checkpoint with bench/effnas_torch.py and writes an ONNX file
with torch.onnx.export (opset 13): input "images" (N, C, S, S) float32,
normalised as in training (the checkpoint's "norm"), output "logits"
(N, classes); the batch size is free, the image size is fixed at export
(TensorFlow "same" padding is baked in for that size). Debian's torch 1.13
exports without the onnx Python package.

--check runs `nas dump` on the checkpoint (building ./cmd/nas unless --nas
is given) for a batch and the trainer's evaluation-mode logits, then
compares with them: the traced TorchScript module, and the ONNX file under
ONNX Runtime when `node` and the npm package onnxruntime-node are found
(NODE_PATH; see bench/onnx_run.js). Debian has no ONNX runtime; without
node the ONNX file itself is not run and the last line says so. Exit status
1 when a difference exceeds --tol (1e-4, absolute).
"""
import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import warnings

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import effnas_torch as et  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)


def export(model, path, channels, size):
    x = torch.zeros(1, channels, size, size)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch 1.13's notes on constant shapes
        torch.onnx.export(model, x, path, input_names=["images"], output_names=["logits"],
                          dynamic_axes={"images": {0: "batch"}, "logits": {0: "batch"}}, opset_version=13)


def run_onnx(path, x):
    """Logits of the ONNX file under onnxruntime-node, or None without it."""
    if not shutil.which("node"):
        return None, "node not found"
    probe = subprocess.run(["node", "-e", "require('onnxruntime-node')"], capture_output=True)
    if probe.returncode != 0:
        return None, "onnxruntime-node not found (NODE_PATH)"
    with tempfile.TemporaryDirectory() as d:
        xi, yo = os.path.join(d, "x.bin"), os.path.join(d, "y.bin")
        x.astype("<f4").tofile(xi)
        r = subprocess.run(["node", os.path.join(HERE, "onnx_run.js"), path, xi, ",".join(map(str, x.shape)), yo],
                           capture_output=True, text=True)
        if r.returncode != 0:
            sys.exit(f"onnx_export: onnx_run.js failed: {r.stderr.strip()}")
        return np.fromfile(yo, dtype="<f4"), r.stdout.strip()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("checkpoint")
    ap.add_argument("-o", dest="out", required=True, help="ONNX file to write")
    ap.add_argument("--image-size", type=int, default=0, help="input size (default: the architecture's image size)")
    ap.add_argument("--check", action="store_true", help="compare with the trainer's logits (runs nas dump)")
    ap.add_argument("--nas", help="the nas binary (default: go build ./cmd/nas)")
    ap.add_argument("--batch", type=int, default=4)
    ap.add_argument("--tol", type=float, default=1e-4)
    a = ap.parse_args()
    model, info = et.load_checkpoint(a.checkpoint)
    arch = info["arch"]
    size = a.image_size or arch["image_size"]
    export(model, a.out, arch["input_channels"], size)
    print(f"wrote {a.out}: images (N, {arch['input_channels']}, {size}, {size}) -> logits (N, {arch['num_classes']}), "
          f"{os.path.getsize(a.out):,} bytes")
    if not a.check:
        return
    tmp = tempfile.mkdtemp(prefix="effnas-onnx-")
    try:
        nas = a.nas
        if not nas:
            nas = os.path.join(tmp, "nas")
            subprocess.run(["go", "build", "-o", nas, "./cmd/nas"], cwd=ROOT, check=True)
        out = os.path.join(tmp, "dump")
        subprocess.run([nas, "dump", a.checkpoint, "-o", out, "--batch", str(a.batch), "--image-size", str(size)],
                       check=True, stdout=subprocess.DEVNULL)
        par, _ = et.read_safetensors(os.path.join(out, "parity.safetensors"))
        x = np.ascontiguousarray(par["x"].transpose(0, 3, 1, 2))
        ours = par["eval.logits"].astype(np.float64)
        xt = torch.from_numpy(x)
        with torch.no_grad(), warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the padding is computed from the (fixed) image size
            traced = torch.jit.trace(model, xt[:1])
            diffs = {"traced TorchScript": np.abs(traced(xt).double().numpy() - ours).max()}
        y, note = run_onnx(a.out, x)
        if y is not None:
            diffs["ONNX Runtime"] = np.abs(y.reshape(ours.shape).astype(np.float64) - ours).max()
            print(note)
        failed = [k for k, d in diffs.items() if not d <= a.tol]
        summary = ", ".join(f"{k} {d:.2e}" for k, d in diffs.items())
        if y is None:
            summary += f"; the ONNX file was not run ({note})"
        print(f"onnx {a.checkpoint}: largest |logit difference| from the trainer on {a.batch} images: {summary}: "
              f"{'FAIL' if failed else 'PASS'}")
        sys.exit(1 if failed else 0)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
