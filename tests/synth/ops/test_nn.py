"""nn: every block lowers with the specs it declares, weights live in a `params` pytree the way
model code keeps them, and training steps return the updated pytree whole."""

from __future__ import annotations

import ast
import re

import pytest
from op_checks import check_seeds, draws_only, lowers_with_declared_specs, reaches, single_op_program

from builder.synth.generator import generate
from builder.synth.ops.nn import OPS
from builder.synth.program import Named

CATEGORY = "nn"
REACHES = {
    "nn.conv_block": "stablehlo.convolution",
    "nn.recurrent": "stablehlo.while",
    "nn.attention": "stablehlo.dot_general",
    "nn.embedding": "stablehlo.gather",
}


test_every_op_lowers_with_the_specs_it_declares = lowers_with_declared_specs(OPS)
test_blocks_reach_their_stablehlo_op = reaches(OPS, REACHES)
test_the_category_draws_only_its_own_ops = draws_only(CATEGORY, OPS)


def test_weights_are_modules_of_a_params_pytree():
    programs = [generate(CATEGORY, s) for s in range(30)]
    nested = [p for p in programs if any(re.fullmatch(r"params\['\w+'\](\[\d+\])?\['\w+'\]", leaf.name) for leaf in p.leaves)]
    assert len(nested) > 15
    for p in nested:
        tree = ast.literal_eval(p.args_tree())
        index = [param.name for param in p.params].index("params")
        assert isinstance(tree[index], dict) and any(isinstance(v, (dict, tuple)) for v in tree[index].values())


def test_an_mlp_is_a_static_loop_over_its_layers():
    op = next(o for o in OPS if o.name == "nn.mlp")
    source = single_op_program(op, 1).render()
    assert re.search(r"^    for (\w+, )?layer in (enumerate\()?params\['\w+'\]", source, re.M), source


def test_training_steps_return_the_new_params_whole():
    for name in ("nn.sgd_step", "nn.adam_step"):
        op = next(o for o in OPS if o.name == name)
        program = single_op_program(op, 0)
        returned = program.returns if isinstance(program.returns, tuple) else (program.returns,)
        named = [r for r in _walk(returned) if isinstance(r, Named)]
        assert any(r.name.startswith("new_params") for r in named), program.render()
        assert "jax.tree_util.tree_map" in program.render()


def test_hyper_parameters_are_python_scalars():
    weak = [leaf for s in range(40) for leaf in generate(CATEGORY, s).leaves if leaf.spec.weak_type]
    assert {leaf.name for leaf in weak} & {"lr", "learning_rate", "temperature", "rate", "dropout_rate", "step"}
    assert all(leaf.spec.shape == () and leaf.spec.dtype in ("float32", "int32") for leaf in weak)


def test_regression_seed_55():
    """Adam's update once took every argument slot and left nothing for later blocks to read."""
    check_seeds(CATEGORY, range(55, 56))


def _walk(items):
    for item in items:
        if isinstance(item, tuple):
            yield from _walk(item)
        elif isinstance(item, dict):
            yield from _walk(tuple(item.values()))
        else:
            yield item


@pytest.mark.slow
def test_a_thousand_programs_lower():
    drawn = check_seeds(CATEGORY, range(1000))
    assert set(drawn) == {o.name for o in OPS}
