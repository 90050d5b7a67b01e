"""Convolutions and pooling: `lax.conv_general_dilated` in 1-D / 2-D / 3-D with strides,
SAME / VALID / explicit padding, lhs and rhs dilation, feature groups (grouped and depthwise)
and NCHW / NHWC layouts; `lax.conv`, `lax.conv_transpose`, image patches, `jnp.convolve` /
`jax.scipy.signal` convolutions, and max / average / sum pooling with `lax.reduce_window`.

Output shapes follow the padding rules of `lax.padtype_to_pads` and of `conv_transpose`,
written out here so the generator knows every shape without asking JAX.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from math import ceil, prod

from ..program import Value, tuple_literal
from ..specs import FLOAT, TensorSpec
from .base import Draw, Operand, Statement, assign, op

CAT = ("convolution",)
CONV_DTYPES = ("float32", "float32", "bfloat16", "float16", "int8")
KERNELS = (1, 2, 3, 3, 3, 5)
FEATURES = (2, 4, 8, 16)


@dataclass(frozen=True)
class Layout:
    """`dimension_numbers` of a convolution: where N / C / spatial dims sit in each operand."""

    lhs: str
    rhs: str
    out: str

    @property
    def spatial(self) -> str:
        return "".join(c for c in self.lhs if c not in "NC")

    @property
    def default(self) -> bool:
        """lax's default (None): channels first, 'OI' + spatial kernels."""
        return self.lhs == "NC" + self.spatial and self.rhs == "OI" + self.spatial and self.out == self.lhs

    def text(self) -> str:
        return f"('{self.lhs}', '{self.rhs}', '{self.out}')"


LAYOUTS = {
    1: (Layout("NCH", "OIH", "NCH"), Layout("NWC", "WIO", "NWC")),
    2: (Layout("NCHW", "OIHW", "NCHW"), Layout("NHWC", "HWIO", "NHWC"), Layout("NHWC", "OIHW", "NHWC")),
    3: (Layout("NCDHW", "OIDHW", "NCDHW"), Layout("NDHWC", "DHWIO", "NDHWC")),
}


def same_pads(size: int, window: int, stride: int) -> tuple[int, int]:
    """`lax.padtype_to_pads` for 'SAME': the output keeps ceil(size / stride); odd padding goes high."""
    total = max((ceil(size / stride) - 1) * stride + window - size, 0)
    return total // 2, total - total // 2


def windowed(size: int, window: int, stride: int, pads: tuple[int, int], dilation: int = 1) -> int:
    """Output extent of a strided window over a (dilated, padded) axis."""
    dilated = (size - 1) * dilation + 1
    return (dilated + pads[0] + pads[1] - window) // stride + 1


def transpose_pads(window: int, stride: int, padding: str) -> tuple[int, int]:
    """`conv_transpose`'s padding for 'SAME' / 'VALID' (lax's `_conv_transpose_padding`)."""
    if padding == "SAME":
        total = window + stride - 2
        lo = window - 1 if stride > window - 1 else ceil(total / 2)
    else:
        total = window + stride - 2 + max(window - stride, 0)
        lo = window - 1
    return lo, total - lo


def _dilate(k: int, d: int) -> int:
    return (k - 1) * d + 1


def _lhs(ctx: Draw, x: Value) -> tuple[Layout, str, tuple[int, ...]]:
    """A layout for the anchor and the expression / shape of the conv input built from it:
    rank 3 is a 1-D conv, rank 4 a 2-D one, and now and then a single volume `x[None]` in 3-D."""
    if x.spec.rank == 4 and ctx.rng.random() < 0.15:
        return ctx.rng.choice(LAYOUTS[3]), "$0[None]", (1, *x.spec.shape)
    return ctx.rng.choice(LAYOUTS[x.spec.rank - 2]), "$0", x.spec.shape


def _split(layout: Layout, shape: Sequence[int]) -> tuple[int, int, list[int]]:
    """(batch, channels, spatial extents) of an lhs shape under `layout`."""
    dims = dict(zip(layout.lhs, shape, strict=True))
    return dims["N"], dims["C"], [dims[c] for c in layout.spatial]


def _arrange(spec: str, dims: dict[str, int]) -> tuple[int, ...]:
    return tuple(dims[c] for c in spec)


def _padding(ctx: Draw, spatial: Sequence[int], windows: Sequence[int], strides: Sequence[int], explicit_only: bool) -> tuple[str, list[tuple[int, int]]] | None:
    roll = ctx.rng.random()
    if not explicit_only and roll < 0.4:
        return "'SAME'", [same_pads(n, w, s) for n, w, s in zip(spatial, windows, strides, strict=True)]
    if not explicit_only and roll < 0.7:
        return "'VALID'", [(0, 0)] * len(spatial)
    pads = [(ctx.rng.randint(0, 2), ctx.rng.randint(0, 2)) for _ in spatial]
    return tuple_literal(tuple_literal(p) for p in pads), pads


def _conv(ctx: Draw, x: Value) -> Statement | None:
    """`lax.conv_general_dilated` with every knob drawn."""
    rng = ctx.rng
    layout, src, shape = _lhs(ctx, x)
    n, c, spatial = _split(layout, shape)
    groups = 1
    if c > 1 and rng.random() < 0.3:
        groups = rng.choice([c] + [g for g in (2, 4) if c % g == 0 and g < c])
    out_c = groups * rng.choice((1, 2) if groups > 1 else FEATURES)
    kernel = [min(rng.choice(KERNELS), max(n_, 1)) for n_ in spatial]
    strides = [rng.choice([1, 1, 2]) for _ in spatial]
    rhs_dil = [rng.choice([1, 1, 1, 2]) for _ in spatial]
    lhs_dil = [rng.choice([1, 1, 2]) for _ in spatial] if rng.random() < 0.15 else [1] * len(spatial)
    dilated_lhs = [_dilate(n_, d) for n_, d in zip(spatial, lhs_dil, strict=True)]
    windows = [_dilate(k, d) for k, d in zip(kernel, rhs_dil, strict=True)]
    # lax pads string padding on the undilated input, and refuses strings with lhs dilation.
    drawn = _padding(ctx, spatial, windows, strides, explicit_only=any(d > 1 for d in lhs_dil))
    if drawn is None:
        return None
    pad_text, pads = drawn
    out_spatial = [windowed(n_, w, s, p, d) for n_, w, s, p, d in zip(spatial, windows, strides, pads, lhs_dil, strict=True)]
    if any(o < 1 for o in out_spatial) or any(w > dn + p[0] + p[1] for w, dn, p in zip(windows, dilated_lhs, pads, strict=True)):
        return None
    kernel_dims = {"O": out_c, "I": c // groups, **dict(zip(layout.spatial, kernel, strict=True))}
    w = ctx.need(x.spec.with_shape(_arrange(layout.rhs, kernel_dims)))
    out_dims = {"N": n, "C": out_c, **dict(zip(layout.spatial, out_spatial, strict=True))}
    dtype, pref = x.spec.dtype, ""
    if dtype == "int8":
        dtype, pref = "int32", ", preferred_element_type=jnp.int32"
    elif dtype in ("bfloat16", "float16") and rng.random() < 0.25:
        dtype, pref = "float32", ", preferred_element_type=jnp.float32"
    args = [f"window_strides={tuple_literal(strides)}", f"padding={pad_text}"]
    if any(d > 1 for d in lhs_dil):
        args.append(f"lhs_dilation={tuple_literal(lhs_dil)}")
    if any(d > 1 for d in rhs_dil):
        args.append(f"rhs_dilation={tuple_literal(rhs_dil)}")
    if not layout.default or rng.random() < 0.5:
        args.append(f"dimension_numbers={layout.text()}")
    if groups > 1:
        args.append(f"feature_group_count={groups}")
    text = f"lax.conv_general_dilated({src}, $1, {', '.join(args)}{pref})"
    extra: tuple[Value, ...] = (w,)
    if dtype == x.spec.dtype and dtype in FLOAT and rng.random() < 0.35:  # a bias per output channel
        b = ctx.need(x.spec.with_shape((out_c,)))
        extra = (w, b)
        trailing = len(layout.out) - 1 - layout.out.index("C")
        text = f"{text} + $2" + (f"[:{', None' * trailing}]" if trailing else "")
        if rng.random() < 0.5:
            text = f"jax.nn.relu({text})"
    return assign(text, (x, *extra), (TensorSpec(_arrange(layout.out, out_dims), dtype),))


def _lax_conv(ctx: Draw, x: Value) -> Statement | None:
    """`lax.conv(x, w, strides, padding)`: NCHW / OIHW, string padding."""
    n, c, *spatial = x.spec.shape
    out_c = ctx.rng.choice(FEATURES)
    kernel = [min(ctx.rng.choice(KERNELS), s) for s in spatial]
    strides = [ctx.rng.choice([1, 2]) for _ in spatial]
    padding = ctx.rng.choice(["SAME", "VALID"])
    pads = [same_pads(s, k, st) if padding == "SAME" else (0, 0) for s, k, st in zip(spatial, kernel, strides, strict=True)]
    out = [windowed(s, k, st, p) for s, k, st, p in zip(spatial, kernel, strides, pads, strict=True)]
    w = ctx.need(x.spec.with_shape((out_c, c, *kernel)))
    return assign(f"lax.conv($0, $1, {tuple_literal(strides)}, '{padding}')", (x, w), (x.spec.with_shape((n, out_c, *out)),))


def _conv_transpose(ctx: Draw, x: Value) -> Statement | None:
    rng = ctx.rng
    layout = rng.choice(LAYOUTS[x.spec.rank - 2][:2])
    n, c, spatial = _split(layout, x.spec.shape)
    out_c = rng.choice(FEATURES)
    kernel = [rng.choice((2, 3, 3, 4)) for _ in spatial]
    strides = [rng.choice([1, 2, 2]) for _ in spatial]
    padding = rng.choice(["SAME", "VALID"])
    out_spatial = []
    for size, k, s in zip(spatial, kernel, strides, strict=True):
        lo, hi = transpose_pads(k, s, padding)
        out_spatial.append(windowed(size, k, 1, (lo, hi), dilation=s))
    flip = rng.random() < 0.3  # transpose_kernel: the kernel of the forward conv, as Keras / PyTorch hold it
    kernel_dims = {"O": c if flip else out_c, "I": out_c if flip else c, **dict(zip(layout.spatial, kernel, strict=True))}
    w = ctx.need(x.spec.with_shape(_arrange(layout.rhs, kernel_dims)))
    out_dims = {"N": n, "C": out_c, **dict(zip(layout.spatial, out_spatial, strict=True))}
    kw = f", dimension_numbers={layout.text()}" + (", transpose_kernel=True" if flip else "")
    return assign(f"lax.conv_transpose($0, $1, {tuple_literal(strides)}, '{padding}'{kw})", (x, w), (x.spec.with_shape(_arrange(layout.out, out_dims)),))


def _patches(ctx: Draw, x: Value) -> Statement:
    """`lax.conv_general_dilated_patches`: im2col, NCHW in and out."""
    n, c, *spatial = x.spec.shape
    window = [min(ctx.rng.choice((2, 3)), s) for s in spatial]
    strides = [ctx.rng.choice([1, 2]) if s > 1 else 1 for s in spatial]
    padding = ctx.rng.choice(["SAME", "VALID"])
    pads = [same_pads(s, k, st) if padding == "SAME" else (0, 0) for s, k, st in zip(spatial, window, strides, strict=True)]
    out = [windowed(s, k, st, p) for s, k, st, p in zip(spatial, window, strides, pads, strict=True)]
    text = f"lax.conv_general_dilated_patches($0, {tuple_literal(window)}, {tuple_literal(strides)}, '{padding}')"
    return assign(text, (x,), (x.spec.with_shape((n, c * prod(window), *out)),))


POOLS = {
    "max": ("-jnp.inf", "lax.max"),
    "min": ("jnp.inf", "lax.min"),
    "sum": ("0.0", "lax.add"),
    "avg": ("0.0", "lax.add"),
}


@dataclass(frozen=True)
class Window:
    """A pooling window over the spatial dims of an array, and the shape it leaves."""

    dims: tuple[int, ...]
    strides: tuple[int, ...]
    padding: str  # the `padding=` argument as written
    out: tuple[int, ...]

    def args(self) -> str:
        return f"{tuple_literal(self.dims)}, {tuple_literal(self.strides)}, {self.padding}"


def _window(ctx: Draw, shape: tuple[int, ...]) -> Window:
    """Window the spatial dims: both dims of a matrix, else those of a channels-last or -first layout."""
    rng, rank = ctx.rng, len(shape)
    if rank == 2:
        pooled = [0, 1]
    else:
        channels_last = rng.random() < 0.6
        pooled = list(range(1, rank - 1)) if channels_last else list(range(2, rank))
    window = [1] * rank
    strides = [1] * rank
    for a in pooled:
        window[a] = min(rng.choice([2, 2, 3]), shape[a])
        strides[a] = rng.choice([window[a], window[a], 1, 2])
    padding = rng.choice(["'VALID'", "'VALID'", "'SAME'", "explicit"])
    if padding == "'SAME'":
        pads = [same_pads(n, w, s) for n, w, s in zip(shape, window, strides, strict=True)]
    elif padding == "'VALID'":
        pads = [(0, 0)] * rank
    else:
        pads = [(0, 0) if a not in pooled else (rng.randint(0, 1), rng.randint(0, 1)) for a in range(rank)]
        padding = "(" + ", ".join(tuple_literal(p) for p in pads) + ")"
    out = tuple(windowed(n, w, s, p) for n, w, s, p in zip(shape, window, strides, pads, strict=True))
    return Window(tuple(window), tuple(strides), padding, out)


def _pool(ctx: Draw, x: Value) -> Statement | None:
    """`lax.reduce_window` pooling over the spatial dims of a channels-last or -first array."""
    rng = ctx.rng
    kind = rng.choice(["max", "max", "avg", "avg", "sum", "min"])
    init, fn = POOLS[kind]
    if x.spec.dtype == "int32":
        kind = rng.choice(["sum", "max"])
        init, fn = {"sum": ("0", "lax.add"), "max": ("jnp.iinfo(jnp.int32).min", "lax.max")}[kind]
    w = _window(ctx, x.spec.shape)
    call = f"lax.reduce_window($0, {init}, {fn}, {w.args()})"
    if kind == "avg":
        if w.padding != "'VALID'" and rng.random() < 0.5:  # average over the real elements only
            call = f"{call} / lax.reduce_window(jnp.ones_like($0), 0.0, lax.add, {w.args()})"
        else:
            call = f"{call} / {prod(w.dims)}"
    return assign(call, (x,), (x.spec.with_shape(w.out),))


def _pool_backward(ctx: Draw, x: Value) -> Statement:
    """The backward pass of max (or min) pooling, written with `jax.vjp` as hand-written backward
    passes and saliency maps do: each window's cotangent goes to its extreme element."""
    w = _window(ctx, x.spec.shape)
    init, fn = POOLS[ctx.rng.choice(["max", "max", "min"])]
    g = ctx.need(x.spec.with_shape(w.out))
    pool = f"lambda t: lax.reduce_window(t, {init}, {fn}, {w.args()})"
    return assign(f"jax.vjp({pool}, $0)[1]($1)[0]", (x, g), (x.spec,))


def _convolve_1d(ctx: Draw, x: Value) -> Statement:
    n = x.spec.shape[0]
    m = ctx.rng.choice([2, 3, 5, 7])
    k = ctx.need(x.spec.with_shape((m,)))
    mode = ctx.rng.choice(["full", "same", "valid"])
    length = {"full": n + m - 1, "same": max(n, m), "valid": max(n, m) - min(n, m) + 1}[mode]
    fn = ctx.rng.choice(["jnp.convolve", "jnp.convolve", "jnp.correlate"])
    return assign(f"{fn}($0, $1, mode='{mode}')", (x, k), (x.spec.with_shape((length,)),))


def _convolve_nd(ctx: Draw, x: Value) -> Statement:
    kernel = tuple(min(ctx.rng.choice([2, 3]), d) for d in x.spec.shape)
    k = ctx.need(x.spec.with_shape(kernel))
    mode = ctx.rng.choice(["full", "same", "valid"])
    out = tuple({"full": d + m - 1, "same": d, "valid": d - m + 1}[mode] for d, m in zip(x.spec.shape, kernel, strict=True))
    fn = "jax.scipy.signal.convolve2d" if x.spec.rank == 2 and ctx.rng.random() < 0.6 else "jax.scipy.signal.convolve"
    return assign(f"{fn}($0, $1, mode='{mode}')", (x, k), (x.spec.with_shape(out),))



OPS = (
    op("lax.conv_general_dilated", CAT, Operand(CONV_DTYPES, 3, 4), _conv, out_names=("conv",), weight=3.0),
    op("lax.conv", CAT, Operand(FLOAT, 3, 4), _lax_conv, out_names=("conv",), weight=0.6),
    op("lax.conv_transpose", CAT, Operand(FLOAT, 3, 4), _conv_transpose, out_names=("upsampled",)),
    op("lax.conv_general_dilated_patches", CAT, Operand(FLOAT, 3, 4), _patches, out_names=("patches",), weight=0.4),
    op("lax.reduce_window", CAT, Operand((*FLOAT, "int32"), 2, 4), _pool, out_names=("pooled",), weight=2.0),
    op("max_pool_backward", CAT, Operand(FLOAT, 2, 4), _pool_backward, out_names=("routed",), weight=0.4),
    op("jnp.convolve", CAT, Operand(FLOAT, 1, 1), _convolve_1d, out_names=("filtered",), weight=0.6),
    op("jax.scipy.signal.convolve", CAT, Operand(FLOAT, 2, 3), _convolve_nd, out_names=("filtered",), weight=0.5),
)
