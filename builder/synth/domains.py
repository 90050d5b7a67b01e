"""Input domains: which values of an argument a program is defined on, recorded per leaf in a row.

Real code does not guard `jnp.log(x)` with `jnp.abs(x) + 1e-6`; it documents (or assumes) that
`x` is positive. The generator does the same: instead of a guard, it records the legal domain of
each argument leaf, and anyone (our `validate`, a consumer, an evaluation harness) draws inputs
from it without our sampler. The text form is the row's `args[i].domain`:

| text | values | dtypes |
|---|---|---|
| `real` | any finite value (drawn in [-2, 2], a weight matrix scaled by 1/sqrt(fan-in)) | float |
| `real[lo,hi]` | a finite value in [lo, hi] | float |
| `positive` | > 0 (drawn in [0.5, 2]) | float, int |
| `nonzero` | away from 0 (drawn with magnitude in [0.5, 2], either sign) | float, int |
| `int[lo,hi]` | a whole number in [lo, hi] | int |
| `index[n]` | a whole number in [0, n): an index into an axis of size n (labels, token ids) | int |
| `bool` | True or False | bool |
| `complex` | real and imaginary parts in [-1, 1] | complex |
| `bits` | any bit pattern: RNG states, raw key data | uint32, uint64 |
| `prng_key` | a raw `jax.random.key_data` of `jax.random.PRNGKey`: any bits | uint32 |
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import ml_dtypes
import numpy as np

from .specs import TensorSpec

KINDS = ("real", "positive", "nonzero", "int", "index", "bool", "complex", "bits", "prng_key")
_TEXT = re.compile(r"^(?P<kind>[a-z_]+)(?:\[(?P<args>[^\]]*)\])?$")


class DomainError(ValueError):
    """A domain text that does not parse, or does not fit its leaf's dtype."""


@dataclass(frozen=True)
class Domain:
    """One leaf's legal values. `low` / `high` bound `real[lo,hi]` and `int[lo,hi]`; `high` is
    the axis size n of `index[n]`."""

    kind: str
    low: float | None = None
    high: float | None = None

    def __str__(self) -> str:
        if self.kind == "index":
            return f"index[{_num(self.high)}]"
        if self.low is not None:
            return f"{self.kind}[{_num(self.low)},{_num(self.high)}]"
        return self.kind

    @classmethod
    def parse(cls, text: str) -> Domain:
        """The domain a row's `domain` text names (the inverse of `str`)."""
        m = _TEXT.match(text.strip())
        if not m or m.group("kind") not in KINDS:
            raise DomainError(f"unknown domain {text!r}: expected one of {', '.join(KINDS)} (e.g. 'real[-1,1]', 'index[10]')")
        kind, args = m.group("kind"), m.group("args")
        values = [float(a) for a in args.split(",")] if args else []
        if kind == "index":
            if len(values) != 1 or values[0] < 1:
                raise DomainError(f"domain {text!r}: index takes one axis size n >= 1, e.g. 'index[10]'")
            return cls("index", 0, values[0])
        if kind in ("real", "int") and values:
            if len(values) != 2 or values[0] > values[1]:
                raise DomainError(f"domain {text!r}: {kind} takes [lo,hi] with lo <= hi, e.g. '{kind}[-1,1]'")
            return cls(kind, values[0], values[1])
        if values:
            raise DomainError(f"domain {text!r}: {kind} takes no bounds")
        if kind == "int":
            raise DomainError(f"domain {text!r}: int needs bounds, e.g. 'int[0,9]'")
        return cls(kind)

    def sample(self, spec: TensorSpec, rng: np.random.Generator) -> np.ndarray:
        """Seeded values of `spec` inside this domain (numpy; bfloat16 through ml_dtypes)."""
        shape, dtype = spec.shape, spec.dtype
        if self.kind in ("real", "positive", "nonzero") and _is_float(dtype):
            if self.kind == "real" and self.low is not None:
                x = rng.uniform(self.low, self.high, shape)
            elif self.kind == "real":
                x = rng.uniform(-2.0, 2.0, shape)
                if len(shape) >= 2:  # a weight matrix (or a batch) scaled as an initializer would: `x @ w` stays O(1)
                    x = x / np.sqrt(max(shape[-2], 1))
            else:
                x = rng.uniform(0.5, 2.0, shape) * (1.0 if self.kind == "positive" else rng.choice([-1.0, 1.0], shape))
            return _cast(x, dtype)
        if self.kind == "complex":
            return (rng.uniform(-1, 1, shape) + 1j * rng.uniform(-1, 1, shape)).astype(dtype)
        if self.kind == "bool":
            return rng.random(shape) < 0.5
        if self.kind in ("bits", "prng_key"):
            return rng.integers(0, np.iinfo(dtype).max, shape, dtype=dtype, endpoint=True)
        if dtype.startswith(("int", "uint")):
            lo, hi = self._int_bounds(dtype)
            x = rng.integers(lo, hi, shape, endpoint=True)
            if self.kind == "nonzero" and not dtype.startswith("uint"):
                x = x * rng.choice([-1, 1], shape)
            return x.astype(dtype)
        raise DomainError(f"domain {self} does not fit dtype {dtype}")

    def _int_bounds(self, dtype: str) -> tuple[int, int]:
        info = np.iinfo(dtype)
        if self.kind == "index":
            return 0, int(self.high) - 1
        if self.kind == "int":
            return max(int(self.low), int(info.min)), min(int(self.high), int(info.max))
        if self.kind in ("positive", "nonzero"):
            return 1, 8
        return (0 if dtype.startswith("uint") else -8), 8  # "real" on an integer leaf: small values

    def contains(self, values: np.ndarray) -> bool:
        """Whether every element of `values` lies in this domain (what a test of a sampler asserts)."""
        x = np.asarray(values)
        if self.kind in ("bits", "prng_key", "bool", "complex"):
            return True
        if self.kind == "real":
            finite = bool(np.all(np.isfinite(x.astype(np.float64))))
            return finite and (self.low is None or bool(np.all((x >= self.low) & (x <= self.high))))
        if self.kind == "positive":
            return bool(np.all(x > 0))
        if self.kind == "nonzero":
            return bool(np.all(x != 0))
        if self.kind == "index":
            return bool(np.all((x >= 0) & (x < self.high)))
        return bool(np.all((x >= self.low) & (x <= self.high)))


def default_domain(spec: TensorSpec) -> Domain:
    """The domain of a leaf whose program puts no restriction on it."""
    if _is_float(spec.dtype):
        return Domain("real")
    if spec.dtype.startswith("complex"):
        return Domain("complex")
    if spec.dtype == "bool":
        return Domain("bool")
    if spec.dtype in ("uint32", "uint64"):
        return Domain("bits")
    return Domain("int", 0 if spec.dtype.startswith("uint") else -8, 8)


# What a hyper-parameter's name says about its legal values (a Python scalar or scalar argument).
_RATES = ("rate", "dropout_rate", "p_drop")
_PROBABILITIES = ("keep_prob",)
_COUNTS = ("step", "count", "t")
_KEYS = ("key", "rng", "prng_key")


def argument_domain(spec: TensorSpec, hint: str) -> Domain | None:
    """The domain an argument's name implies, for scalars whose name says it (None: `default_domain`):
    a dropout rate lies in [0, 0.5], a keep probability in [0.5, 1], a step count is >= 1 (Adam
    divides by `1 - b1 ** step`), and any other float hyper-parameter (lr, temperature, eps, scale)
    is positive."""
    if spec.shape == (2,) and spec.dtype == "uint32" and hint in _KEYS:
        return Domain("prng_key")
    if spec.rank:
        return None
    if _is_float(spec.dtype):
        if hint in _RATES:
            return Domain("real", 0.0, 0.5)
        if hint in _PROBABILITIES:
            return Domain("real", 0.5, 1.0)
        return Domain("positive") if spec.weak_type else None
    if hint in _COUNTS and spec.dtype.startswith("int"):
        return Domain("int", 1, 100)
    return None


def _is_float(dtype: str) -> bool:
    return dtype in ("float32", "float16", "bfloat16", "float64")


def _cast(x: np.ndarray, dtype: str) -> np.ndarray:
    return x.astype(ml_dtypes.bfloat16 if dtype == "bfloat16" else dtype)


def _num(x: float | None) -> str:
    return str(int(x)) if x is not None and float(x).is_integer() else str(x)
