"""linalg: every op lowers with the specs it declares (gradients included), decompositions
reach LAPACK custom calls on CPU, and their inputs are made well-posed in the program."""

from __future__ import annotations

import pytest
from op_checks import check_seeds, lower, lowers_with_declared_specs, single_op_program

from builder.synth.ops.linalg import EINSUMS, OPS, einsum_patterns

CATEGORY = "linalg"
LAPACK_OPS = ("jnp.linalg.cholesky", "jnp.linalg.qr", "jnp.linalg.eigh", "jnp.linalg.svd", "triangular_solve", "jnp.linalg.solve")


test_every_op_lowers_with_the_specs_it_declares = lowers_with_declared_specs(OPS)


@pytest.mark.parametrize("name", LAPACK_OPS)
def test_decompositions_lower_to_lapack_calls(name):
    op = next(o for o in OPS if o.name == name)
    ir = lower(single_op_program(op, 0))
    assert "stablehlo.custom_call" in ir.ops
    assert "lapack" in ir.stablehlo


def test_cholesky_input_is_positive_definite_by_construction():
    """The factorised matrix is built as A A^T (or A A^H) plus a multiple of the identity."""
    op = next(o for o in OPS if o.name == "jnp.linalg.cholesky")
    for seed in range(5):
        source = single_op_program(op, seed).render()
        assert "jnp.eye(" in source and "@" in source, source


def test_dot_general_draws_batch_and_contracting_dims():
    op = next(o for o in OPS if o.name == "lax.dot_general")
    sources = [single_op_program(op, seed).render() for seed in range(30)]
    assert any("((0,), (0,))" in s or "((0, 1), (0, 1))" in s for s in sources), "no batched dot_general drawn"
    assert any("preferred_element_type" in s for s in sources)


def test_einsum_patterns_are_matched_on_their_first_operand():
    """Regression (seeds 82, 190, 210, ...): single-operand patterns such as 'ij->' were matched by
    the length of the whole pattern text, so a rank-4 anchor drew 'ij->' and the draw crashed."""
    by_rank = {rank: einsum_patterns(rank) for rank in range(5)}
    for rank, patterns in by_rank.items():
        assert all(len(p.split("->")[0].split(",")[0]) == rank for p in patterns)
    assert sorted(p for ps in by_rank.values() for p in ps) == sorted(EINSUMS)
    check_seeds(CATEGORY, range(82, 83))


@pytest.mark.slow
def test_a_thousand_programs_lower():
    drawn = check_seeds(CATEGORY, range(1000))
    assert set(drawn) == {o.name for o in OPS}
