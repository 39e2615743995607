"""Tests of bench/effnas_torch.py against the nas program.

    NAS=./nas /usr/bin/python3 -m unittest discover -s bench -p 'test_*.py' -v

NAS names the nas binary (default: built with go build into a temporary
directory). Needs Debian's python3-torch.
"""
import json
import os
import shutil
import struct
import subprocess
import sys
import tempfile
import unittest

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import effnas_torch as et  # noqa: E402
import torch_parity  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


class EffnasTorchTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="effnas-torch-test-")
        cls.nas = os.environ.get("NAS")
        if not cls.nas:
            cls.nas = os.path.join(cls.tmp, "nas")
            subprocess.run(["go", "build", "-o", cls.nas, "./cmd/nas"], cwd=ROOT, check=True)
        cls.dump = os.path.join(cls.tmp, "dump")
        # at 40x40 the stride-2 layers pad asymmetrically
        cls.run_nas("dump", os.path.join(ROOT, "bench/testdata/every-block.json"), "-o", cls.dump, "--batch", "3",
                    "--image-size", "40", "--synthetic")

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp, ignore_errors=True)

    @classmethod
    def run_nas(cls, *args):
        r = subprocess.run([cls.nas, *args], capture_output=True, text=True)
        if r.returncode != 0:
            raise AssertionError(f"nas {' '.join(args)}: exit {r.returncode}: {r.stderr}")
        return r.stdout

    def test_safetensors_round_trip_through_go(self):
        """A file written here is read by the Go reader (nas convert), which
        checks the layout strictly, and read back here unchanged."""
        tensors, md = et.read_safetensors(os.path.join(self.dump, "model.safetensors"))
        path = os.path.join(self.tmp, "py.safetensors")
        et.write_safetensors(path, tensors, md)
        with open(path, "rb") as f:
            (n,) = struct.unpack("<Q", f.read(8))
        self.assertEqual((8 + n) % 8, 0, "data must start at a multiple of 8 bytes")
        back = os.path.join(self.tmp, "go.safetensors")
        self.run_nas("convert", path, "-o", back)
        t2, md2 = et.read_safetensors(back)
        self.assertEqual(sorted(t2), sorted(tensors))
        for k in tensors:
            self.assertEqual(t2[k].dtype, tensors[k].dtype, k)
            np.testing.assert_array_equal(t2[k], tensors[k], err_msg=k)
        self.assertEqual(json.loads(md2["arch"]), json.loads(md["arch"]))

    def test_read_errors(self):
        with open(os.path.join(self.dump, "model.safetensors"), "rb") as f:
            good = f.read()
        for name, raw, want in [("short", good[:5], "shorter than the 8-byte"),
                                ("truncated", good[:len(good) // 2], "truncated"),
                                ("extra", good + b"\0" * 8, "after the last tensor")]:
            p = os.path.join(self.tmp, name)
            with open(p, "wb") as f:
                f.write(raw)
            with self.assertRaisesRegex(et.FormatError, want):
                et.read_safetensors(p)
        bad = b'{"w":{"dtype":"F32","shape":[1]}}'
        p = os.path.join(self.tmp, "nooffsets")
        with open(p, "wb") as f:
            f.write(struct.pack("<Q", len(bad)) + bad)
        with self.assertRaisesRegex(et.FormatError, "'w'.*data_offsets"):
            et.read_safetensors(p)
        p = os.path.join(self.tmp, "notours.safetensors")
        et.write_safetensors(p, {"w": np.zeros(3, np.float32)}, {"format": "pt"})
        with self.assertRaisesRegex(et.FormatError, "not an effnas checkpoint"):
            et.load_checkpoint(p)

    def test_layouts_invert(self):
        """from_effnas and to_effnas are inverse: every weight kind round-trips."""
        model, _ = et.load_checkpoint(os.path.join(self.dump, "model.safetensors"))
        tensors, _ = et.read_safetensors(os.path.join(self.dump, "model.safetensors"))
        back = et.to_effnas(model)
        self.assertEqual(sorted(back), sorted(tensors))
        for k, v in tensors.items():
            np.testing.assert_array_equal(back[k].astype(v.dtype), v, err_msg=k)
        kinds = set(et._layouts(model).values())
        self.assertEqual(kinds, {"conv", "depthwise", "dense"})

    def test_blocks_match_the_trainer(self):
        """Residual blocks with survival below 1 are exactly those the trainer
        drew drop-connect masks for."""
        par, _ = et.read_safetensors(os.path.join(self.dump, "parity.safetensors"))
        model, _ = et.load_checkpoint(os.path.join(self.dump, "model.safetensors"))
        want = {f"mask.blocks.{i}" for i, b in enumerate(model.blocks) if b.residual and b.survival < 1}
        self.assertEqual({k for k in par if k.startswith("mask.blocks.")}, want)
        self.assertTrue(want, "every-block.json has stochastic depth")

    def test_pytorch_trained_weights_load_in_go(self):
        """Weights changed in PyTorch (one SGD step) and saved here give the
        same evaluation logits in the trainer as in PyTorch."""
        model, info = et.load_checkpoint(os.path.join(self.dump, "model.safetensors"))
        par, _ = et.read_safetensors(os.path.join(self.dump, "parity.safetensors"))
        x = torch.from_numpy(par["x"]).permute(0, 3, 1, 2).contiguous()
        y = torch.from_numpy(par["y"])
        model.train()
        opt = torch.optim.SGD(model.parameters(), lr=0.1)
        loss = -(y * torch.log_softmax(model(x), 1)).sum(1).mean()
        loss.backward()
        opt.step()
        model.eval()
        path = os.path.join(self.tmp, "torch-step.safetensors")
        et.save_checkpoint(path, model, meta={"note": "one SGD step in PyTorch"})
        out = os.path.join(self.tmp, "dump2")
        self.run_nas("dump", path, "-o", out, "--batch", "3", "--image-size", "40", "--synthetic")
        p2, _ = et.read_safetensors(os.path.join(out, "parity.safetensors"))
        np.testing.assert_array_equal(p2["x"], par["x"])  # same seed, same batch
        with torch.no_grad():
            theirs = model(x).numpy()
        self.assertLess(np.abs(p2["eval.logits"] - theirs).max(), 1e-4)
        self.assertGreater(np.abs(p2["eval.logits"] - par["eval.logits"]).max(), 1e-3, "the step changed nothing")
        _, info2 = et.load_checkpoint(path)
        self.assertEqual(info2["meta"], {"note": "one SGD step in PyTorch"})

    def parity_errors(self):
        """The largest error of each kind of the PyTorch side against the dump."""
        par, _ = et.read_safetensors(os.path.join(self.dump, "parity.safetensors"))
        ref = torch_parity.torch_run(os.path.join(self.dump, "model.safetensors"), par, torch.float64)
        worst = {}
        for kind, err, tol in torch_parity.compare(par, ref, 1e-4, 1e-3, 1e-4).values():
            worst[kind] = max(worst.get(kind, 0), err / tol)
        return worst

    def test_parity_passes_and_is_sensitive(self):
        """The parity holds, and fails by far when the PyTorch side pads the odd
        row before, uses BatchNorm momentum 0.89 or epsilon 1.1e-3, or ignores
        the drop-connect masks (README: "It is sensitive")."""
        self.assertLess(max(self.parity_errors().values()), 1)
        pad, bn, block_forward = et.same_pad, torch.nn.BatchNorm2d.__init__, et.Block.forward

        def pad_before(x, k, s):
            ih, iw = x.shape[-2:]
            ph = max((-(-ih // s) - 1) * s + k - ih, 0)
            pw = max((-(-iw // s) - 1) * s + k - iw, 0)
            return torch.nn.functional.pad(x, [pw - pw // 2, pw // 2, ph - ph // 2, ph // 2])

        def bn_with(**kw):
            def init(self, c, **args):
                bn(self, c, **dict(args, **kw))
            return init

        mutations = {
            "pad before": lambda: setattr(et, "same_pad", pad_before),
            "momentum 0.89": lambda: setattr(torch.nn.BatchNorm2d, "__init__", bn_with(momentum=0.11)),
            "epsilon 1.1e-3": lambda: setattr(torch.nn.BatchNorm2d, "__init__", bn_with(eps=1.1e-3)),
            "no drop-connect masks": lambda: setattr(et.Block, "forward", lambda b, x, mask=None: block_forward(b, x)),
        }
        try:
            for name, mutate in mutations.items():
                mutate()
                worst = max(self.parity_errors().values())
                et.same_pad, torch.nn.BatchNorm2d.__init__, et.Block.forward = pad, bn, block_forward
                # every-block at 40x40: about 9000x, 500x, 4x and 20000x
                self.assertGreater(worst, 3, f"{name}: the parity error is only {worst:.1f}x the tolerance")
        finally:
            et.same_pad, torch.nn.BatchNorm2d.__init__, et.Block.forward = pad, bn, block_forward

    def test_normalise(self):
        x = torch.rand(2, 3, 4, 4)
        n = {"mean": [0.1, 0.2, 0.3], "std": [0.5, 2.0, 4.0]}
        y = et.normalise(x, n)
        for c in range(3):
            torch.testing.assert_close(y[:, c], (x[:, c] - n["mean"][c]) / n["std"][c])
        self.assertIs(et.normalise(x, None), x)

    def test_arch_from_block_strings(self):
        a = et.load_arch(os.path.join(ROOT, "bench/testdata/every-block.json"))
        self.assertEqual([s["block"] for s in a["stages"]],
                         ["fused_mbconv", "mbconv", "fused_mbconv", "mbconv", "fused_mbconv"])
        blocks = et.expand_blocks(a)
        self.assertEqual(len(blocks), 9)
        self.assertEqual(blocks[1]["in"], 16)
        self.assertEqual((blocks[3]["in"], blocks[3]["stride"]), (24, 1))
        self.assertAlmostEqual(blocks[8]["survival"], 1 - 0.4 * 8 / 9)
        self.assertEqual(blocks[0]["se_channels"], 4)


if __name__ == "__main__":
    unittest.main()
