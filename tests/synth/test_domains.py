"""Input domains: the text a row records parses back, and what is drawn from a domain lies in it."""

from __future__ import annotations

import numpy as np
import pytest

from builder.synth.domains import Domain, DomainError, default_domain
from builder.synth.specs import TensorSpec

CASES = [
    ("real", "float32"), ("real[-1,1]", "float32"), ("real[0,0.5]", "bfloat16"), ("positive", "float16"),
    ("nonzero", "float32"), ("positive", "int32"), ("nonzero", "int8"), ("int[0,9]", "int32"), ("index[50000]", "int32"),
    ("bool", "bool"), ("complex", "complex64"), ("bits", "uint32"), ("prng_key", "uint32"),
]  # fmt: skip


@pytest.mark.parametrize(("text", "dtype"), CASES)
def test_a_domain_round_trips_and_its_samples_lie_in_it(text, dtype):
    domain = Domain.parse(text)
    assert str(domain) == text
    values = domain.sample(TensorSpec((64, 8), dtype), np.random.default_rng(0))
    assert values.shape == (64, 8) and str(values.dtype) == dtype
    assert domain.contains(values)


def test_bounds_are_kept_and_draws_are_seeded():
    index = Domain.parse("index[3]").sample(TensorSpec((1000,), "int32"), np.random.default_rng(1))
    assert set(np.unique(index)) == {0, 1, 2}
    again = Domain.parse("index[3]").sample(TensorSpec((1000,), "int32"), np.random.default_rng(1))
    assert np.array_equal(index, again)
    assert not Domain.parse("positive").contains(np.array([1.0, 0.0]))
    assert not Domain.parse("real[-1,1]").contains(np.array([1.5]))


@pytest.mark.parametrize(
    ("text", "message"),
    [("reals", "unknown domain"), ("index[0]", "axis size"), ("real[2,1]", "lo <= hi"), ("int", "needs bounds"), ("bool[1,2]", "no bounds")],
)
def test_a_bad_domain_text_names_the_problem(text, message):
    with pytest.raises(DomainError, match=message):
        Domain.parse(text)


def test_default_domains_follow_the_dtype():
    assert [str(default_domain(TensorSpec((2,), d))) for d in ("float32", "complex64", "bool", "uint32", "int8", "uint8")] == [
        "real", "complex", "bool", "bits", "int[-8,8]", "int[0,8]",
    ]  # fmt: skip


def test_an_arguments_name_says_its_domain():
    from builder.synth.domains import argument_domain
    from builder.synth.specs import python_scalar

    assert str(argument_domain(python_scalar("float32"), "dropout_rate")) == "real[0,0.5]"
    assert str(argument_domain(python_scalar("float32"), "lr")) == "positive"
    assert str(argument_domain(TensorSpec((), "int32"), "step")) == "int[1,100]"
    assert str(argument_domain(TensorSpec((2,), "uint32"), "key")) == "prng_key"
    assert argument_domain(TensorSpec((4, 4), "float32"), "x") is None  # data: the default domain


@pytest.mark.parametrize("category", ["elementwise", "arithmetic", "composite", "control_flow"])
def test_operands_with_a_domain_read_values_known_to_lie_in_it(category):
    """No guard: `jnp.log(x)` reads a value known positive (an `exp`, a `softplus`, a positive
    argument), and `a / b` divides by one; an argument read there records the domain."""
    from builder.synth.generator import generate

    checked = 0
    for seed in range(150):
        program = generate(category, seed)
        made = {v: n for n in program.nodes for v in n.outputs}
        for node in program.nodes:
            for operand, value in zip(node.op.operands, node.inputs, strict=False):
                if not operand.domain:
                    continue
                checked += 1
                if value in made:
                    producer = made[value].op
                    assert producer.yields in ("positive", operand.domain) or producer.name == "constant", (seed, node.render())
                else:
                    assert value.domain is not None and value.domain.kind == "positive", (seed, value)
    assert checked > 20, checked
