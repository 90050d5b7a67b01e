"""control_flow: every op lowers with the specs it declares, regions nest, and the category
reaches the StableHLO region ops (while, case, optimization_barrier, composite)."""

from __future__ import annotations

import re

import pytest
from op_checks import check_seeds, draws_only, lower, lowers_with_declared_specs, reaches, single_op_program

from builder.synth.generator import SizeLimits, generate
from builder.synth.ops.control_flow import OPS

CATEGORY = "control_flow"
REACHES = {
    "lax.while_loop": "stablehlo.while",
    "lax.fori_loop_traced": "stablehlo.while",
    "lax.scan": "stablehlo.while",
    "lax.switch": "stablehlo.case",
    "lax.cond_branches": "stablehlo.case",
    "lax.optimization_barrier": "stablehlo.optimization_barrier",
    "lax.composite": "stablehlo.composite",
}


test_every_op_lowers_with_the_specs_it_declares = lowers_with_declared_specs(OPS)
test_ops_reach_their_stablehlo_region_op = reaches(OPS, REACHES)
test_the_category_draws_only_its_own_ops = draws_only(CATEGORY, OPS)


def test_regions_nest():
    """Some program puts a region op inside another's body: a def inside a def inside the entry point."""
    nested = [s for s in range(40) if re.search(r"^ {8}def ", generate(CATEGORY, s, SizeLimits(3, 20, 5)).render(), re.M)]
    assert nested, "no nested region in 40 programs"
    check_seeds(CATEGORY, range(nested[0], nested[0] + 1), SizeLimits(3, 20, 5))


def test_a_fair_share_of_programs_has_a_gradient():
    """Ops JAX cannot reverse-differentiate (while loops, traced trip counts, composites) are drawn
    rarely enough that about a third of the programs still get gradient IR."""
    share = sum(generate(CATEGORY, seed).differentiable for seed in range(200)) / 200
    assert share >= 0.25, share


def test_loops_with_traced_trip_counts_are_not_differentiated():
    op = next(o for o in OPS if o.name == "lax.while_loop")
    program = single_op_program(op, 0)
    assert not program.differentiable
    assert lower(program).stablehlo_grad is None


def test_loop_state_names_never_shadow_values_the_loop_reads():
    """Regression (seed 10067): a while loop's `cond_fn(state)` shadowed an earlier loop's result
    named `state` that bounded its trip count; the names the defs bind are fresh now."""
    check_seeds(CATEGORY, range(10067, 10068))


@pytest.mark.slow
def test_a_thousand_programs_lower():
    drawn = check_seeds(CATEGORY, range(1000))
    assert set(drawn) == {o.name for o in OPS}


BOUND = re.compile(r"return \(?\w+ < ([^)&\n]+?)\)?(?: &|$)|lax\.fori_loop\(\w+, ([^,]+), ", re.M)


def loop_bounds(seeds: range) -> list[tuple[int, str, set[str]]]:
    """(seed, bound, argument names) for every traced loop bound of the programs drawn for `seeds`."""
    found = []
    for seed in seeds:
        program = generate(CATEGORY, seed)
        names = {leaf.name for leaf in program.leaves}
        found += [(seed, m[0] or m[1], names) for m in BOUND.findall(program.render()) if not (m[0] or m[1]).isdigit()]
    return found


def test_loop_bounds_read_from_computed_values_are_capped():
    """Regression (control_flow seed 8927937671218264601): `j < end_state`, an int32 scan carry
    grown by `* 5` and `** 2`, asked for up to 2**31 steps, and validation timed out. Only an
    argument's bound (its recorded domain) goes uncapped; any other is `jnp.minimum(value, cap)`.
    (That seed draws another program since the generator changed; the property is checked here.)"""
    bounds = loop_bounds(range(300))
    computed = [(s, b) for s, b, names in bounds if b not in names]
    assert len(computed) > 20, "too few computed bounds to tell"
    assert all(b.startswith("jnp.minimum(") for _, b in computed), computed
    assert any(b in names for _, b, names in bounds), "no argument bound drawn: the uncapped form is untested"


SWITCH = re.compile(r"lax\.switch\((.*), \[([^\]]*)\], ")
FAMILY = re.compile(r"(branch_|case_|branch|f)(\d+)")


def test_a_switch_names_its_branches_as_one_family_and_picks_by_what_real_code_uses():
    """`[branch_0, branch_1, lambda v: v]`: one stem, numbers in order (a second switch in the program
    goes on counting or takes another stem), each a `def` of the program; never names of mixed stems.
    The index is an argument or a bucketed statistic, never an argmax over statistics of one value."""
    switches, stems = 0, set()
    for seed in range(150):
        text = generate(CATEGORY, seed).render()
        for index, branches in SWITCH.findall(text):
            switches += 1
            assert "argmax" not in index, (seed, index)
            named = [b for b in branches.split(", ") if not b.startswith("lambda")]
            found = [FAMILY.fullmatch(b) for b in named]
            assert all(found), (seed, branches)
            assert len({m[1] for m in found}) == 1, (seed, branches)
            numbers = [int(m[2]) for m in found]
            assert numbers == list(range(numbers[0], numbers[0] + len(numbers))), (seed, branches)
            assert all(re.search(rf"^\s*def {b}\(", text, re.M) for b in named), (seed, branches)
            stems.add(found[0][1])
    assert switches >= 30 and len(stems) >= 3, (switches, stems)
