"""Canonical IR, structure and portability: equal for renamed copies, different where the program differs."""

from __future__ import annotations

import jax
import jax.numpy as jnp

from builder.lowering.irhash import canonical, canonical_hash, portability, structure_hash

X = jax.ShapeDtypeStruct((3, 4), jnp.float32)


def lower(fn, *args) -> str:
    return jax.jit(fn).lower(*args).as_text()


def helper(v):
    return jnp.tanh(v) * 2.0


def other_name(v):
    return jnp.tanh(v) * 2.0


def test_renamed_copies_share_the_canonical_hash():
    def f(x, y):
        return {"a": jax.jit(helper)(x) + y}

    def forward(u, w):
        return {"zz": jax.jit(other_name)(u) + w}

    a, b = lower(f, X, X), lower(forward, X, X)
    assert a != b  # module name, private function name and result label differ
    assert canonical(a) == canonical(b)
    assert canonical_hash(a) == canonical_hash(b)
    assert "@jit_f" not in canonical(a) and "result['a']" not in canonical(a)


def test_a_constant_changes_the_content_hash_but_not_the_structure():
    a = lower(lambda x: x * 2.0 + 1.0, X)
    b = lower(lambda x: x * 3.0 + 1.0, X)
    assert canonical_hash(a) != canonical_hash(b)
    assert structure_hash(a) == structure_hash(b)


def test_an_op_or_a_shape_changes_the_structure():
    base = structure_hash(lower(lambda x: jnp.sin(x) + 1.0, X))
    assert structure_hash(lower(lambda x: jnp.cos(x) + 1.0, X)) != base
    assert structure_hash(lower(lambda x: jnp.sin(x) + 1.0, jax.ShapeDtypeStruct((4, 4), jnp.float32))) != base


def test_ssa_names_are_renumbered_per_function():
    text = lower(lambda x: jax.jit(helper)(jnp.exp(x)), X)
    for line in canonical(text).splitlines():
        assert "%cst" not in line and "%arg" not in line


def test_lapack_custom_calls_are_platform_specific():
    spd = jax.ShapeDtypeStruct((4, 4), jnp.float32)
    lapack = portability(lower(lambda a: jnp.linalg.cholesky(a @ a.T), spd))
    assert not lapack.portable
    assert any(t.startswith("lapack_") for t in lapack.custom_calls)
    assert "custom_call:" + lapack.custom_calls[0] in lapack.pieces
    assert portability(lower(lambda x: jnp.sin(x) @ x.T, X)).portable
