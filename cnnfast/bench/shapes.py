"""Benchmark shapes: one small frozen record per kind, the built-in default sets, and CSV input.

Kinds (each op of the registry takes one kind):
  tensor   an array shape, batch first           activations (N, C, H, W); softmax rows (N, F)
  dense    (n, fin, fout)                        linear: x (n, fin), weight (fout, fin)
  conv     a forward convolution's geometry      conv2d; conv_transpose2d runs the adjoint geometry
  pool     a pooling window over (n, c, h, w)    max / avg / global average pooling
  bnorm    (n, c, h, w)                          batch norm over n, h, w per channel

CSV files in the format of oneDNN's benchdnn shape lists (the header names the kind):
  conv:  name,g,ic,ih,iw,oc,oh,ow,kh,kw,sh,sw,ph,pw,dh,dw
  pool:  name,alg_hint,c,ih,iw,oh,ow,kh,kw,sh,sw,ph,pw,dh,dw,ph_r,pw_r,ceil_mode
  bnorm: name,c,ih,iw
A trailing `*N` on a name says the layer occurs N times in its network (kept as `count`).
"""
import csv
import dataclasses
import math
from dataclasses import dataclass

CSV_HEADERS = {
    "conv": "name,g,ic,ih,iw,oc,oh,ow,kh,kw,sh,sw,ph,pw,dh,dw".split(","),
    "pool": "name,alg_hint,c,ih,iw,oh,ow,kh,kw,sh,sw,ph,pw,dh,dw,ph_r,pw_r,ceil_mode".split(","),
    "bnorm": "name,c,ih,iw".split(","),
}
# Batch sizes used for CSV shapes when --batch is not given (those of the speed issues).
CSV_BATCH = {"conv": 8, "pool": 16, "bnorm": 16}


def _out_size(size, kernel, stride, pad, dil, ceil_mode=False):
    """PyTorch's output size for a conv or pooling window (ceil_mode: the last window must start
    inside the input or the left padding)."""
    span = size + 2 * pad - dil * (kernel - 1) - 1
    out = (-(-span // stride) if ceil_mode else span // stride) + 1
    if ceil_mode and (out - 1) * stride >= size + pad:
        out -= 1
    return out


@dataclass(frozen=True)
class Tensor:
    dims: tuple
    name: str = ""
    count: int = 1
    kind = "tensor"

    @property
    def batch(self):
        return self.dims[0]

    def with_batch(self, n):
        return dataclasses.replace(self, dims=(n,) + tuple(self.dims[1:]))

    def label(self):
        return "x".join(map(str, self.dims))

    @property
    def size(self):
        return math.prod(self.dims)


@dataclass(frozen=True)
class Dense:
    n: int
    fin: int
    fout: int
    name: str = ""
    count: int = 1
    kind = "dense"

    @property
    def batch(self):
        return self.n

    def with_batch(self, n):
        return dataclasses.replace(self, n=n)

    def label(self):
        return f"N{self.n} in{self.fin} out{self.fout}"

    @property
    def flops(self):
        return 2 * self.n * self.fin * self.fout


@dataclass(frozen=True)
class Conv:
    """A forward convolution: x (n, c, h, w) * weight (k, c/groups, r, s) -> y (n, k, p, q)."""
    n: int
    c: int
    h: int
    w: int
    k: int
    r: int
    s: int
    stride: tuple = (1, 1)
    padding: tuple = (0, 0)
    dilation: tuple = (1, 1)
    groups: int = 1
    name: str = ""
    count: int = 1
    kind = "conv"

    @property
    def p(self):
        return _out_size(self.h, self.r, self.stride[0], self.padding[0], self.dilation[0])

    @property
    def q(self):
        return _out_size(self.w, self.s, self.stride[1], self.padding[1], self.dilation[1])

    @property
    def flops(self):
        """2·N·K·(C/g)·R·S·P·Q: the multiply-adds of the forward pass."""
        return 2 * self.n * self.k * (self.c // self.groups) * self.r * self.s * self.p * self.q

    def transpose_output_padding(self):
        """output_padding that makes conv_transpose2d of (n, k, p, q) give back (h, w), or None
        when PyTorch's rule (output_padding < max(stride, dilation)) forbids it."""
        pads = []
        for size, out, kern, st, pad, dil in zip((self.h, self.w), (self.p, self.q), (self.r, self.s),
                                                 self.stride, self.padding, self.dilation):
            extra = size - ((out - 1) * st - 2 * pad + dil * (kern - 1) + 1)
            if not 0 <= extra < max(st, dil):
                return None
            pads.append(extra)
        return tuple(pads)

    @property
    def batch(self):
        return self.n

    def with_batch(self, n):
        return dataclasses.replace(self, n=n)

    def label(self):
        geo = (f"N{self.n} C{self.c} {self.h}x{self.w} K{self.k} {self.r}x{self.s}"
               f" s{_pair(self.stride)} p{_pair(self.padding)}")
        if self.dilation != (1, 1):
            geo += f" d{_pair(self.dilation)}"
        if self.groups != 1:
            geo += f" g{self.groups}"
        return f"{self.name} {geo}" if self.name else geo


@dataclass(frozen=True)
class Pool:
    """A pooling window over x (n, c, h, w); alg is 'max' or 'avg'."""
    n: int
    c: int
    h: int
    w: int
    alg: str
    kernel: tuple
    stride: tuple
    padding: tuple = (0, 0)
    dilation: tuple = (1, 1)
    ceil_mode: bool = False
    name: str = ""
    count: int = 1
    kind = "pool"

    @property
    def out(self):
        return tuple(_out_size(size, k, st, pad, dil, self.ceil_mode) for size, k, st, pad, dil in
                     zip((self.h, self.w), self.kernel, self.stride, self.padding, self.dilation))

    @property
    def is_global(self):
        """The window covers the whole plane once (what global_avg_pool2d computes)."""
        return self.kernel == (self.h, self.w) and self.padding == (0, 0) and self.out == (1, 1)

    @property
    def batch(self):
        return self.n

    def with_batch(self, n):
        return dataclasses.replace(self, n=n)

    def label(self):
        geo = (f"N{self.n} C{self.c} {self.h}x{self.w} {self.alg} {self.kernel[0]}x{self.kernel[1]}"
               f" s{_pair(self.stride)} p{_pair(self.padding)}")
        if self.dilation != (1, 1):
            geo += f" d{_pair(self.dilation)}"
        if self.ceil_mode:
            geo += " ceil"
        return f"{self.name} {geo}" if self.name else geo


@dataclass(frozen=True)
class BNorm:
    n: int
    c: int
    h: int
    w: int
    name: str = ""
    count: int = 1
    kind = "bnorm"

    @property
    def batch(self):
        return self.n

    def with_batch(self, n):
        return dataclasses.replace(self, n=n)

    def label(self):
        geo = f"N{self.n} C{self.c} {self.h}x{self.w}"
        return f"{self.name} {geo}" if self.name else geo


def _pair(v):
    return str(v[0]) if v[0] == v[1] else f"{v[0]},{v[1]}"


def as_dict(shape):
    """The shape's fields for JSON output (tuples become lists)."""
    d = {"kind": shape.kind}
    d.update({k: list(v) if isinstance(v, tuple) else v for k, v in dataclasses.asdict(shape).items()})
    return d


# ---------------------------------------------------------------------------------------------
# Built-in shape sets: common CNN layers, roughly small to large within each kind (the reference
# is skipped where the smaller shapes predict one run would take too long).
# `tensor` is split by the ops' needs: "nchw" for activations, "rows" for softmax / cross-entropy.

def _conv(n, c, hw, k, rs, stride=1, pad=0, groups=1, name=""):
    return Conv(n, c, hw, hw, k, rs, rs, (stride, stride), (pad, pad), (1, 1), groups, name)


def _pool(n, c, hw, alg, k, stride, pad=0, ceil=False, name=""):
    return Pool(n, c, hw, hw, alg, (k, k), (stride, stride), (pad, pad), (1, 1), ceil, name)


DEFAULT = {
    "nchw": [
        Tensor((8, 256, 14, 14), "resnet stage 3"),
        Tensor((8, 64, 112, 112), "stem output"),
    ],
    "rows": [
        Tensor((8192, 10), "10 classes"),
        Tensor((256, 1000), "imagenet logits"),
    ],
    "dense": [
        Dense(64, 2048, 1000, "resnet fc"),
        Dense(1024, 1024, 1024, "square"),
        Dense(128, 4096, 4096, "vgg fc7"),
    ],
    "conv": [
        _conv(8, 128, 56, 128, 3, 1, 1, groups=128, name="mobilenet dw"),
        _conv(8, 1, 256, 32, 3, 1, 1, name="1-ch medical"),
        _conv(8, 64, 56, 256, 1, 1, 0, name="resnet 1x1"),
        _conv(8, 512, 7, 512, 3, 1, 1, name="resnet 3x3 7px"),
        _conv(8, 256, 14, 256, 3, 1, 1, name="resnet 3x3 14px"),
        _conv(8, 64, 56, 64, 3, 1, 1, name="resnet 3x3 56px"),
        _conv(8, 3, 224, 64, 7, 2, 3, name="resnet stem"),
        _conv(8, 32, 128, 32, 3, 1, 1, name="unet 3x3 128px"),
    ],
    "deconv": [
        _conv(8, 32, 128, 64, 2, 2, 0, name="unet up 2x2"),
        _conv(8, 64, 56, 64, 3, 1, 1, name="resnet 3x3 56px"),
    ],
    "pool": [
        _pool(16, 256, 28, "max", 3, 1, 1, name="inception 3x3 s1"),
        _pool(16, 128, 56, "max", 2, 2, name="2x2 s2"),
        _pool(16, 64, 112, "max", 3, 2, 1, name="resnet stem"),
        _pool(16, 128, 56, "avg", 2, 2, name="densenet transition"),
        _pool(16, 2048, 7, "avg", 7, 1, name="resnet global"),
    ],
    "bnorm": [
        BNorm(16, 1024, 14, 14),
        BNorm(16, 256, 56, 56),
        BNorm(16, 64, 112, 112),
    ],
}

# --quick: one small shape per kind, a few milliseconds of work each.
QUICK = {
    "nchw": [Tensor((4, 32, 28, 28))],
    "rows": [Tensor((128, 100))],
    "dense": [Dense(64, 256, 256)],
    "conv": [_conv(2, 16, 28, 16, 3, 1, 1)],
    "deconv": [_conv(2, 16, 28, 16, 2, 2, 0)],
    "pool": [_pool(4, 32, 28, "max", 2, 2), _pool(4, 32, 28, "avg", 2, 2), _pool(4, 64, 7, "avg", 7, 1)],
    "bnorm": [BNorm(4, 32, 28, 28)],
}


# ---------------------------------------------------------------------------------------------
# CSV input

class ShapeFileError(ValueError):
    """A shapes file that cannot be read: the message names the file, the line and the problem."""


def _name_count(raw):
    name, star, times = raw.rpartition("*")
    if star and times.isdigit() and int(times) > 0:
        return name, int(times)
    return raw, 1


def read_csv(path, batch=None):
    """Parse a shapes file; return (kind, [shape, ...]) with kind 'conv', 'pool' or 'bnorm'.

    batch: the N of every shape (default CSV_BATCH[kind]). The output sizes written in the file
    must agree with the geometry (PyTorch's formula), so a mistyped row is refused, not measured."""
    try:
        with open(path, newline="") as f:
            rows = list(csv.reader(f))
    except OSError as e:
        raise ShapeFileError(f"{path}: cannot read ({e.strerror})") from None
    rows = [(i + 1, r) for i, r in enumerate(rows) if r and not r[0].startswith("#")]
    if not rows:
        raise ShapeFileError(f"{path}: empty file (expected a header line)")
    header = [h.strip() for h in rows[0][1]]
    kind = next((k for k, h in CSV_HEADERS.items() if h == header), None)
    if kind is None:
        formats = "; ".join(f"{k}: {','.join(h)}" for k, h in CSV_HEADERS.items())
        raise ShapeFileError(f"{path}:{rows[0][0]}: unknown header {','.join(header)!r}; expected one of "
                             f"{formats}")
    n = CSV_BATCH[kind] if batch is None else batch
    shapes = []
    for line, row in rows[1:]:
        where = f"{path}:{line}"
        if len(row) != len(header):
            raise ShapeFileError(f"{where}: {len(row)} fields, the header has {len(header)}")
        name, count = _name_count(row[0].strip())
        rec = {}
        for key, val in zip(header[1:], row[1:]):
            val = val.strip()
            if key == "alg_hint":
                if val not in ("max", "avg"):
                    raise ShapeFileError(f"{where}: alg_hint must be 'max' or 'avg', got {val!r}")
                rec[key] = val
                continue
            try:
                rec[key] = int(val)
            except ValueError:
                raise ShapeFileError(f"{where}: {key} must be an integer, got {val!r}") from None
        shapes.append(_from_record(kind, rec, n, name, count, where))
    if not shapes:
        raise ShapeFileError(f"{path}: no shapes after the header")
    return kind, shapes


def _from_record(kind, r, n, name, count, where):
    if kind == "bnorm":
        _positive(r, ("c", "ih", "iw"), where)
        return BNorm(n, r["c"], r["ih"], r["iw"], name, count)
    if kind == "conv":
        _positive(r, ("g", "ic", "ih", "iw", "oc", "kh", "kw", "sh", "sw", "dh", "dw"), where)
        _nonnegative(r, ("ph", "pw"), where)
        if r["ic"] % r["g"] or r["oc"] % r["g"]:
            raise ShapeFileError(f"{where}: g={r['g']} must divide ic={r['ic']} and oc={r['oc']}")
        shape = Conv(n, r["ic"], r["ih"], r["iw"], r["oc"], r["kh"], r["kw"], (r["sh"], r["sw"]),
                     (r["ph"], r["pw"]), (r["dh"], r["dw"]), r["g"], name, count)
        got = (shape.p, shape.q)
    else:
        _positive(r, ("c", "ih", "iw", "kh", "kw", "sh", "sw", "dh", "dw"), where)
        _nonnegative(r, ("ph", "pw"), where)
        if r["ceil_mode"] not in (0, 1):
            raise ShapeFileError(f"{where}: ceil_mode must be 0 or 1, got {r['ceil_mode']}")
        shape = Pool(n, r["c"], r["ih"], r["iw"], r["alg_hint"], (r["kh"], r["kw"]), (r["sh"], r["sw"]),
                     (r["ph"], r["pw"]), (r["dh"], r["dw"]), bool(r["ceil_mode"]), name, count)
        got = shape.out
    if got != (r["oh"], r["ow"]):
        raise ShapeFileError(f"{where}: oh,ow = {r['oh']},{r['ow']} but the geometry gives {got[0]},{got[1]}")
    return shape


def _positive(r, keys, where):
    for k in keys:
        if r[k] < 1:
            raise ShapeFileError(f"{where}: {k} must be >= 1, got {r[k]}")


def _nonnegative(r, keys, where):
    for k in keys:
        if r[k] < 0:
            raise ShapeFileError(f"{where}: {k} must be >= 0, got {r[k]}")
