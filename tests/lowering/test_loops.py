"""`loop_trip_counts` reads each `stablehlo.while` of a lowered module: how often its body runs, in walk order."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import pytest
from jax import lax

from builder.lowering.loops import loop_trip_counts

X = jnp.ones(3, jnp.float32)


def trips(fn, *args) -> list[int]:
    return loop_trip_counts(jax.jit(fn).lower(*args).as_text())


def _steps(length: int, unroll: int = 1):
    return lambda v: lax.scan(lambda c, _: (jnp.sin(c), None), v, None, length=length, unroll=unroll)[0]


def test_a_counted_loop_gives_its_trip_count():
    assert trips(lambda v: lax.fori_loop(0, 7, lambda i, c: c * 2, v), X) == [7]
    assert trips(lambda v: lax.fori_loop(2, 7, lambda i, c: c * 2, v), X) == [5]
    assert trips(_steps(6), X) == [6]
    assert trips(lambda xs: lax.map(jnp.sin, xs), jnp.ones((4, 3))) == [4]


@pytest.mark.parametrize(("length", "runs"), [(6, [3]), (5, [2]), (4, [2]), (2, []), (1, [])])
def test_an_unrolled_scan_lists_how_often_its_while_runs(length, runs):
    """`unroll=2` runs the while floor(n / 2) times and writes the odd step out after it; no longer than its unroll, no loop is left."""
    assert trips(_steps(length, unroll=2), X) == runs


def test_a_data_dependent_loop_gives_minus_one():
    assert trips(lambda v: lax.while_loop(lambda s: jnp.max(s) > 0.1, lambda s: s / 2, v), X) == [-1]
    assert trips(lambda v, n: lax.fori_loop(0, n, lambda i, c: c * 2, v), X, jnp.int32(3)) == [-1]


def test_nested_loops_are_listed_outer_first_and_a_shared_body_once():
    """JAX outlines a loop body into a private function after @main, so the outer loop comes first;
    a `jit`-ed helper called twice is one function, so its loop is one op and one entry."""
    assert trips(lambda v: lax.fori_loop(0, 3, lambda i, c: _steps(5)(c), v), X) == [3, 5]
    helper = jax.jit(lambda c: lax.fori_loop(0, 4, lambda i, d: jnp.sin(d), c))
    assert trips(lambda v: helper(helper(v)), X) == [4]
    assert trips(lambda v: lax.fori_loop(0, 2, lambda i, c: c + 1, v) + lax.fori_loop(0, 9, lambda i, c: c * 2, v), X) == [2, 9]


def test_the_threefry_rounds_are_left_out_and_library_loops_kept():
    assert trips(lambda k: jax.random.normal(k, (3,)), jax.random.key(0)) == []
    assert trips(lambda k: jax.random.gamma(k, 2.0, (3,)), jax.random.key(0)) == [-1, -1]  # rejection sampling until accepted
