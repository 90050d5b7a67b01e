"""base: statement code has one placeholder syntax, filled by one function; `op` refuses a
declaration that cannot work; every catalogue entry renders with every placeholder filled."""

from __future__ import annotations

import re

import pytest
from op_checks import single_op_program

from builder.synth.ops import CATALOGUE, autodiff, control_flow, indexing, nn, parallel, random, vmap
from builder.synth.ops.base import Operand, fill, op, same, shift

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


def test_shift_renumbers_inputs_only():
    lines = ["$0, $k0 = jax.random.split($0)", "$out0 = f(${1}2, $kw, $$0)"]
    assert shift(lines, 2) == ("$2, $k0 = jax.random.split($2)", "$out0 = f(${3}2, $kw, $$0)")
    assert shift(["$9 + $10"], 1) == ("$10 + $11",)
    assert fill(shift(lines, 1)[0], ["x", "key"], named={"k0": "sub"}) == "key, sub = jax.random.split(key)"


def test_op_refuses_an_expression_over_an_undeclared_operand_and_attrs_on_a_draw_function():
    with pytest.raises(ValueError, match="reads operand 1"):
        op("bad", ("arithmetic",), Operand(("float32",)), "$0 + $1", same)
    with pytest.raises(ValueError, match="needs `out`"):
        op("bad", ("arithmetic",), Operand(("float32",)), "$0 + 1")
    with pytest.raises(ValueError, match="belong to an expression"):
        op("bad", ("arithmetic",), Operand(("float32",)), lambda ctx, x: None, same)


DRAWN = [o for o in CATALOGUE if "creation" not in o.categories]  # constants are built on request, never drawn
# Block tables whose statements name every value they read by its placeholder, never by its name.
PLACEHOLDERS_ONLY = [o for module in (autodiff, control_flow, indexing, nn, parallel, random, vmap) for o in module.OPS]


def _drawn_nodes(decl, count=3):
    nodes = []
    for seed in range(40):  # some ops rarely apply (a trace needs a square matrix): the first seeds that draw it
        nodes += [n for n in single_op_program(decl, seed).nodes if n.op is decl]
        if len(nodes) >= count:
            break
    return nodes


@pytest.mark.parametrize("decl", DRAWN, ids=lambda o: o.name)
def test_every_entry_renders_with_every_placeholder_filled(decl):
    nodes = _drawn_nodes(decl)
    assert nodes, decl.name
    for node in nodes:
        assert not any(FORMAT_FIELD.search(line) for line in node.attrs["lines"]), (decl.name, node.attrs["lines"])
        rendered = node.render()
        assert rendered and not any("$" in line for line in rendered), (decl.name, rendered)


@pytest.mark.parametrize("decl", PLACEHOLDERS_ONLY, ids=lambda o: o.name)
def test_block_code_reads_its_inputs_through_placeholders(decl):
    nodes = _drawn_nodes(decl, 6)
    assert nodes, decl.name
    for node in nodes:
        for value in node.inputs:
            written = re.compile(rf"(?<![\w.'\"$]){re.escape(value.name)}(?![\w'\"])")
            assert not any(written.search(line) for line in node.attrs["lines"]), (decl.name, value.name, node.attrs["lines"])
