"""The parameters flax.linen creates for each layer, computed analytically (no JAX in synth).

One function per layer, named as flax names them; `tests/synth/styles` checks every drawn model's
tree against `jax.eval_shape(model.init, ...)`.
"""

from __future__ import annotations

from ..specs import TensorSpec
from .base import SpecTree, spec


def dense(d_in: int, d_out: int, dtype: str = "float32", bias: bool = True) -> dict[str, SpecTree]:
    out: dict[str, SpecTree] = {"kernel": spec(dtype, d_in, d_out)}
    if bias:
        out["bias"] = spec(dtype, d_out)
    return out


def dense_general(d_in: int, out: tuple[int, ...], dtype: str = "float32", bias: bool = True, in_axes: tuple[int, ...] = ()) -> dict[str, SpecTree]:
    """`nn.DenseGeneral(features=out)` over the last axis (or the trailing `in_axes` sizes)."""
    tree: dict[str, SpecTree] = {"kernel": spec(dtype, *(in_axes or (d_in,)), *out)}
    if bias:
        tree["bias"] = spec(dtype, *out)
    return tree


def conv(kernel: tuple[int, ...], c_in: int, c_out: int, dtype: str = "float32", bias: bool = True, groups: int = 1) -> dict[str, SpecTree]:
    out: dict[str, SpecTree] = {"kernel": spec(dtype, *kernel, c_in // groups, c_out)}
    if bias:
        out["bias"] = spec(dtype, c_out)
    return out


def norm(features: int, dtype: str = "float32", scale: bool = True, bias: bool = True) -> dict[str, SpecTree]:
    """LayerNorm / GroupNorm / BatchNorm params (RMSNorm: `bias=False`)."""
    out: dict[str, SpecTree] = {}
    if bias:
        out["bias"] = spec(dtype, features)
    if scale:
        out["scale"] = spec(dtype, features)
    return out


def batch_stats(features: int) -> dict[str, SpecTree]:
    return {"mean": spec("float32", features), "var": spec("float32", features)}


def embed(vocab: int, features: int, dtype: str = "float32") -> dict[str, SpecTree]:
    return {"embedding": spec(dtype, vocab, features)}


def attention(d_in: int, heads: int, qkv: int, d_out: int, dtype: str = "float32", bias: bool = True) -> dict[str, SpecTree]:
    """`nn.MultiHeadDotProductAttention(num_heads, qkv_features=qkv, out_features=d_out)`."""
    head_dim = qkv // heads
    tree: dict[str, SpecTree] = {n: dense_general(d_in, (heads, head_dim), dtype, bias) for n in ("query", "key", "value")}
    tree["out"] = dense_general(0, (d_out,), dtype, bias, in_axes=(heads, head_dim))
    return tree


def lstm(d_in: int, hidden: int, dtype: str = "float32") -> dict[str, SpecTree]:
    """`nn.LSTMCell(hidden)`: input kernels without bias, hidden kernels with."""
    tree: dict[str, SpecTree] = {f"i{g}": {"kernel": spec(dtype, d_in, hidden)} for g in "ifgo"}
    tree.update({f"h{g}": dense(hidden, hidden, dtype) for g in "ifgo"})
    return tree


def gru(d_in: int, hidden: int, dtype: str = "float32") -> dict[str, SpecTree]:
    """`nn.GRUCell(hidden)`: input kernels with bias, hidden kernels without (but `hn`)."""
    tree: dict[str, SpecTree] = {f"i{g}": dense(d_in, hidden, dtype) for g in ("r", "z", "n")}
    tree.update({"hr": {"kernel": spec(dtype, hidden, hidden)}, "hz": {"kernel": spec(dtype, hidden, hidden)}, "hn": dense(hidden, hidden, dtype)})
    return tree


def stacked(tree: SpecTree, n: int) -> SpecTree:
    """The params of `n` layers under `nn.scan(..., variable_axes={'params': 0})`: a leading layer axis."""
    if isinstance(tree, TensorSpec):
        return TensorSpec((n, *tree.shape), tree.dtype)
    return {k: stacked(v, n) for k, v in tree.items()}
