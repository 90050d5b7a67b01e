"""indexing: every op lowers with the specs it declares, reaches the data-movement ops of
StableHLO, and indices come from ranges, arguments or the data, not embedded arrays."""

from __future__ import annotations

import re

import pytest
from op_checks import check_seeds, lower, lowers_with_declared_specs, reaches, single_op_program

from builder.synth.generator import generate
from builder.synth.ops.indexing import OPS

CATEGORY = "indexing"
REACHES = {
    "lax.dynamic_slice": "stablehlo.dynamic_slice",
    "lax.dynamic_update_slice": "stablehlo.dynamic_update_slice",
    "jnp.take": "stablehlo.gather",
    "lax.gather_batched": "stablehlo.gather",
    "lax.scatter_batched": "stablehlo.scatter",
    ".at[].update": "stablehlo.scatter",
    "lax.pad": "stablehlo.pad",
    "jnp.concatenate": "stablehlo.concatenate",
    "static_slice": "stablehlo.slice",
    "causal_mask": "stablehlo.iota",
    "lax.transpose": "stablehlo.transpose",
}


test_every_op_lowers_with_the_specs_it_declares = lowers_with_declared_specs(OPS)
test_ops_reach_their_stablehlo_op = reaches(OPS, REACHES, seeds=range(3))


def test_flips_reach_reverse():
    op = next(o for o in OPS if o.name == "jnp.flip")
    assert "stablehlo.reverse" in lower(single_op_program(op, 0)).ops


def test_scatter_multiply_by_an_array_stays_differentiable():
    """Regression (seeds 209, 279, 307, 321, 335): `.at[idx].mul(values)` with repeated indices has no
    gradient in JAX; the op now multiplies by arrays only at unique indices, and says so."""
    check_seeds(CATEGORY, range(209, 210))
    op = next(o for o in OPS if o.name == ".at[].update")
    by_array = []
    for seed in range(40):
        program = single_op_program(op, seed)
        for line in re.findall(r".*\.mul\(.*", program.render()):
            assert re.search(r"\.mul\(-?[\d.]+\)", line) or "unique_indices=True" in line, line
            if "unique_indices=True" in line:
                by_array.append(program)
    assert by_array, "no scatter-multiply by an array drawn in 40 programs"
    assert lower(by_array[0]).stablehlo_grad is not None


def test_no_large_literal_arrays():
    for seed in range(30):
        source = generate(CATEGORY, seed).render()
        for literal in re.findall(r"jnp\.array\(\[([^\]]*)\]", source):
            assert literal.count(",") < 4, literal


@pytest.mark.slow
def test_a_thousand_programs_lower():
    drawn = check_seeds(CATEGORY, range(1000))
    assert set(drawn) == {o.name for o in OPS}
