"""validate's inputs come from the domains rows record (`args[i].domain`), not from guesses at the IR."""

from __future__ import annotations

from collections import Counter

import pytest

from builder.pipeline.rows import arg_entries
from builder.synth.domains import Domain
from builder.synth.generator import generate
from builder.synth.ops import CATEGORIES
from builder.validation.runners import make_inputs


def test_inputs_lie_in_each_leafs_recorded_domain():
    kinds: Counter[str] = Counter()
    for category in CATEGORIES:
        for seed in range(25):
            args = arg_entries(generate(category, seed))
            inputs = make_inputs(args, seed, "")
            for entry, values in zip(args, inputs, strict=True):
                domain = Domain.parse(entry["domain"])
                assert values.shape == tuple(entry["shape"]) and str(values.dtype) == entry["dtype"], (category, seed, entry)
                assert domain.contains(values), (category, seed, entry, values)
                kinds[str(domain) if domain.kind in ("int", "index") else domain.kind] += 1
    # the programs record more than the defaults: positive operands, index bounds, step counts, keys
    assert kinds["positive"] and kinds["prng_key"] and kinds["int[1,100]"], kinds
    assert any(k.startswith("index[") for k in kinds), kinds


def test_a_positive_domain_is_what_keeps_a_log_finite():
    """`jnp.log(x)` of an argument: the argument records `positive`, and its inputs are > 0."""
    program = next(p for p in (generate("elementwise", s) for s in range(200))
                   if any(n.op.name == "jnp.log" and n.inputs[0] in p.leaves for n in p.nodes))
    logged = next(n.inputs[0] for n in program.nodes if n.op.name == "jnp.log" and n.inputs[0] in program.leaves)
    args = arg_entries(program)
    entry = args[program.leaves.index(logged)]
    assert entry["domain"] == "positive"
    values = make_inputs(args, 0, "")[program.leaves.index(logged)]
    assert (values > 0).all()


def test_a_domain_that_does_not_parse_is_named_with_its_argument():
    entry = {"name": "x", "shape": [2], "dtype": "float32", "weak_type": False, "domain": "sometimes"}
    with pytest.raises(ValueError, match=r"argument x .*unknown domain 'sometimes'"):
        make_inputs([entry], 0, "")


def test_a_row_without_domains_gets_the_defaults():
    entry = {"name": "x", "shape": [3], "dtype": "int32", "weak_type": False}
    (values,) = make_inputs([entry], 0, "")
    assert Domain.parse("int[-8,8]").contains(values)
