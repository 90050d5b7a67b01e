"""Shared by the style tests: a drawn linen model's analytic variables against what flax creates."""

from __future__ import annotations

import jax
import jax.numpy as jnp

from builder.synth.styles.base import module, spec_leaves
from builder.synth.styles.linen_model import LinenModel


def spec_tree(tree):
    if isinstance(tree, dict):
        return {k: spec_tree(v) for k, v in tree.items()}
    (leaf,) = spec_leaves(tree)
    return (tuple(leaf.shape), leaf.dtype)


def flax_variables(model: LinenModel) -> dict:
    """`jax.eval_shape(model.init, ...)` of the model's own source, as {collection: {path: (shape, dtype)}}."""
    namespace: dict = {}
    exec(compile(module(sorted(model.imports), model.source, f"model = {model.construct}"), "<model>", "exec"), namespace)
    net = namespace["model"]
    key = jax.random.PRNGKey(0)
    inputs = [jax.ShapeDtypeStruct(i.spec.shape, jnp.dtype(i.spec.dtype)) for i in model.inputs]
    kwargs = {"train": False} if model.train_arg else {}
    shapes = jax.eval_shape(lambda *xs: net.init({"params": key, "dropout": key}, *xs, **kwargs), *inputs)
    return jax.tree.map(lambda x: (tuple(x.shape), str(x.dtype)), dict(shapes))


def analytic_variables(model: LinenModel) -> dict:
    out = {"params": spec_tree(model.params)}
    if model.batch_stats is not None:
        out["batch_stats"] = spec_tree(model.batch_stats)
    return out
