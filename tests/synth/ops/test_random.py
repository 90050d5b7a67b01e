"""random: every sampler lowers with the specs it declares, keys are threaded the way JAX code
threads them, and the category reaches the RNG ops no other category does."""

from __future__ import annotations

import re

import pytest
from op_checks import check_seeds, draws_only, lowers_with_declared_specs, reaches, single_op_program

from builder.synth.generator import generate
from builder.synth.ops.random import OPS, RAW_KEY
from builder.synth.program import flatten_returns

CATEGORY = "random"
REACHES = {
    "lax.rng_bit_generator": "stablehlo.rng_bit_generator",
    "jax.random.rbg_mask": "stablehlo.rng_bit_generator",
    "lax.rng_uniform": "stablehlo.rng",
    "jax.random.normal": "chlo.erf_inv",
    "jax.random.truncated_normal": "chlo.erf_inv",
}


test_every_op_lowers_with_the_specs_it_declares = lowers_with_declared_specs(OPS)
test_ops_reach_their_rng_op = reaches(OPS, REACHES)
test_the_category_draws_only_its_own_ops = draws_only(CATEGORY, OPS)


def test_keys_come_in_as_arguments_or_from_a_seed_and_are_threaded():
    sources = {"argument": 0, "seed": 0}
    for seed in range(40):
        program = generate(CATEGORY, seed)
        source = program.render()
        if any(leaf.spec == RAW_KEY for leaf in program.leaves):
            sources["argument"] += 1
        if re.search(r"= jax\.random\.key\(", source):
            sources["seed"] += 1
        # a key is never returned: it is consumed by the samplers
        assert not any(v.spec.dtype.startswith("key<") or v in program.leaves for v in flatten_returns(program.returns)), seed
    assert sources["argument"] > 10 and sources["seed"] > 3, sources
    assert not re.search(r"jax\.random\.(key|PRNGKey)\(\d", "\n".join(generate(CATEGORY, s).render() for s in range(40)))
    threaded = generate(CATEGORY, 3).render()
    assert re.search(r"^    (\w+), (\w+) = jax\.random\.split\(\1\)$", threaded, re.M), threaded


def test_a_python_int_seed_is_a_weakly_typed_argument():
    programs = [generate(CATEGORY, s) for s in range(60)]
    weak = [leaf for p in programs for leaf in p.leaves if leaf.name == "seed" and leaf.spec.weak_type]
    assert weak and all(leaf.spec.dtype == "int32" and leaf.spec.shape == () for leaf in weak)


@pytest.mark.parametrize("seed", [6, 12])
def test_regressions(seed):
    """Seed 6 drew `jax.random.poisson` with an rbg key (threefry only); seed 12 drew the
    orthogonal initializer in float16 (LAPACK QR has no half precision)."""
    check_seeds(CATEGORY, range(seed, seed + 1))


def test_gamma_family_always_gets_a_threefry_key():
    op = next(o for o in OPS if o.name == "jax.random.gamma_family")
    for seed in range(12):
        source = single_op_program(op, seed).render()
        assert 'impl="rbg"' not in source and 'impl="unsafe_rbg"' not in source, source


@pytest.mark.parametrize("category", ["nn", "vmap", "parallel"])
def test_other_categories_draw_threefry_keys_only(category):
    """Model code keeps JAX's default PRNG: rbg keys (rng_bit_generator) are this category's own."""
    for seed in range(60):
        source = generate(category, seed).render()
        assert 'impl="rbg"' not in source and 'impl="unsafe_rbg"' not in source, (category, seed)


@pytest.mark.slow
def test_a_thousand_programs_lower():
    drawn = check_seeds(CATEGORY, range(1000))
    assert set(drawn) == {o.name for o in OPS}
