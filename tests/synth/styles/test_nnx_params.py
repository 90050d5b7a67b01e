"""flax_nnx: the analytic pure-dict parameters are what `nnx.split(...).to_pure_dict()` gives."""

from __future__ import annotations

import jax
import pytest
from linen_check import spec_tree

from builder.synth.styles import flax_nnx
from builder.synth.styles.base import Draw, module

FAMILIES = {f.__name__: f for f in flax_nnx.FAMILIES}


@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_analytic_params_match_nnx_split(family):
    for seed in range(8):
        model = FAMILIES[family](Draw(seed), 4)
        if model is None:
            continue
        namespace: dict = {}
        exec(compile(module(sorted(model.imports), model.source), "<nnx>", "exec"), namespace)
        abstract = eval(f"nnx.eval_shape(lambda: {model.construct})", namespace)
        _, state = namespace["nnx"].split(abstract)
        got = jax.tree.map(lambda x: (tuple(x.shape), str(x.dtype)), namespace["nnx"].to_pure_dict(state))
        assert got == spec_tree(model.params), (family, seed)
