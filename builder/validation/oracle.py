"""An f64 oracle: the same StableHLO module with every f32, f16 and bf16 made f64, to tell rounding
from a wrong op.

Two executors that sum in different orders round differently, and an ill-conditioned program
(a sum that cancels to near zero, a cube of a large value fed to `sin`, a gradient through
saturated attention) turns that into any relative difference, in f32 up to 100%. Whether a
difference is rounding can be measured: run both executors on the module rewritten to f64, on
the same (upcast) inputs. Rounding errors shrink with the precision (f64's epsilon is 2^29
times smaller than f32's), so if the difference is rounding the f64 results agree almost
exactly; an op computed wrongly gives the same difference in f64 as in f32.

The rewrite is textual and only done where it keeps the meaning: modules that reinterpret bits
(`bitcast_convert`), round on purpose (`reduce_precision`), call opaque kernels (`custom_call`),
draw random bits (`rng`, `rng_bit_generator`), pin a dot algorithm, or hold complex numbers
(the interpreter's boundary takes no complex<f64>) are refused.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import ml_dtypes
import numpy as np

from .compare import Tolerance, compare_outputs

# Ops whose f64 version does not compute the program's value without rounding.
REFUSED = re.compile(
    r"stablehlo\.(custom_call|bitcast_convert|reduce_precision|rng|rng_bit_generator)\b|dot_algorithm|complex<|[x<]f64>"
)
_FLOAT = re.compile(r"(?<=[x<])(bf16|f16|f32)(?=[>,])")  # tensor<4xf32>, tensor<bf16>, tensor<4xf16, #enc>
_CONSTANT = re.compile(r"dense<([^<>]*)>(\s*:\s*tensor<(?:\d+x)*)(bf16|f16|f32)>")
_ELEMENT = re.compile(r"0x[0-9A-Fa-f]+|[-+]?\d+(?:\.\d*)?(?:[eE][-+]?\d+)?")
NARROW = {"f32": np.dtype(np.float32), "f16": np.dtype(np.float16), "bf16": np.dtype(ml_dtypes.bfloat16)}


class NotRewritable(ValueError):
    """The module does something whose f64 version is not the same computation."""


def _f64_hex(bits: str, dtype: np.dtype) -> str:
    """A bit pattern of `dtype` (`0x7F800000` in f32) as the f64 bit pattern of the same value."""
    if len(bits) != 2 + 2 * dtype.itemsize:
        raise NotRewritable(f"a hex constant {bits[:24]} of an unexpected width for {dtype.name}")
    value = np.frombuffer(bytes.fromhex(bits[2:])[::-1], dtype).astype("<f8")
    return "0x" + value.view("<u8")[0].item().to_bytes(8, "big").hex().upper()


def _literal(body: str, dtype: np.dtype) -> str:
    """A dense literal of `dtype` values as the same values in f64 (exactly: widening is exact)."""
    if body.startswith('"0x'):  # raw little-endian bytes of every element
        raw = bytes.fromhex(body[3:-1])
        return '"0x' + np.frombuffer(raw, dtype).astype("<f8").tobytes().hex().upper() + '"'
    # Elements print as decimals (the value rounded: parse back to `dtype` and print that exactly)
    # or, when not finite, as bit patterns, also inside a list.
    def element(m: re.Match[str]) -> str:
        token = m.group()
        return _f64_hex(token, dtype) if token.startswith("0x") else f"{float(np.array(float(token)).astype(dtype).astype(np.float64)):.17e}"

    return _ELEMENT.sub(element, body)


def to_f64(text: str) -> str:
    """`text` with every f32, f16 and bf16 type and constant made f64; NotRewritable when that
    would change what the module computes."""
    refused = REFUSED.search(text)
    if refused:
        raise NotRewritable(f"the module uses {refused.group().strip('>')}")
    text = _CONSTANT.sub(lambda m: f"dense<{_literal(m.group(1), NARROW[m.group(3)])}>{m.group(2)}{m.group(3)}>", text)
    return _FLOAT.sub("f64", text)


def upcast(inputs: Sequence[np.ndarray]) -> list[np.ndarray]:
    """The inputs as the f64 module takes them: f32, f16 and bf16 as float64, the rest as they are."""
    return [np.asarray(x).astype(np.float64) if np.asarray(x).dtype in NARROW.values() else np.asarray(x) for x in inputs]


# Rounding shrinks 2^29-fold from f32 to f64 (more from f16 / bf16); a difference that shrinks
# 2^16-fold (leaving 2^13 for how differently the precisions' errors happen to be amplified) is rounding.
SHRINK = 2.0**-16
F64 = {"float64": Tolerance(1e-9, 1e-9)}  # the floor: f64 transcendentals of two executors differ by a few ulps


def unexplained(got: Sequence[np.ndarray], want: Sequence[np.ndarray], got64: Sequence[np.ndarray], want64: Sequence[np.ndarray]) -> list[str]:
    """What rounding does not explain of the difference between two executors' outputs, given the
    same executors' outputs on the module rewritten to f64 (`to_f64`): per output, the f64 results
    must agree to within SHRINK times the difference (or F64's floor). Empty: all of it is rounding."""
    slacks = []
    for g, w in zip(got, want, strict=True):
        g, w = np.asarray(g), np.asarray(w)
        if g.dtype in NARROW.values() and w.dtype == g.dtype:
            a, b = g.astype(np.float64), w.astype(np.float64)
            with np.errstate(invalid="ignore", over="ignore"):
                slacks.append(np.where(np.isfinite(a) & np.isfinite(b), SHRINK * np.abs(a - b), 0.0))
        else:
            slacks.append(np.zeros(g.shape))
    return compare_outputs(list(got64), list(want64), F64, independent=True, slack=slacks)


def rounding_error(narrow: Sequence[np.ndarray], f64: Sequence[np.ndarray]) -> float:
    """The largest difference between an executor's (f32, f16, bf16) outputs and the f64 oracle's,
    over the float elements finite on both sides: how far rounding moved this executor's result."""
    worst = 0.0
    for a, b in zip(narrow, f64, strict=True):
        a, b = np.asarray(a), np.asarray(b)
        if a.dtype in NARROW.values() and b.dtype == np.float64:
            a = a.astype(np.float64)
            finite = np.isfinite(a) & np.isfinite(b)
            worst = max(worst, float(np.abs(a[finite] - b[finite]).max(initial=0.0)))
    return worst
