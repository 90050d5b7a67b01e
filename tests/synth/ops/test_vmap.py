"""vmap: every mapped function lowers with the specs it declares (in_axes / out_axes shapes
included), and the forms vmap code takes are all there."""

from __future__ import annotations

import re

import pytest
from op_checks import check_op, check_seeds, draws_only, lower, lowers_with_declared_specs, single_op_program

from builder.synth.generator import generate
from builder.synth.ops.vmap import OPS

CATEGORY = "vmap"


def _op(name):
    return next(o for o in OPS if o.name == name)


test_every_op_lowers_with_the_specs_it_declares = lowers_with_declared_specs(OPS)
test_the_category_draws_only_its_own_ops = draws_only(CATEGORY, OPS)


def test_programs_use_axes_nesting_and_per_example_gradients():
    source = "\n".join(generate(CATEGORY, s).render() for s in range(40))
    assert re.search(r"jax\.vmap\(\w+, in_axes=\d+, out_axes=\d+\)", source)
    assert "jax.vmap(jax.vmap(" in source
    assert "jax.vmap(jax.grad(" in source
    assert "in_axes=(None, 0, 0)" in source


def test_collectives_over_a_named_axis_have_a_gradient():
    """`lax.pmax` has no JVP rule: the named-axis op feeds it only stopped gradients."""
    check_op(_op("vmap.named_axis"), range(6))


def test_a_data_dependent_loop_per_example_is_declared_not_differentiable():
    program = single_op_program(_op("vmap.per_example_loop"), 0)
    assert not program.differentiable
    ir = lower(program)
    assert ir.stablehlo_grad is None and "stablehlo.while" in ir.ops


@pytest.mark.slow
def test_a_thousand_programs_lower():
    drawn = check_seeds(CATEGORY, range(1000))
    assert set(drawn) == {o.name for o in OPS}
