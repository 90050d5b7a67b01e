"""Every linen family's analytic variables are what flax creates, over many seeds."""

from __future__ import annotations

import pytest
from linen_check import analytic_variables, flax_variables

from builder.synth.styles import flax_linen
from builder.synth.styles.base import MAX_LEAF_ELEMENTS, MAX_TOTAL_ELEMENTS, Draw, spec_leaves
from builder.synth.styles.linen_model import draw_model

FAMILIES = {f.__name__: f for f in flax_linen.FAMILIES}


@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_analytic_params_match_flax_init(family):
    for seed in range(12):
        model = draw_model(Draw(seed), {FAMILIES[family]: 1.0})
        assert flax_variables(model) == analytic_variables(model), (family, seed)


@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_models_stay_executable_and_vary(family):
    """Shapes are drawn under the budget validate can execute, and two seeds rarely draw the same model."""
    models = [draw_model(Draw(seed), {FAMILIES[family]: 1.0}) for seed in range(20)]
    for m in models:
        sizes = [s.size for a in m.variables() for s in spec_leaves(a.tree)] + [i.spec.size for i in m.inputs]
        assert max(sizes) <= MAX_LEAF_ELEMENTS and sum(sizes) <= MAX_TOTAL_ELEMENTS
    assert len({(m.source, m.construct, m.batch) for m in models}) >= 15
