"""autodiff: every transformation lowers with the specs it declares, custom rules are
module-level helpers used only where their rule exists, and differentiation reaches the ops
only the backward pass emits (select_and_scatter for max pooling, optimization_barrier for remat)."""

from __future__ import annotations

import ast
import re

import pytest
from op_checks import check_seeds, draws_only, lower, lowers_with_declared_specs, single_op_program

from builder.synth.generator import generate
from builder.synth.ops.autodiff import CUSTOM, OPS

CATEGORY = "autodiff"
VJP_ONLY = [name for name, (_, has_jvp) in CUSTOM.items() if not has_jvp]


def _op(name):
    return next(o for o in OPS if o.name == name)


test_every_op_lowers_with_the_specs_it_declares = lowers_with_declared_specs(OPS)
test_the_category_draws_only_its_own_ops = draws_only(CATEGORY, OPS)


def test_remat_reaches_optimization_barrier():
    """Rematerialization under a gradient keeps its recomputation apart (unless `prevent_cse=False`)."""
    plain = [s for s in range(40) if re.search(r"jax\.checkpoint\(\w+\)", single_op_program(_op("jax.checkpoint"), s).render())]
    assert any("stablehlo.optimization_barrier" in lower(single_op_program(_op("jax.checkpoint"), s)).ops for s in plain[:5])


def test_the_gradient_of_max_pooling_reaches_select_and_scatter():
    seed = next(s for s in range(60) if "lax.max" in single_op_program(_op("jax.grad"), s).render())
    assert "stablehlo.select_and_scatter" in lower(single_op_program(_op("jax.grad"), seed)).ops


@pytest.mark.parametrize("name", ["jax.jvp", "jax.linearize", "jax.hessian"])
def test_forward_mode_never_meets_a_custom_vjp(name):
    for seed in range(15):
        source = single_op_program(_op(name), seed).render()
        assert not any(f"{helper}(" in source for helper in VJP_ONLY), source


def test_custom_rules_are_module_level_definitions():
    sources = [generate(CATEGORY, s).render() for s in range(30)]
    with_helpers = [s for s in sources if "@jax.custom_" in s]
    assert with_helpers
    for source in with_helpers:
        tree = ast.parse(source)
        decorated = [f for f in tree.body if isinstance(f, ast.FunctionDef) and f.decorator_list]
        assert any(ast.unparse(d).startswith("jax.custom_") for f in decorated for d in f.decorator_list)


def test_regression_seed_34():
    """A gradient block once named a temporary `h` inside its loss function and read the outer `h`."""
    check_seeds(CATEGORY, range(34, 35))


@pytest.mark.slow
def test_a_thousand_programs_lower():
    drawn = check_seeds(CATEGORY, range(1000))
    assert set(drawn) == {o.name for o in OPS}
