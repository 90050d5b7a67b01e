"""convolution: every op lowers with the specs it declares, and the shape arithmetic of
padding, strides and dilation agrees with JAX across the layouts."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import pytest
from jax import lax
from op_checks import check_seeds, lower, lowers_with_declared_specs, single_op_program

from builder.synth.ops.convolution import OPS, same_pads, transpose_pads, windowed

CATEGORY = "convolution"


test_every_op_lowers_with_the_specs_it_declares = lowers_with_declared_specs(OPS)


@pytest.mark.parametrize(("name", "hlo_op"), [
    ("lax.conv_general_dilated", "stablehlo.convolution"),
    ("lax.reduce_window", "stablehlo.reduce_window"),
    ("max_pool_backward", "stablehlo.select_and_scatter"),
])
def test_ops_reach_their_stablehlo_op(name, hlo_op):
    op = next(o for o in OPS if o.name == name)
    assert hlo_op in lower(single_op_program(op, 0)).ops


@pytest.mark.parametrize("size", [1, 4, 7])
@pytest.mark.parametrize("window", [1, 2, 3, 5])
@pytest.mark.parametrize("stride", [1, 2, 3])
def test_padding_rules_match_lax(size, window, stride):
    assert same_pads(size, window, stride) == tuple(lax.padtype_to_pads((size,), (window,), (stride,), "SAME")[0])
    for padding in ("SAME", "VALID"):
        lo, hi = transpose_pads(window, stride, padding)
        x = jax.ShapeDtypeStruct((1, size, 1), jnp.float32)
        w = jax.ShapeDtypeStruct((window, 1, 1), jnp.float32)
        out = jax.eval_shape(lambda a, b: lax.conv_transpose(a, b, (stride,), padding), x, w)  # noqa: B023
        assert out.shape[1] == windowed(size, window, 1, (lo, hi), dilation=stride)


def test_layouts_and_groups_are_drawn():
    op = next(o for o in OPS if o.name == "lax.conv_general_dilated")
    sources = "\n".join(single_op_program(op, seed).render() for seed in range(40))
    for knob in ("'NHWC'", "'NCH'", "feature_group_count=", "rhs_dilation=", "lhs_dilation=", "padding='SAME'", "padding='VALID'", "padding=(("):
        assert knob in sources, knob


@pytest.mark.slow
def test_a_thousand_programs_lower():
    drawn = check_seeds(CATEGORY, range(1000))
    assert set(drawn) == {o.name for o in OPS}
