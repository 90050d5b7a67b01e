"""Checks every op-category test shares: drawn programs lower, and every statement's declared
spec is what JAX infers (not only the returned ones); and the tests every category module
declares (its ops lower, reach their StableHLO ops, and are all its category draws)."""

from __future__ import annotations

import dataclasses
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from typing import Any
from unittest import mock

import pytest

from builder.lowering.extractor import Extracted, extract
from builder.synth import generator
from builder.synth.generator import SizeLimits, generate
from builder.synth.ops import catalogue_for
from builder.synth.ops.base import OpDecl
from builder.synth.program import Program

SMALL = SizeLimits(1, 3, 5)


def returning_everything(program: Program) -> Program:
    """The same program, returning every value its statements bind, so JAX reports every spec
    (drawn with `no_rebinding`, so every value keeps a name of its own)."""
    values = tuple(v for node in program.nodes for v in node.outputs)
    return dataclasses.replace(program, returns=values)


def lower(program: Program) -> Extracted:
    return extract(program.render(), program.entry_point, [v.spec for v in program.leaves], program.args_tree(), program.differentiable)


DEFAULT_LIMITS = SizeLimits()


def no_rebinding() -> Any:
    """Draw with every statement binding a new name (`x = jnp.tanh(x)` hides the first `x` from a return)."""
    return mock.patch.object(generator, "REBIND_SHARE", 0.0)


def check_seeds(category: str, seeds: range, limits: SizeLimits = DEFAULT_LIMITS) -> Counter[str]:
    """Draw, lower (with the gradient where declared differentiable) and compare every
    statement's spec for each seed; return how often each op of `category` was drawn."""
    own = {o.name for o in catalogue_for(category)}
    drawn: Counter[str] = Counter()
    for seed in seeds:
        with no_rebinding():
            program = returning_everything(generate(category, seed, limits))
        try:
            ir = lower(program)
        except Exception as err:  # the seed is what a regression test needs
            raise AssertionError(f"{category} seed {seed} failed to lower:\n{program.render()}") from err
        declared = [v.spec for node in program.nodes for v in node.outputs]
        if ir.outputs != declared:
            raise AssertionError(f"{category} seed {seed}: declared specs differ from JAX's: {_mismatches(program, ir)}\n{program.render()}")
        drawn.update(n.op.name for n in program.nodes if n.op.name in own)
    return drawn


def _mismatches(program: Program, ir: Extracted) -> list[tuple[str, str, str, str]]:
    values = [(n.op.name, v) for n in program.nodes for v in n.outputs]
    return [(name, v.name, str(v.spec), str(got)) for (name, v), got in zip(values, ir.outputs, strict=True) if v.spec != got]


def single_op_program(op: OpDecl, seed: int, limits: SizeLimits = SMALL) -> Program:
    """A program whose category draws only `op` (glue ops still fill the rest), so every
    declaration is exercised however rarely its category draws it."""
    with mock.patch.object(generator, "catalogue_for", lambda category: (op,)), no_rebinding():
        return generate(f"only {op.name}", seed, limits)


def check_op(op: OpDecl, seeds: range) -> None:
    """Each seed's single-op program lowers and every statement's spec is what JAX infers."""
    for seed in seeds:
        program = returning_everything(single_op_program(op, seed))
        assert any(n.op is op for n in program.nodes), (op.name, seed)
        try:
            ir = lower(program)
        except Exception as err:
            raise AssertionError(f"op {op.name} seed {seed} failed to lower:\n{program.render()}") from err
        declared = [v.spec for node in program.nodes for v in node.outputs]
        assert ir.outputs == declared, (op.name, seed, _mismatches(program, ir), program.render())


# --- the tests every category module declares, written once -----------------------------------
def op_named(ops: Sequence[OpDecl], name: str) -> OpDecl:
    return next(o for o in ops if o.name == name)


def lowers_with_declared_specs(ops: Sequence[OpDecl]) -> Callable[[OpDecl], None]:
    """A test: each op's single-op program lowers, with the spec it declares for every statement."""

    @pytest.mark.parametrize("op", ops, ids=lambda o: o.name)
    def test(op: OpDecl) -> None:
        check_op(op, range(1))

    return test


def reaches(ops: Sequence[OpDecl], expected: Mapping[str, str | tuple[str, ...]], seeds: range = range(1)) -> Callable[[str, Any], None]:
    """A test: each named op's single-op program, lowered at one of `seeds`, has its StableHLO op
    (or, given several, at least one of them)."""

    @pytest.mark.parametrize(("name", "hlo_ops"), sorted(expected.items()))
    def test(name: str, hlo_ops: str | tuple[str, ...]) -> None:
        op = op_named(ops, name)
        wanted = {hlo_ops} if isinstance(hlo_ops, str) else set(hlo_ops)
        assert any(wanted & set(lower(single_op_program(op, seed)).ops) for seed in seeds), name

    return test


def draws_only(category: str, ops: Sequence[OpDecl]) -> Callable[[], None]:
    """A test: `category` draws exactly the ops its module declares."""

    def test() -> None:
        assert {o.name for o in catalogue_for(category)} == {o.name for o in ops}

    return test
