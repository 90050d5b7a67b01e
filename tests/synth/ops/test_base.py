"""base: statement code has one placeholder syntax, filled by one function; `op` refuses a
declaration that cannot work; every catalogue entry renders with every placeholder filled."""

from __future__ import annotations

import re

import pytest
from op_checks import single_op_program

from builder.synth.ops import CATALOGUE
from builder.synth.ops.base import Operand, fill, op, same

FORMAT_FIELD = re.compile(r"(?<!\{)\{\d+\}(?!\})")  # a str.format field left over (`{0}`): a set literal once rendered


def test_fill_names_inputs_results_and_attributes_and_leaves_python_braces_alone():
    line = "$out0, $out1 = f($0, {'scale': $1, 'k': {$kw}}, ${out0}_prev)"
    assert fill(line, ["x", "params['w']"], ["y", "aux"], {"kw": 3}) == "y, aux = f(x, {'scale': params['w'], 'k': {3}}, y_prev)"
    assert fill("$$0 + $0", ["x"]) == "$0 + x"


def test_fill_refuses_a_placeholder_nothing_fills():
    with pytest.raises(KeyError):
        fill("$0 + $1", ["x"])
    with pytest.raises(KeyError):
        fill("$out0_mean = $0", ["x"], ["y"])  # `${out0}_mean` was meant


def test_op_refuses_an_expression_over_an_undeclared_operand_and_attrs_on_a_draw_function():
    with pytest.raises(ValueError, match="reads operand 1"):
        op("bad", ("arithmetic",), Operand(("float32",)), "$0 + $1", same)
    with pytest.raises(ValueError, match="needs `out`"):
        op("bad", ("arithmetic",), Operand(("float32",)), "$0 + 1")
    with pytest.raises(ValueError, match="belong to an expression"):
        op("bad", ("arithmetic",), Operand(("float32",)), lambda ctx, x: None, same)


DRAWN = [o for o in CATALOGUE if "creation" not in o.categories]  # constants are built on request, never drawn


@pytest.mark.parametrize("decl", DRAWN, ids=lambda o: o.name)
def test_every_entry_renders_with_every_placeholder_filled(decl):
    nodes = []
    for seed in range(40):  # some ops rarely apply (a trace needs a square matrix): the first seeds that draw it
        nodes += [n for n in single_op_program(decl, seed).nodes if n.op is decl]
        if len(nodes) >= 3:
            break
    assert nodes, decl.name
    for node in nodes:
        assert not any(FORMAT_FIELD.search(line) for line in node.attrs["lines"]), (decl.name, node.attrs["lines"])
        rendered = node.render()
        assert rendered and not any("$" in line for line in rendered), (decl.name, rendered)
