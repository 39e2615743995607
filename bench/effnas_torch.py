"""effnas networks in PyTorch.

Builds a torch.nn.Module from an effnas architecture document (the JSON of
`nas describe --json`, `nas sample`, `nas export`, or the "arch" metadata of
a checkpoint) and loads effnas safetensors checkpoints into it. It needs
only torch and numpy (Debian: apt-get install python3-torch; use
/usr/bin/python3), not the safetensors package: the format is read and
written here.

    import sys; sys.path.insert(0, "bench")
    import effnas_torch as et
    model, info = et.load_checkpoint("winner.safetensors")   # eval mode
    x = et.normalise(images_nchw, info["norm"])             # as trained
    logits = model(x)

The module reproduces the trainer exactly (bench/torch_parity.py checks it):
TensorFlow "same" padding (out = ceil(in/stride), the odd padding row and
column after), BatchNorm with epsilon 1e-3 and the TF momentum 0.9 (PyTorch
momentum 0.1; running variance from the unbiased batch variance), SiLU,
squeeze-excite on the block's input width (reduce and expand are dense
layers with bias, SiLU between, sigmoid gate), Fused-MBConv with expansion
1 as SE then one kxk convolution + BatchNorm + SiLU, stochastic depth
(per-sample drop-connect scaled by 1/survival) on residual blocks, dropout
before the classifier. Activations are NCHW here; checkpoints keep the
trainer's layouts (NHWC activations, HWIO convolutions, HWC depthwise,
(in, out) dense), converted on loading and saving.
"""
import json
import math
import struct

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

# ---------------------------------------------------------------- safetensors

_DTYPES = {"BOOL": np.bool_, "U8": np.uint8, "I8": np.int8, "I16": np.int16, "U16": np.uint16,
           "F16": np.float16, "I32": np.int32, "U32": np.uint32, "F32": np.float32, "F64": np.float64,
           "I64": np.int64, "U64": np.uint64}
_NAMES = {np.dtype(v).newbyteorder("<"): k for k, v in _DTYPES.items()}


class FormatError(ValueError):
    """A file that is not valid safetensors, or not an effnas checkpoint."""


def read_safetensors(path):
    """Reads a safetensors file: ({name: numpy array}, {metadata key: str}).

    Checks the layout as the reference implementation does: header length,
    a JSON object, known dtypes, offsets that tile the data exactly."""
    with open(path, "rb") as f:
        raw = f.read()
    if len(raw) < 8:
        raise FormatError(f"{path}: {len(raw)} bytes, shorter than the 8-byte header length")
    (n,) = struct.unpack("<Q", raw[:8])
    if n > len(raw) - 8:
        raise FormatError(f"{path}: header length {n} runs past the end of the file: truncated?")
    try:
        header = json.loads(raw[8:8 + n].decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise FormatError(f"{path}: header is not JSON: {e}") from None
    if not isinstance(header, dict):
        raise FormatError(f"{path}: header is not a JSON object")
    meta = header.pop("__metadata__", None) or {}
    for name, e in header.items():
        if not isinstance(e, dict) or set(e) != {"dtype", "shape", "data_offsets"} or len(e["data_offsets"]) != 2:
            raise FormatError(f"{path}: tensor {name!r}: want {{dtype, shape, data_offsets: [begin, end]}}, got {e!r}")
    data = memoryview(raw)[8 + n:]
    pos, out = 0, {}
    for name, e in sorted(header.items(), key=lambda kv: kv[1]["data_offsets"][0]):
        b, end = e["data_offsets"]
        if e["dtype"] not in _DTYPES:
            raise FormatError(f"{path}: tensor {name!r}: dtype {e['dtype']!r} unknown")
        dt = np.dtype(_DTYPES[e["dtype"]]).newbyteorder("<")
        count = math.prod(e["shape"])
        if b != pos or end - b != count * dt.itemsize or end > len(data):
            raise FormatError(f"{path}: tensor {name!r}: data_offsets [{b}, {end}] do not fit "
                              f"{e['dtype']} {e['shape']} after byte {pos} of {len(data)}")
        out[name] = np.frombuffer(data[b:end], dtype=dt).reshape(e["shape"]).astype(dt.newbyteorder("="))
        pos = end
    if pos != len(data):
        raise FormatError(f"{path}: {len(data) - pos} bytes of data after the last tensor")
    return out, meta


def write_safetensors(path, tensors, metadata=None):
    """Writes {name: numpy array or torch tensor} (in the dict's order) and
    string metadata, header padded to 8 bytes as the reference writer does."""
    header, chunks, pos = {}, [], 0
    if metadata:
        header["__metadata__"] = {k: str(metadata[k]) for k in sorted(metadata)}
    for name, t in tensors.items():
        a = t.detach().cpu().numpy() if isinstance(t, torch.Tensor) else np.asarray(t)
        a = np.ascontiguousarray(a, dtype=a.dtype.newbyteorder("<"))
        b = a.tobytes()
        header[name] = {"dtype": _NAMES[a.dtype], "shape": list(a.shape), "data_offsets": [pos, pos + len(b)]}
        chunks.append(b)
        pos += len(b)
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * (-len(h) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for c in chunks:
            f.write(c)

# -------------------------------------------------------------- architecture


def parse_block_string(s):
    """The official block string "r2_k3_s2_e4_i16_o32_se0.25_c1" as a stage dict."""
    d = {"block": "mbconv", "se": 0.0}
    keys = {"r": "repeats", "k": "kernel", "s": "stride", "e": "expand", "i": "in", "o": "out"}
    for tok in s.split("_"):
        if tok.startswith("se"):
            d["se"] = float(tok[2:])
        elif tok[0] == "c":
            d["block"] = "fused_mbconv" if int(tok[1:]) == 1 else "mbconv"
        elif tok[0] in keys:
            d[keys[tok[0]]] = int(tok[1:])
        else:
            raise ValueError(f"block string {s!r}: unknown token {tok!r}")
    return d


def load_arch(doc):
    """An architecture from a dict, a JSON string or a file path; accepts
    documents with an "arch" field (exports, checkpoint metadata)."""
    if isinstance(doc, str):
        if doc.lstrip().startswith("{"):
            doc = json.loads(doc)
        else:
            with open(doc) as f:
                doc = json.load(f)
    if doc.get("format") != "effnas/arch" and isinstance(doc.get("arch"), dict):
        doc = doc["arch"]
    if doc.get("format") != "effnas/arch":
        raise FormatError(f"not an effnas/arch document (format {doc.get('format')!r})")
    a = dict(doc)
    if not a.get("stages"):
        a["stages"] = [parse_block_string(s) for s in a["blocks"]]
    return a


def expand_blocks(arch):
    """The blocks after repeats, as the trainer builds them: repeats after the
    first use stride 1 and in = out; survival falls linearly from 1 to
    arch["survival_prob"] over the blocks."""
    stages = arch["stages"]
    n = sum(s["repeats"] for s in stages)
    sp = arch.get("survival_prob", 1) or 1
    drop = 1 - sp if 0 < sp <= 1 else 0
    out = []
    for s in stages:
        for r in range(s["repeats"]):
            b = dict(s, stride=s["stride"] if r == 0 else 1, **{"in": s["in"] if r == 0 else s["out"]})
            b["survival"] = 1 - drop * len(out) / n
            b["se_channels"] = max(1, int(b["in"] * b["se"])) if b["se"] > 0 else 0
            out.append(b)
    return out

# ------------------------------------------------------------------- modules


def same_pad(x, k, s):
    """TensorFlow "same" padding of an NCHW tensor: the odd row/column after."""
    ih, iw = x.shape[-2:]
    ph = max((math.ceil(ih / s) - 1) * s + k - ih, 0)
    pw = max((math.ceil(iw / s) - 1) * s + k - iw, 0)
    if ph == 0 and pw == 0:
        return x
    return F.pad(x, [pw // 2, pw - pw // 2, ph // 2, ph - ph // 2])


class ConvBN(nn.Module):
    """A bias-free convolution (same padding), BatchNorm, optional SiLU."""

    def __init__(self, cin, cout, k, stride=1, groups=1, act=True):
        super().__init__()
        self.k, self.stride, self.act = k, stride, act
        self.conv = nn.Conv2d(cin, cout, k, stride, 0, groups=groups, bias=False)
        self.bn = nn.BatchNorm2d(cout, eps=1e-3, momentum=0.1)

    def forward(self, x):
        x = self.bn(self.conv(same_pad(x, self.k, self.stride)))
        return F.silu(x) if self.act else x


class SE(nn.Module):
    """Squeeze-excite: pool, dense reduce, SiLU, dense expand, sigmoid gate."""

    def __init__(self, c, s):
        super().__init__()
        self.reduce, self.expand = nn.Linear(c, s), nn.Linear(s, c)

    def forward(self, x):
        s = self.expand(F.silu(self.reduce(x.mean((2, 3)))))
        return x * torch.sigmoid(s)[:, :, None, None]


class Block(nn.Module):
    """MBConv or Fused-MBConv, named as in the checkpoints."""

    def __init__(self, b):
        super().__init__()
        k, s, e, i, o = b["kernel"], b["stride"], b["expand"], b["in"], b["out"]
        mid = i * e
        self.fused_e1 = b["block"] == "fused_mbconv" and e == 1
        if b["block"] == "mbconv":
            if e != 1:
                self.expand = ConvBN(i, mid, 1)
            self.dw = ConvBN(mid, mid, k, s, groups=mid)
        elif e != 1:
            self.expand = ConvBN(i, mid, k, s)
        if b["se_channels"]:
            self.se = SE(mid, b["se_channels"])
        if self.fused_e1:
            self.fused = ConvBN(i, o, k, s)
        else:
            self.project = ConvBN(mid, o, 1, act=False)
        self.residual = s == 1 and i == o
        self.survival = b["survival"]

    def forward(self, x, mask=None):
        h = x
        for name in ("expand", "dw", "se", "fused", "project"):
            m = getattr(self, name, None)
            if m is not None:
                h = m(h)
        if not self.residual:
            return h
        if self.training and self.survival < 1:
            if mask is None:
                keep = torch.rand(h.shape[0], device=h.device) < self.survival
                mask = keep.to(h.dtype) / self.survival
            h = h * mask.to(h.dtype)[:, None, None, None]
        return h + x


class Head(nn.Module):
    def __init__(self, cin, c, classes, dropout):
        super().__init__()
        self.conv = nn.Conv2d(cin, c, 1, bias=False)
        self.bn = nn.BatchNorm2d(c, eps=1e-3, momentum=0.1)
        self.dense = nn.Linear(c, classes)
        self.dropout = dropout

    def forward(self, x, mask=None):
        h = F.silu(self.bn(self.conv(x))).mean((2, 3))
        if self.training and self.dropout > 0:
            if mask is None:
                mask = (torch.rand_like(h) >= self.dropout).to(h.dtype) / (1 - self.dropout)
            h = h * mask.to(h.dtype)
        return self.dense(h)


class EffNet(nn.Module):
    """An effnas architecture. Input NCHW, normalised as in training.

    forward(x, masks=None): in training mode, masks may give the dropout mask
    ("dropout", (N, head)) and the drop-connect masks ("blocks.I", (N)) as
    the trainer drew them (values 0 or 1/keep); missing ones are drawn."""

    def __init__(self, arch):
        super().__init__()
        self.arch = arch = load_arch(arch)
        st = arch["stem"]
        self.stem = ConvBN(arch["input_channels"], st["channels"], st["kernel"], st["stride"])
        self.blocks = nn.ModuleList(Block(b) for b in expand_blocks(arch))
        self.head = Head(arch["stages"][-1]["out"], arch["head_channels"], arch["num_classes"], arch.get("dropout", 0))

    def forward(self, x, masks=None):
        masks = masks or {}
        h = self.stem(x)
        for i, b in enumerate(self.blocks):
            h = b(h, masks.get(f"blocks.{i}"))
        return self.head(h, masks.get("dropout"))

# ---------------------------------------------------------------- checkpoints


def _kind(module):
    """How a weight is laid out in effnas files: conv, depthwise or dense."""
    if isinstance(module, nn.Linear):
        return "dense"
    if isinstance(module, nn.Conv2d):
        return "depthwise" if module.groups > 1 else "conv"
    return None


def _layouts(model):
    return {f"{name}.weight": _kind(m) for name, m in model.named_modules() if _kind(m)}


def from_effnas(model, tensors):
    """A state dict for model from effnas tensors (trainer layouts)."""
    kinds = _layouts(model)
    sd = {}
    for name, a in tensors.items():
        t = torch.from_numpy(np.array(a))
        kind = kinds.get(name)
        if kind == "conv":  # (kh, kw, in, out) -> (out, in, kh, kw)
            t = t.permute(3, 2, 0, 1)
        elif kind == "depthwise":  # (kh, kw, c) -> (c, 1, kh, kw)
            t = t.permute(2, 0, 1).unsqueeze(1)
        elif kind == "dense":  # (in, out) -> (out, in)
            t = t.t()
        sd[name] = t.contiguous()
    return sd


def to_effnas(model, tensors=None):
    """effnas tensors (trainer layouts, numpy) from model's state dict, or
    from `tensors` named like it (gradients, for instance)."""
    kinds = _layouts(model)
    src = tensors if tensors is not None else model.state_dict()
    out = {}
    for name, t in src.items():
        if name.endswith("num_batches_tracked"):
            continue
        t = t.detach().cpu()
        kind = kinds.get(name)
        if kind == "conv":
            t = t.permute(2, 3, 1, 0)
        elif kind == "depthwise":
            t = t[:, 0].permute(1, 2, 0)
        elif kind == "dense":
            t = t.t()
        out[name] = t.contiguous().numpy()
    return out


def load_checkpoint(path, dtype=torch.float32):
    """Builds the network of an effnas checkpoint and loads its weights and
    BatchNorm statistics. Returns (model in eval mode, info) where info has
    "arch", "norm" ({"mean", "std"} or None), "settings", "meta" (dicts or
    None), "code_version" and "optimizer" (the opt.* tensors, trainer
    layouts)."""
    tensors, md = read_safetensors(path)
    if md.get("format") != "effnas/checkpoint":
        raise FormatError(f"{path}: not an effnas checkpoint (metadata format {md.get('format')!r})")
    if md.get("version") != "2" or md.get("layout") != "nhwc":
        raise FormatError(f"{path}: checkpoint version {md.get('version')!r}, layout {md.get('layout')!r}; "
                          "this module reads version 2, layout nhwc")
    model = EffNet(json.loads(md["arch"]))
    opt = {k: v for k, v in tensors.items() if k.startswith("opt.")}
    weights = {k: v for k, v in tensors.items() if not k.startswith("opt.")}
    sd = from_effnas(model, weights)
    want = model.state_dict()
    missing = [k for k in want if k not in sd and not k.endswith("num_batches_tracked")]
    extra = [k for k in sd if k not in want]
    if missing or extra:
        raise FormatError(f"{path}: tensors missing {missing[:5]}, unexpected {extra[:5]}")
    for k, v in sd.items():
        if tuple(v.shape) != tuple(want[k].shape):
            raise FormatError(f"{path}: tensor {k!r} has shape {tuple(v.shape)}, the network wants {tuple(want[k].shape)}")
    model.load_state_dict(sd, strict=False)
    model.to(dtype).eval()
    info = {"arch": model.arch, "code_version": md.get("code_version"), "optimizer": opt}
    for key in ("norm", "settings", "meta"):
        info[key] = json.loads(md[key]) if key in md else None
    return model, info


def save_checkpoint(path, model, norm=None, meta=None):
    """Writes model (weights and BatchNorm statistics) as an effnas
    checkpoint that `nas eval` and `nas dump` read."""
    md = {"format": "effnas/checkpoint", "version": "2", "layout": "nhwc", "arch": json.dumps(model.arch),
          "code_version": "pytorch " + torch.__version__}
    if norm is not None:
        md["norm"] = json.dumps(norm)
    if meta is not None:
        md["meta"] = json.dumps(meta)
    t = to_effnas(model)
    for k in list(t):
        t[k] = t[k].astype(np.float64 if k.endswith(("running_mean", "running_var")) else np.float32)
    write_safetensors(path, t, md)


def normalise(x, norm):
    """(x - mean) / std per channel of an NCHW batch, with a checkpoint's norm."""
    if not norm:
        return x
    mean = torch.tensor(norm["mean"], dtype=x.dtype).reshape(1, -1, 1, 1)
    std = torch.tensor(norm["std"], dtype=x.dtype).reshape(1, -1, 1, 1)
    return (x - mean) / std
