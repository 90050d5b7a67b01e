"""The generator: deterministic, well-typed, and every category's programs lower."""

from __future__ import annotations

import ast

import pytest

from builder.extractor import extract
from builder.generator import SizeLimits, generate
from builder.ops import CATEGORIES, catalogue_for
from builder.program import flatten_returns


@pytest.mark.parametrize("category", CATEGORIES)
def test_same_seed_same_source(category):
    assert generate(category, 11).render() == generate(category, 11).render()
    assert generate(category, 11).render() != generate(category, 12).render()


@pytest.mark.parametrize("category", CATEGORIES)
def test_declared_output_specs_match_what_jax_infers(category):
    """The generator's own type system agrees with JAX for every drawn statement that is returned."""
    for seed in range(12):
        program = generate(category, seed, SizeLimits(3, 15, 5))
        ir = extract(program.render(), program.entry_point, [v.spec for v in program.leaves], program.args_tree(), program.differentiable)
        assert ir.outputs == [v.spec for v in flatten_returns(program.returns)], (category, seed)


@pytest.mark.parametrize("category", CATEGORIES)
def test_programs_use_their_category(category):
    names = {o.name for o in catalogue_for(category)}
    for seed in range(10):
        program = generate(category, seed)
        assert any(node.op.name in names for node in program.nodes)


def test_statement_count_follows_limits():
    for seed in range(20):
        program = generate("arithmetic", seed, SizeLimits(5, 5, 3))
        body = [n for n in program.nodes if n.op.name not in ("jnp.linspace", "fold_terms")]
        assert len(body) == 5
        assert len(program.leaves) <= 3


def test_source_is_a_plain_module():
    tree = ast.parse(generate("composite", 5).render())
    funcs = [n for n in tree.body if isinstance(n, ast.FunctionDef)]
    assert len(funcs) == 1
    assert all(isinstance(n, (ast.Import, ast.ImportFrom, ast.FunctionDef)) for n in tree.body)
