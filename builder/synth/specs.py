"""Tensor specs and dtype families: the type system the generator and the op catalogue share."""

from __future__ import annotations

from dataclasses import dataclass
from math import prod

FLOAT = ("float32", "float16", "bfloat16")
INT = ("int32", "int8", "uint8")
SIGNED_INT = ("int32", "int8")
BOOL = ("bool",)
COMPLEX = ("complex64",)
REAL = FLOAT + INT
NUMERIC = FLOAT + INT + COMPLEX
ALL = NUMERIC + BOOL

# Inputs are kept small: the IR's size comes from the program, not from the data, and
# differential validation runs every row.
MAX_ELEMENTS = 4096


@dataclass(frozen=True, order=True)
class TensorSpec:
    """A static shape and a dtype name (a `jnp.dtype` name, so it round-trips through text).

    `weak_type` marks a Python scalar argument (`lr`, `temperature`, `step`): JAX traces it as a
    weakly typed scalar, which takes the dtype of the arrays it meets instead of promoting them."""

    shape: tuple[int, ...]
    dtype: str
    weak_type: bool = False

    @property
    def rank(self) -> int:
        return len(self.shape)

    @property
    def size(self) -> int:
        return prod(self.shape)

    @property
    def is_float(self) -> bool:
        return self.dtype in FLOAT

    def with_shape(self, shape: tuple[int, ...]) -> TensorSpec:
        return TensorSpec(tuple(shape), self.dtype)

    def with_dtype(self, dtype: str) -> TensorSpec:
        return TensorSpec(self.shape, dtype)

    def __str__(self) -> str:
        return f"{self.dtype}[{','.join(map(str, self.shape))}]" + ("{weak}" if self.weak_type else "")


def python_scalar(dtype: str) -> TensorSpec:
    """The spec of a Python float / int argument: a weakly typed scalar."""
    return TensorSpec((), dtype, weak_type=True)


def spec_of(entry: dict) -> TensorSpec:
    """The spec of an `args` / `outputs` entry of a row."""
    return TensorSpec(tuple(entry["shape"]), entry["dtype"], bool(entry.get("weak_type", False)))
