"""Numerics: sorting and selection (sort / argsort / top_k / quantiles / searchsorted), scans
(cumsum / cumprod / cummax / cumlogsumexp), FFTs, clamping and rounding, integer bit
manipulation (bitwise ops, shifts, population count, leading zeros), dtype conversion and
bitcasts, reduced precision, special functions (erf / erfinv / lgamma / digamma / polygamma /
zeta / Bessel), inverse trig, `nextafter`, finiteness tests and complex arithmetic.

Arguments are brought into an op's domain the way numeric code does it (`jnp.clip` before
`erfinv`, `1 + |x|` before `arccosh`), so the programs compute numbers, not NaNs.
"""

from __future__ import annotations

import random
from collections.abc import Sequence

from ..program import Value
from ..specs import BOOL, FLOAT, INT, REAL, TensorSpec
from .base import Draw, Operand, Statement, assign, op, partner

CAT = ("numerics",)
FLOATS = Operand(FLOAT)
F32 = ("float32",)
SORTABLE = (*FLOAT, "int32", "int8", "uint8")
BITS = ("int32", "uint8", "int8")
JNP_TYPES = {"float32": "jnp.float32", "float16": "jnp.float16", "bfloat16": "jnp.bfloat16", "int32": "jnp.int32",
             "int8": "jnp.int8", "uint8": "jnp.uint8", "bool": "jnp.bool_", "complex64": "jnp.complex64"}


def _axis(rng: random.Random, spec: TensorSpec) -> int:
    """An axis, most often the last, written as a person would (-1 or its index)."""
    if rng.random() < 0.6:
        return -1
    return rng.randrange(spec.rank)


def _without(shape: Sequence[int], axis: int, keep: bool = False) -> tuple[int, ...]:
    axis %= len(shape)
    return tuple(1 if keep and i == axis else d for i, d in enumerate(shape) if keep or i != axis)


# --- sorting and selection ----------------------------------------------------------------
def _sort(ctx: Draw, x: Value) -> Statement:
    rng, spec = ctx.rng, x.spec
    roll = rng.random()
    if roll < 0.15:
        return assign("jnp.sort($0, axis=None)", (x,), (spec.with_shape((spec.size,)),))
    axis = _axis(rng, spec)
    if roll < 0.5:
        desc = ", descending=True" if rng.random() < 0.3 else ""
        return assign(f"jnp.sort($0, axis={axis}{desc})", (x,), (spec,))
    if roll < 0.8:
        stable = ", stable=True" if rng.random() < 0.3 else ""
        return assign(f"jnp.argsort($0, axis={axis}{stable})", (x,), (spec.with_dtype("int32"),))
    # Sort one array by another: keys and a payload that travels with them.
    payload = partner(ctx, x, spec.with_dtype(rng.choice(["float32", "int32"])))
    if payload is None:
        return assign(f"jnp.sort($0, axis={axis})", (x,), (spec,))
    dim = axis % spec.rank
    if rng.random() < 0.5:
        return assign(f"lax.sort_key_val($0, $1, dimension={dim})", (x, payload), (spec, payload.spec))
    return assign(f"lax.sort(($0, $1), dimension={dim}, num_keys=1)", (x, payload), (spec, payload.spec))


def _top_k(ctx: Draw, x: Value) -> Statement:
    k = ctx.rng.randint(1, min(8, x.spec.shape[-1]))
    shape = (*x.spec.shape[:-1], k)
    return assign(f"lax.top_k($0, {k})", (x,), (x.spec.with_shape(shape), TensorSpec(shape, "int32")))


def _quantile(ctx: Draw, x: Value) -> Statement:
    rng, spec = ctx.rng, x.spec
    axis = _axis(rng, spec)
    keep = rng.random() < 0.25
    kw = f"axis={axis}" + (", keepdims=True" if keep else "")
    out = spec.with_shape(_without(spec.shape, axis, keep))
    roll = rng.random()
    if roll < 0.4:
        return assign(f"jnp.median($0, {kw})", (x,), (out,))
    if roll < 0.7:
        return assign(f"jnp.quantile($0, {rng.choice(['0.1', '0.5', '0.9', '0.99'])}, {kw})", (x,), (out,))
    return assign(f"jnp.percentile($0, {rng.choice(['5', '25', '75', '95'])}, {kw})", (x,), (out,))


def _searchsorted(ctx: Draw, x: Value) -> Statement:
    """Bucket values by the sorted entries of a vector (bin edges built from the data)."""
    edges = ctx.need(x.spec.with_shape((ctx.rng.choice([4, 8, 16]),)))
    method = ctx.rng.choice(["", "", ", method='sort'", ", method='compare_all'", ", side='right'"])
    return assign(f"jnp.searchsorted(jnp.sort($1), $0{method})", (x, edges), (x.spec.with_dtype("int32"),))


def _arg_extreme(ctx: Draw, x: Value) -> Statement:
    axis = _axis(ctx.rng, x.spec)
    keep = ctx.rng.random() < 0.5
    fn = ctx.rng.choice(["jnp.argmax", "jnp.argmin"] + (["jnp.nanargmax", "jnp.nanargmin"] if x.spec.is_float else []))
    kw = f"axis={axis}" + (", keepdims=True" if keep else "")
    return assign(f"{fn}($0, {kw})", (x,), (TensorSpec(_without(x.spec.shape, axis, keep), "int32"),))


def _unique(ctx: Draw, x: Value) -> Statement:
    size = ctx.rng.choice([2, 4, 8])
    return assign(f"jnp.unique($0, size={size}, fill_value=0)", (x,), (x.spec.with_shape((size,)),))


def _bincount(ctx: Draw, x: Value) -> Statement:
    length = ctx.rng.choice([4, 8, 16])
    src = "$0" if x.spec.dtype == "uint8" else f"(jnp.abs($0) % {length})"
    return assign(f"jnp.bincount({src}.ravel(), length={length})", (x,), (TensorSpec((length,), "int32"),))


# --- scans ---------------------------------------------------------------------------------
def _cumulative(ctx: Draw, x: Value) -> Statement:
    rng, spec = ctx.rng, x.spec
    axis = _axis(rng, spec)
    fns = ["jnp.cumsum", "jnp.cumsum", "jnp.cumprod", "lax.cummax", "lax.cummin"]
    if spec.is_float:
        fns.append("lax.cumlogsumexp")
    fn = rng.choice(fns)
    if fn.startswith("lax."):
        reverse = ", reverse=True" if rng.random() < 0.3 else ""
        return assign(f"{fn}($0, axis={axis % spec.rank}{reverse})", (x,), (spec,))
    if rng.random() < 0.15:
        return assign(f"{fn}($0)", (x,), (spec.with_shape((spec.size,)),))
    return assign(f"{fn}($0, axis={axis})", (x,), (spec,))


def _diff(ctx: Draw, x: Value) -> Statement | None:
    axis = _axis(ctx.rng, x.spec)
    if x.spec.shape[axis] < 2:
        return None
    shape = list(x.spec.shape)
    shape[axis] -= 1
    return assign(f"jnp.diff($0, axis={axis})", (x,), (x.spec.with_shape(tuple(shape)),))


# --- FFT ----------------------------------------------------------------------------------
def _fft(ctx: Draw, x: Value) -> Statement | None:
    rng, spec = ctx.rng, x.spec
    norm = rng.choice(["", "", ", norm='ortho'", ", norm='forward'"])
    complex_out = spec.with_dtype("complex64")
    roll = rng.random()
    if spec.dtype == "complex64" and roll < 0.35:
        n = rng.choice([spec.shape[-1], 2 * (spec.shape[-1] - 1)]) if spec.shape[-1] > 1 else 2
        n_kw = "" if n == 2 * (spec.shape[-1] - 1) else f", n={n}"
        return assign(f"jnp.fft.irfft($0{n_kw}{norm})", (x,), (spec.with_shape((*spec.shape[:-1], n)).with_dtype("float32"),))
    if spec.dtype == "float32" and roll < 0.45:
        if spec.rank >= 2 and rng.random() < 0.3:
            return assign(f"jnp.fft.rfft2($0{norm})", (x,), (complex_out.with_shape((*spec.shape[:-1], spec.shape[-1] // 2 + 1)),))
        return assign(f"jnp.fft.rfft($0{norm})", (x,), (complex_out.with_shape((*spec.shape[:-1], spec.shape[-1] // 2 + 1)),))
    if spec.rank >= 2 and roll < 0.7:
        fn = rng.choice(["jnp.fft.fft2", "jnp.fft.ifft2", "jnp.fft.fftn"])
        return assign(f"{fn}($0{norm})", (x,), (complex_out,))
    fn = rng.choice(["jnp.fft.fft", "jnp.fft.fft", "jnp.fft.ifft"])
    axis = "" if rng.random() < 0.7 else f", axis={rng.randrange(spec.rank)}"
    return assign(f"{fn}($0{axis}{norm})", (x,), (complex_out,))


def _spectrum(ctx: Draw, x: Value) -> Statement:
    """A power spectrum with the zero frequency centred: fftshift(|fft(x)|^2)."""
    return assign("jnp.fft.fftshift(jnp.abs(jnp.fft.fft($0)) ** 2)", (x,), (x.spec.with_dtype("float32"),))


# --- clamping, rounding, remainders -------------------------------------------------------
def _scalar(dtype: str, value: str) -> str:
    return f"{JNP_TYPES[dtype]}({value})"


def _clamp(ctx: Draw, x: Value) -> Statement:
    dtype = x.spec.dtype
    lo_value = partner(ctx, x) if ctx.rng.random() < 0.3 else None
    if lo_value is not None:  # elementwise bounds: lo <= x <= lo + 1
        return assign("lax.clamp($1, $0, $1 + 1)", (x, lo_value), (x.spec,))
    lo, hi = ("-1.0", "1.0") if x.spec.is_float else ("0", "5")
    if dtype in FLOAT and ctx.rng.random() < 0.5:
        lo, hi = ctx.rng.choice([("0.0", "6.0"), ("-3.0", "3.0"), ("1e-6", "1.0")])
    return assign(f"lax.clamp({_scalar(dtype, lo)}, $0, {_scalar(dtype, hi)})", (x,), (x.spec,))


def _round(ctx: Draw, x: Value) -> Statement:
    forms = ["jnp.round($0, $d)", "jnp.rint($0)", "jnp.trunc($0)",
             "lax.round($0, lax.RoundingMethod.TO_NEAREST_EVEN)", "lax.round($0)"]
    form = ctx.rng.choice(forms)
    return assign(form, (x,), (x.spec,), attrs={"d": ctx.rng.choice([1, 2, 3])})


def _quantize(ctx: Draw, x: Value) -> Statement:
    """Fake quantization: scale, round, clip to the int8 range, rescale."""
    return assign("jnp.clip(jnp.round($0 * 127.0), -128, 127) / 127.0", (x,), (x.spec,))


def _remainder(ctx: Draw, x: Value) -> Statement:
    y = partner(ctx, x)
    if y is None:
        return assign("jnp.fmod($0, 3)" if x.spec.dtype in INT else "jnp.fmod($0, 2.0)", (x,), (x.spec,))
    if x.spec.dtype in INT:
        if ctx.rng.random() < 0.4:
            return assign("jnp.divmod($0, jnp.maximum($1, 1))", (x, y), (x.spec, x.spec))
        fn = ctx.rng.choice(["jnp.fmod($0, jnp.maximum($1, 1))", "lax.rem($0, jnp.maximum($1, 1))", "jnp.floor_divide($0, jnp.maximum($1, 1))"])
        return assign(fn, (x, y), (x.spec,))
    fn = ctx.rng.choice(["jnp.fmod($0, $1)", "lax.rem($0, $1)", "jnp.remainder($0, $1)"])
    return assign(fn, (x, y), (x.spec,))


def _modf(ctx: Draw, x: Value) -> Statement:
    if ctx.rng.random() < 0.5:
        return assign("jnp.modf($0)", (x,), (x.spec, x.spec))
    return assign("jnp.frexp($0)", (x,), (x.spec, x.spec.with_dtype("int32")))


def _ldexp(ctx: Draw, x: Value) -> Statement:
    n = ctx.need(x.spec.with_dtype("int32"))
    return assign("jnp.ldexp($0, $1 % 8)", (x, n), (x.spec,))


# --- integer bits -------------------------------------------------------------------------
def _bitwise(ctx: Draw, x: Value) -> Statement:
    rng = ctx.rng
    y = partner(ctx, x) if rng.random() < 0.6 else None
    if y is None:
        mask = "True" if x.spec.dtype == "bool" else rng.choice(["0xF", "1", "0x3", "7"])
        op = rng.choice(["&", "|", "^"])
        return assign(f"$0 {op} {mask}", (x,), (x.spec,))
    fn = rng.choice(["$0 & $1", "$0 | $1", "$0 ^ $1", "jnp.bitwise_and($0, $1)", "jnp.bitwise_xor($0, $1)", "lax.bitwise_or($0, $1)"])
    return assign(fn, (x, y), (x.spec,))


def _invert(ctx: Draw, x: Value) -> Statement:
    return assign(ctx.rng.choice(["~$0", "jnp.invert($0)", "lax.bitwise_not($0)"]), (x,), (x.spec,))


def _shift(ctx: Draw, x: Value) -> Statement:
    rng, dtype = ctx.rng, x.spec.dtype
    k = rng.choice([1, 2, 3, 4])
    roll = rng.random()
    if roll < 0.4:
        return assign(f"$0 {rng.choice(['<<', '>>'])} {k}", (x,), (x.spec,))
    if roll < 0.8:
        fn = rng.choice(["lax.shift_left", "lax.shift_right_logical", "lax.shift_right_arithmetic"])
        return assign(f"{fn}($0, {_scalar(dtype, str(k))})", (x,), (x.spec,))
    amount = partner(ctx, x)  # per-element shift amounts, kept in range
    if amount is None:
        return assign(f"$0 >> {k}", (x,), (x.spec,))
    width = {"int32": 32, "int8": 8, "uint8": 8}[dtype]
    fn = rng.choice(["jnp.left_shift", "jnp.right_shift"])
    return assign(f"{fn}($0, $1 % {width})", (x, amount), (x.spec,))


def _bit_count(ctx: Draw, x: Value) -> Statement:
    return assign(ctx.rng.choice(["lax.population_count($0)", "lax.clz($0)"]), (x,), (x.spec,))


def _float_bits(ctx: Draw, x: Value) -> Statement:
    """Look at a float's bits: reinterpret as integers (e.g. to pull out the exponent)."""
    spec, rng = x.spec, ctx.rng
    if spec.dtype == "float32":
        roll = rng.random()
        if roll < 0.35:
            return assign("(lax.bitcast_convert_type($0, jnp.int32) >> 23) & 0xFF", (x,), (spec.with_dtype("int32"),))
        if roll < 0.6:
            return assign("lax.bitcast_convert_type($0, jnp.uint8)", (x,), (TensorSpec((*spec.shape, 4), "uint8"),))
        if roll < 0.8:  # |x| by clearing the sign bit
            return assign("lax.bitcast_convert_type(lax.bitcast_convert_type($0, jnp.int32) & 0x7FFFFFFF, jnp.float32)", (x,), (spec,))
        return assign("lax.bitcast_convert_type($0, jnp.int32)", (x,), (spec.with_dtype("int32"),))
    target = {"float16": "int16", "bfloat16": "uint16"}[spec.dtype]
    return assign(f"lax.bitcast_convert_type($0, jnp.{target})", (x,), (spec.with_dtype(target),))


def _int_bits(ctx: Draw, x: Value) -> Statement | None:
    """Reinterpret integers: int8 <-> uint8, int32 -> float32 / four bytes, four bytes -> float32."""
    spec = x.spec
    if spec.dtype == "int32":
        if ctx.rng.random() < 0.5:
            return assign("lax.bitcast_convert_type($0, jnp.float32)", (x,), (spec.with_dtype("float32"),))
        return assign("lax.bitcast_convert_type($0, jnp.uint8)", (x,), (TensorSpec((*spec.shape, 4), "uint8"),))
    if spec.dtype == "uint8" and spec.rank >= 1 and spec.shape[-1] == 4 and ctx.rng.random() < 0.6:
        return assign("lax.bitcast_convert_type($0, jnp.float32)", (x,), (TensorSpec(spec.shape[:-1], "float32"),))
    other = {"int8": "uint8", "uint8": "int8"}[spec.dtype]
    return assign(f"lax.bitcast_convert_type($0, jnp.{other})", (x,), (spec.with_dtype(other),))


# --- conversions and precision ------------------------------------------------------------
def _convert(ctx: Draw, x: Value) -> Statement:
    rng, src = ctx.rng, x.spec.dtype
    targets = [d for d in ("float32", "float16", "bfloat16", "int32", "int8", "uint8", "bool", "complex64") if d != src]
    dtype = rng.choice(targets)
    form = rng.choice([f"lax.convert_element_type($0, {JNP_TYPES[dtype]})", f"$0.astype({JNP_TYPES[dtype]})"])
    return assign(form, (x,), (x.spec.with_dtype(dtype),))


def _reduce_precision(ctx: Draw, x: Value) -> Statement:
    exponent, mantissa = ctx.rng.choice([(5, 10), (8, 7), (4, 3), (5, 2)])
    return assign(f"lax.reduce_precision($0, exponent_bits={exponent}, mantissa_bits={mantissa})", (x,), (x.spec,))


def _nextafter(ctx: Draw, x: Value) -> Statement:
    toward = ctx.rng.choice(["jnp.inf", "-jnp.inf", "0.0"])
    return assign(f"jnp.nextafter($0, {toward})", (x,), (x.spec,))


def _finite(ctx: Draw, x: Value) -> Statement:
    rng = ctx.rng
    roll = rng.random()
    if roll < 0.4:
        return assign(rng.choice(["jnp.isfinite($0)", "lax.is_finite($0)", "jnp.isnan($0)", "jnp.isinf($0)"]), (x,), (x.spec.with_dtype("bool"),))
    if roll < 0.7:
        return assign(rng.choice(["jnp.nan_to_num($0)", "jnp.nan_to_num($0, nan=0.0, posinf=1.0, neginf=-1.0)"]), (x,), (x.spec,))
    y = partner(ctx, x)
    if y is None:
        return assign("jnp.isfinite($0)", (x,), (x.spec.with_dtype("bool"),))
    return assign("jnp.isclose($0, $1, atol=1e-3)", (x, y), (x.spec.with_dtype("bool"),))


# --- special functions --------------------------------------------------------------------
SPECIAL = (
    "jax.scipy.special.erf($0)", "lax.erfc($0)", "jax.scipy.special.erfinv(jnp.clip($0, -0.99, 0.99))",
    "lax.lgamma(jnp.abs($0) + 1.0)", "jax.scipy.special.gammaln(jnp.abs($0) + 0.5)", "lax.digamma(jnp.abs($0) + 1.0)",
    "jax.scipy.special.i0e($0)", "jax.scipy.special.i1e($0)",
    "jax.scipy.special.logit(jax.nn.sigmoid($0))", "jax.scipy.special.entr(jnp.abs($0))", "jax.nn.log_sigmoid($0)",
    "lax.logistic($0)", "jnp.log1p(jnp.exp(-jnp.abs($0)))", "jnp.expm1($0) - $0", "jnp.sinc($0)",
)
SPECIAL_F32 = (  # chlo ops whose CPU lowering takes float32 only, or functions defined for float32 inputs
    "jax.scipy.special.polygamma(1, jnp.abs($0) + 1.0)", "jax.scipy.special.zeta(jnp.abs($0) + 1.5, 2.0)",
    "jax.scipy.special.ndtri(jax.nn.sigmoid($0))", "jax.scipy.special.xlogy($0, jnp.abs($0) + 1.0)", "jax.scipy.special.ndtr($0)",
)
INVERSE_TRIG = (
    "jnp.arcsin(jnp.clip($0, -1.0, 1.0))", "jnp.arccos(jnp.clip($0, -1.0, 1.0))", "jnp.arctanh(jnp.clip($0, -0.99, 0.99))",
    "jnp.arccosh(1.0 + jnp.abs($0))", "jnp.tan(jnp.clip($0, -1.5, 1.5))",
)


def _special(ctx: Draw, x: Value) -> Statement:
    forms = SPECIAL + (SPECIAL_F32 if x.spec.dtype == "float32" else ())
    return assign(ctx.rng.choice(forms), (x,), (x.spec,))


def _inverse_trig(ctx: Draw, x: Value) -> Statement:
    return assign(ctx.rng.choice(INVERSE_TRIG), (x,), (x.spec,))


def _logaddexp(ctx: Draw, x: Value) -> Statement:
    y = partner(ctx, x)
    if y is None:
        return assign("jnp.logaddexp($0, 0.0)", (x,), (x.spec,))
    return assign(ctx.rng.choice(["jnp.logaddexp($0, $1)", "jnp.logaddexp2($0, $1)", "jnp.hypot($0, $1)", "jnp.copysign($0, $1)"]), (x, y), (x.spec,))


def _polynomial(ctx: Draw, x: Value) -> Statement:
    k = ctx.rng.choice([2, 3, 4])
    coeffs = ", ".join(ctx.rng.choice(["1.0", "-0.5", "0.25", "2.0", "-1.0"]) for _ in range(k + 1))
    if ctx.rng.random() < 0.5:
        return assign(f"jnp.polyval(jnp.array([{coeffs}], dtype=$0.dtype), $0)", (x,), (x.spec,))
    n = ctx.rng.choice([4, 5, 8])
    return assign(f"jnp.interp($0, jnp.linspace(-3.0, 3.0, {n}), jnp.tanh(jnp.linspace(-3.0, 3.0, {n})))", (x,), (x.spec.with_dtype("float32"),))


# --- complex numbers ----------------------------------------------------------------------
def _make_complex(ctx: Draw, x: Value) -> Statement:
    """A complex array from real parts: lax.complex, x + 1j * y, or a phase rotation."""
    y = partner(ctx, x)
    out = x.spec.with_dtype("complex64")
    if y is None:
        return assign("jnp.exp(1j * $0)", (x,), (out,))
    roll = ctx.rng.random()
    if roll < 0.4 and x.spec.dtype == "float32":
        return assign("lax.complex($0, $1)", (x, y), (out,))
    if roll < 0.7:
        return assign("$0 + 1j * $1", (x, y), (out,))
    return assign("$0 * jnp.exp(1j * $1)", (x, y), (out,))


def _complex_parts(ctx: Draw, x: Value) -> Statement:
    real = x.spec.with_dtype("float32")
    roll = ctx.rng.random()
    if roll < 0.5:
        fn = ctx.rng.choice(["jnp.real($0)", "jnp.imag($0)", "jnp.abs($0)", "jnp.angle($0)", "$0.real", "jnp.abs($0) ** 2"])
        return assign(fn, (x,), (real,))
    if roll < 0.7:
        return assign("jnp.real($0), jnp.imag($0)", (x,), (real, real))
    fn = ctx.rng.choice(["jnp.conj($0)", "$0 * jnp.conj($0)", "jnp.exp($0)", "jnp.sqrt($0)", "jnp.log($0 + 1.0)", "$0.conj().T" if x.spec.rank == 2 else "-$0"])
    spec = x.spec.with_shape(x.spec.shape[::-1]) if fn.endswith(".T") else x.spec
    return assign(fn, (x,), (spec,))



OPS = (
    op("jnp.sort", CAT, Operand(SORTABLE, 1, 4), _sort, out_names=("ordered",), weight=1.5),
    op("lax.top_k", CAT, Operand(SORTABLE, 1, 4), _top_k, out_names=("top", "top_idx")),
    op("jnp.quantile", CAT, Operand(FLOAT, 1, 3), _quantile, out_names=("q",), weight=0.6),
    op("jnp.searchsorted", CAT, Operand(F32, 0, 2), _searchsorted, out_names=("bucket",), weight=0.5),
    op("arg_extreme", CAT, Operand(SORTABLE, 1, 4), _arg_extreme, out_names=("idx",), weight=0.6),
    op("jnp.unique", CAT, Operand(("int32", "int8", "uint8"), 1, 1), _unique, out_names=("uniq",), weight=0.3),
    op("jnp.bincount", CAT, Operand(("uint8", "int32", "int8"), 1, 2), _bincount, out_names=("counts",), weight=0.4),
    op("cumulative", CAT, Operand((*FLOAT, "int32", "int8", "uint8"), 1, 4), _cumulative, out_names=("running",), weight=1.5),
    op("jnp.diff", CAT, Operand(REAL, 1, 4), _diff, out_names=("delta",), weight=0.4),
    op("jnp.fft", CAT, Operand(("float32", "complex64"), 1, 3), _fft, out_names=("spec",), weight=1.5),
    op("power_spectrum", CAT, Operand(F32, 1, 2), _spectrum, out_names=("power",), weight=0.3),
    op("lax.clamp", CAT, Operand(REAL), _clamp, out_names=("clamped",)),
    op("rounding", CAT, FLOATS, _round, out_names=("rounded",)),
    op("fake_quantize", CAT, Operand(F32), _quantize, out_names=("quant",), weight=0.3),
    op("lax.rem", CAT, Operand((*FLOAT, "int32", "int8")), _remainder, out_names=("rem",), weight=0.6),
    op("jnp.modf", CAT, Operand(("float32", "float16")), _modf, out_names=("frac", "whole"), weight=0.4),
    op("jnp.ldexp", CAT, Operand(("float32", "float16")), _ldexp, out_names=("scaled",), weight=0.3),
    op("bitwise", CAT, Operand((*BITS, "bool")), _bitwise, out_names=("bits",), weight=1.2),
    op("bitwise_not", CAT, Operand((*BITS, "bool")), _invert, out_names=("bits",), weight=0.5),
    op("shift", CAT, Operand(BITS), _shift, out_names=("shifted",)),
    op("bit_count", CAT, Operand(BITS), _bit_count, out_names=("count",), weight=0.8),
    op("float_bits", CAT, FLOATS, _float_bits, out_names=("bits",), weight=0.7),
    op("int_bitcast", CAT, Operand(BITS), _int_bits, out_names=("bits",), weight=0.5),
    op("convert_element_type", CAT, Operand((*REAL, *BOOL)), _convert, out_names=("cast",), weight=1.2),
    op("lax.reduce_precision", CAT, FLOATS, _reduce_precision, out_names=("rounded",), weight=0.6),
    op("jnp.nextafter", CAT, FLOATS, _nextafter, out_names=("next",), differentiable=False, weight=0.4),
    op("finiteness", CAT, FLOATS, _finite, out_names=("ok",), weight=0.7),
    op("special_function", CAT, FLOATS, _special, out_names=("sf",), weight=2.0),
    op("inverse_trig", CAT, FLOATS, _inverse_trig, out_names=("angle",), weight=0.8),
    op("logaddexp", CAT, FLOATS, _logaddexp, out_names=("h",), weight=0.5),
    op("polynomial", CAT, Operand(("float32", "float16")), _polynomial, out_names=("poly",), weight=0.4),
    op("make_complex", CAT, Operand(FLOAT), _make_complex, out_names=("z",)),
    op("complex_parts", CAT, Operand(("complex64",)), _complex_parts, out_names=("part",)),
)
