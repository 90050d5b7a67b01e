"""Linear algebra: `lax.dot_general` with batch and contracting dims, einsum patterns,
matmul chains, tensordot / kron / outer products, norms, and the `jnp.linalg` /
`jax.scipy.linalg` decompositions and solvers (LAPACK `custom_call`s on CPU).

A decomposition gets a well-posed matrix built in the program, as real code does: a Gram
matrix plus a multiple of the identity for Cholesky and solves, a symmetrised matrix for
`eigh`. LAPACK takes float32 and complex64; half-precision values are cast first.
"""

from __future__ import annotations

import random

from ..program import Value, tuple_literal
from ..specs import FLOAT, TensorSpec
from .base import Draw, Operand, Statement, assign, op, partner

CAT = ("linalg",)
LAPACK = ("float32", "complex64")
CONTRACTABLE = ("float32", "float32", "bfloat16", "float16", "int8", "int32", "complex64")
MATRICES = Operand((*FLOAT, "complex64"), 2, 3)
SIZES = (2, 3, 4, 5, 8, 16)


def _sized(rng: random.Random) -> int:
    return rng.choice(SIZES)


def _accumulate(dtype: str) -> tuple[str, str]:
    """The `preferred_element_type` mixed-precision code asks for, and the result dtype."""
    if dtype in ("bfloat16", "float16"):
        return ", preferred_element_type=jnp.float32", "float32"
    if dtype == "int8":
        return ", preferred_element_type=jnp.int32", "int32"
    return "", dtype


# --- contractions -------------------------------------------------------------------------
def _dot_general(ctx: Draw, x: Value) -> Statement | None:
    """`lax.dot_general` with leading batch dims and one or two contracting dims."""
    rng, shape = ctx.rng, x.spec.shape
    nb = rng.randint(0, len(shape) - 2) if len(shape) > 2 else 0
    free_or_contract = list(range(nb, len(shape)))
    contract = sorted(rng.sample(free_or_contract, rng.choice([1, 1, 2]) if len(free_or_contract) > 2 else 1))
    if len(contract) == len(free_or_contract):
        contract = contract[:-1] or contract
    rhs_free = [_sized(rng) for _ in range(rng.choice([1, 1, 0]))] if nb + len(contract) < 4 else []
    tail = [shape[a] for a in contract] + rhs_free
    order = list(range(len(tail)))
    rng.shuffle(order)
    rhs_shape = tuple(shape[:nb]) + tuple(tail[i] for i in order)
    rhs_contract = [nb + order.index(i) for i in range(len(contract))]
    y = ctx.need(x.spec.with_shape(rhs_shape))
    kw, dtype = _accumulate(x.spec.dtype) if rng.random() < 0.7 else ("", x.spec.dtype)
    lhs_free = [shape[a] for a in free_or_contract if a not in contract]
    rhs_free_out = [rhs_shape[nb + j] for j in range(len(tail)) if nb + j not in rhs_contract]
    out = TensorSpec((*shape[:nb], *lhs_free, *rhs_free_out), dtype)
    batch = tuple_literal(range(nb))
    dims = f"(({tuple_literal(contract)}, {tuple_literal(rhs_contract)}), ({batch}, {batch}))"
    return assign(f"lax.dot_general($0, $1, {dims}{kw})", (x, y), (out,))


EINSUMS = (
    "ij,jk->ik", "bij,bjk->bik", "bhqd,bhkd->bhqk", "bhqk,bhkd->bhqd", "i,i->", "ij,j->i", "bi,bi->b",
    "ijk,k->ij", "ij,ij->i", "i,j->ij", "bnd,de->bne", "ij,kj->ik", "bij,bkj->bik", "ij->ji", "bij->bji",
    "ijk->ikj", "ij->", "bqd,bkd->bqk", "ij,jk,kl->il", "bi,ij,bj->b",
)


def einsum_patterns(rank: int) -> list[str]:
    """The patterns whose first operand has `rank` subscripts."""
    return [p for p in EINSUMS if len(p.split("->")[0].split(",")[0]) == rank]


def _einsum(ctx: Draw, x: Value) -> Statement | None:
    patterns = einsum_patterns(x.spec.rank)
    if not patterns:
        return None
    pattern = ctx.rng.choice(patterns)
    inputs, output = pattern.split("->")
    terms = inputs.split(",")
    sizes = dict(zip(terms[0], x.spec.shape, strict=True))
    for letter in "".join(terms[1:]):
        sizes.setdefault(letter, _sized(ctx.rng))
    others = tuple(ctx.need(x.spec.with_shape(tuple(sizes[c] for c in term))) for term in terms[1:])
    args = ", ".join(f"${i}" for i in range(len(terms)))
    return assign(f"jnp.einsum('{pattern}', {args})", (x, *others), (x.spec.with_shape(tuple(sizes[c] for c in output)),))


def _matmul_chain(ctx: Draw, x: Value) -> Statement | None:
    """`a @ b @ c` or `jnp.linalg.multi_dot([...])` over matrices whose inner dims agree."""
    m, k = x.spec.shape
    dims = [k] + [_sized(ctx.rng) for _ in range(ctx.rng.choice([2, 2, 3]))]
    others = tuple(ctx.need(x.spec.with_shape((dims[i], dims[i + 1]))) for i in range(len(dims) - 1))
    names = [f"${i}" for i in range(len(others) + 1)]
    text = " @ ".join(names) if ctx.rng.random() < 0.6 else f"jnp.linalg.multi_dot([{', '.join(names)}])"
    return assign(text, (x, *others), (x.spec.with_shape((m, dims[-1])),))


def _matrix_power(ctx: Draw, x: Value) -> Statement:
    n = x.spec.shape[-1]
    name = ctx.fresh("square")
    setup = (f"{name} = $0 @ {_mT(x)}",) if x.spec.shape[-2] != n else ()
    src = name if setup else "$0"
    side = x.spec.shape[-2] if setup else n
    return assign(f"jnp.linalg.matrix_power({src}, {ctx.rng.choice([2, 3, 4])})", (x,), (x.spec.with_shape((*x.spec.shape[:-2], side, side)),), setup)


def _tensordot(ctx: Draw, x: Value) -> Statement | None:
    k = ctx.rng.randint(1, min(2, x.spec.rank))
    tail = x.spec.shape[x.spec.rank - k:]
    free = tuple(_sized(ctx.rng) for _ in range(ctx.rng.choice([0, 1, 1])))
    y = ctx.need(x.spec.with_shape(tail + free))
    return assign(f"jnp.tensordot($0, $1, axes={k})", (x, y), (x.spec.with_shape(x.spec.shape[:x.spec.rank - k] + free),))


def _outer(ctx: Draw, x: Value) -> Statement:
    if x.spec.rank == 2 and ctx.rng.random() < 0.5:
        y = ctx.need(x.spec.with_shape((ctx.rng.choice([2, 3]), ctx.rng.choice([2, 3]))))
        a, b = x.spec.shape
        c, d = y.spec.shape
        return assign("jnp.kron($0, $1)", (x, y), (x.spec.with_shape((a * c, b * d)),))
    n = x.spec.size
    y = ctx.need(x.spec.with_shape((_sized(ctx.rng),)))
    return assign("jnp.outer($0, $1)", (x, y), (x.spec.with_shape((n, y.spec.shape[0])),))


def _norm(ctx: Draw, x: Value) -> Statement:
    rank, rng = x.spec.rank, ctx.rng
    dtype = "float32" if x.spec.dtype == "complex64" else x.spec.dtype
    roll = rng.random()
    if rank >= 2 and roll < 0.35:
        ord_ = rng.choice(["'fro'", "'fro'", "1", "jnp.inf", "2", "'nuc'"] if x.spec.dtype in LAPACK else ["'fro'", "1", "jnp.inf"])
        keep = rng.random() < 0.2
        out = x.spec.shape[:-2] + ((1, 1) if keep else ())
        kw = ", keepdims=True" if keep else ""
        return assign(f"jnp.linalg.norm($0, ord={ord_}, axis=(-2, -1){kw})", (x,), (TensorSpec(out, dtype),))
    if roll < 0.7 and rank >= 1:
        ord_ = rng.choice(["", "", ", ord=1", ", ord=jnp.inf"])
        keep = rng.random() < 0.4
        out = x.spec.shape[:-1] + ((1,) if keep else ())
        return assign(f"jnp.linalg.norm($0, axis=-1{ord_}{', keepdims=True' if keep else ''})", (x,), (TensorSpec(out, dtype),))
    return assign("jnp.linalg.norm($0)", (x,), (TensorSpec((), dtype),))


# --- decompositions and solvers -----------------------------------------------------------
def _mT(x: Value, src: str = "$0") -> str:
    """The (conjugate) transpose of the last two axes, as written for this rank and dtype."""
    t = f"{src}.T" if x.spec.rank == 2 else f"jnp.swapaxes({src}, -1, -2)"
    return f"{t}.conj()" if x.spec.dtype == "complex64" else t


def _lapack(ctx: Draw, x: Value) -> tuple[Value, list[str], str]:
    """The anchor as a LAPACK dtype: float16/bfloat16 values are cast to float32 first."""
    if x.spec.dtype in LAPACK:
        return x, [], "$0"
    name = ctx.fresh("upcast")
    return Value(name, x.spec.with_dtype("float32")), [f"{name} = $0.astype(jnp.float32)"], name


def _well_posed(ctx: Draw, x: Value, kind: str) -> tuple[Value, list[str], str]:
    """A matrix (batch) built from the anchor that the decomposition accepts: Gram + n*I
    (positive definite), symmetrised, or shifted to be diagonally dominant."""
    a, setup, src = _lapack(ctx, x)
    m, n = a.spec.shape[-2:]
    square = m == n
    name = ctx.fresh({"spd": "gram", "sym": "sym", "shift": "a"}[kind])
    if kind == "spd" or not square:
        expr = f"{src} @ {_mT(a, src)} + {m} * jnp.eye({m}, dtype={src}.dtype)"
        if n > 1 and ctx.rng.random() < 0.3:
            expr = f"{src} @ {_mT(a, src)} / {n} + 1e-3 * jnp.eye({m}, dtype={src}.dtype)"
    elif kind == "sym":
        expr = f"0.5 * ({src} + {_mT(a, src)})"
    else:
        expr = f"{src} + {m} * jnp.eye({m}, dtype={src}.dtype)"
    spec = a.spec.with_shape((*a.spec.shape[:-2], m, m))
    return Value(name, spec), [*setup, f"{name} = {expr}"], name


def _cholesky(ctx: Draw, x: Value) -> Statement:
    a, setup, src = _well_posed(ctx, x, "spd")
    if ctx.rng.random() < 0.3 and a.spec.rank == 2:
        return assign(f"jax.scipy.linalg.cholesky({src}, lower=True)", (x,), (a.spec,), tuple(setup))
    return assign(f"jnp.linalg.cholesky({src})", (x,), (a.spec,), tuple(setup))


def _rhs(ctx: Draw, a: Value) -> tuple[Value, TensorSpec]:
    """A right-hand side for `a`: a vector (unbatched only) or a block of columns."""
    m = a.spec.shape[-1]
    if a.spec.rank == 2 and ctx.rng.random() < 0.4:
        spec = a.spec.with_shape((m,))
    else:
        spec = a.spec.with_shape((*a.spec.shape[:-2], m, ctx.rng.choice([1, 2, 3, 4, 8])))
    return ctx.need(spec), spec


def _solve(ctx: Draw, x: Value) -> Statement:
    a, setup, src = _well_posed(ctx, x, ctx.rng.choice(["spd", "shift"]))
    b, spec = _rhs(ctx, a)
    if a.spec.rank == 2 and ctx.rng.random() < 0.25:
        fn = ctx.rng.choice([f"jax.scipy.linalg.solve({src}, $1, assume_a='pos')", f"jax.scipy.linalg.lu_solve(jax.scipy.linalg.lu_factor({src}), $1)"])
        return assign(fn, (x, b), (spec,), tuple(setup))
    return assign(f"jnp.linalg.solve({src}, $1)", (x, b), (spec,), tuple(setup))


def _cho_solve(ctx: Draw, x: Value) -> Statement:
    a, setup, src = _well_posed(ctx, x, "spd")
    b, spec = _rhs(ctx, a)
    return assign(f"jax.scipy.linalg.cho_solve(jax.scipy.linalg.cho_factor({src}), $1)", (x, b), (spec,), tuple(setup))


def _triangular_solve(ctx: Draw, x: Value) -> Statement:
    """Solve against a triangular factor: a Cholesky factor, or the triangle of a shifted matrix."""
    kind = ctx.rng.choice(["spd", "shift"])
    a, setup, src = _well_posed(ctx, x, kind)
    lower = ctx.rng.random() < 0.7
    tri = ctx.fresh("chol" if lower else "upper")
    if kind == "spd" and lower:
        setup.append(f"{tri} = jnp.linalg.cholesky({src})")
    else:
        setup.append(f"{tri} = jnp.{'tril' if lower else 'triu'}({src})")
    b, spec = _rhs(ctx, a)
    if a.spec.rank == 2 and ctx.rng.random() < 0.6:
        trans = ctx.rng.choice(["", "", ", trans=1"])
        return assign(f"jax.scipy.linalg.solve_triangular({tri}, $1, lower={lower}{trans})", (x, b), (spec,), tuple(setup))
    if spec.rank == a.spec.rank:
        left = ctx.rng.random() < 0.7
        if not left:  # x @ tri = b, with b laid out as rows
            m = a.spec.shape[-1]
            spec = spec.with_shape((*spec.shape[:-2], spec.shape[-1], m))
            b = ctx.need(spec)
        kw = f"left_side={left}, lower={lower}" + (", transpose_a=True" if ctx.rng.random() < 0.3 else "")
        return assign(f"lax.linalg.triangular_solve({tri}, $1, {kw})", (x, b), (spec,), tuple(setup))
    return assign(f"jax.scipy.linalg.solve_triangular({tri}, $1, lower={lower})", (x, b), (spec,), tuple(setup))


def _qr(ctx: Draw, x: Value) -> Statement:
    a, setup, src = _lapack(ctx, x)
    *batch, m, n = a.spec.shape
    k = min(m, n)
    mode = ctx.rng.choice(["reduced", "reduced", "r", "complete"])
    if mode == "r":
        return assign(f"jnp.linalg.qr({src}, mode='r')", (x,), (a.spec.with_shape((*batch, k, n)),), tuple(setup))
    q_cols, r_rows = (m, m) if mode == "complete" else (k, k)
    kw = ", mode='complete'" if mode == "complete" else ""
    outs = (a.spec.with_shape((*batch, m, q_cols)), a.spec.with_shape((*batch, r_rows, n)))
    return assign(f"jnp.linalg.qr({src}{kw})", (x,), outs, tuple(setup))


def _eigh(ctx: Draw, x: Value) -> Statement:
    a, setup, src = _well_posed(ctx, x, ctx.rng.choice(["sym", "spd"]))
    w = a.spec.with_shape(a.spec.shape[:-1]).with_dtype("float32")
    if ctx.rng.random() < 0.3:
        return assign(f"jnp.linalg.eigvalsh({src})", (x,), (w,), tuple(setup))
    return assign(f"jnp.linalg.eigh({src})", (x,), (w, a.spec), tuple(setup))


def _svd(ctx: Draw, x: Value) -> Statement:
    a, setup, src = _lapack(ctx, x)
    *batch, m, n = a.spec.shape
    k = min(m, n)
    s = TensorSpec((*batch, k), "float32")
    if ctx.rng.random() < 0.35:
        return assign(f"jnp.linalg.svd({src}, compute_uv=False)", (x,), (s,), tuple(setup))
    outs = (a.spec.with_shape((*batch, m, k)), s, a.spec.with_shape((*batch, k, n)))
    return assign(f"jnp.linalg.svd({src}, full_matrices=False)", (x,), outs, tuple(setup))


def _inv(ctx: Draw, x: Value) -> Statement:
    a, setup, src = _well_posed(ctx, x, ctx.rng.choice(["spd", "shift"]))
    return assign(f"jnp.linalg.inv({src})", (x,), (a.spec,), tuple(setup))


def _pinv(ctx: Draw, x: Value) -> Statement:
    a, setup, src = _lapack(ctx, x)
    return assign(f"jnp.linalg.pinv({src})", (x,), (a.spec.with_shape((*a.spec.shape[:-2], a.spec.shape[-1], a.spec.shape[-2])),), tuple(setup))


def _lstsq(ctx: Draw, x: Value) -> Statement | None:
    a, setup, src = _lapack(ctx, x)
    if a.spec.rank != 2:
        return None
    m, n = a.spec.shape
    b_spec = a.spec.with_shape((m,) if ctx.rng.random() < 0.5 else (m, ctx.rng.choice([1, 2, 4])))
    b = ctx.need(b_spec)
    out = a.spec.with_shape((n, *b_spec.shape[1:]))
    return assign(f"jnp.linalg.lstsq({src}, $1)[0]", (x, b), (out,), tuple(setup))


def _det(ctx: Draw, x: Value) -> Statement:
    a, setup, src = _well_posed(ctx, x, ctx.rng.choice(["shift", "spd"]))
    return assign(f"jnp.linalg.det({src})", (x,), (a.spec.with_shape(a.spec.shape[:-2]),), tuple(setup))


def _slogdet(ctx: Draw, x: Value) -> Statement:
    a, setup, src = _well_posed(ctx, x, ctx.rng.choice(["shift", "spd"]))
    batch = a.spec.shape[:-2]
    sign, logdet = a.spec.with_shape(batch), TensorSpec(batch, "float32")
    return assign(f"jnp.linalg.slogdet({src})", (x,), (sign, logdet), tuple(setup))


def _eig(ctx: Draw, x: Value) -> Statement:
    a, setup, src = _well_posed(ctx, x, "shift")
    w = a.spec.with_shape(a.spec.shape[:-1]).with_dtype("complex64")
    if ctx.rng.random() < 0.5:
        return assign(f"jnp.linalg.eigvals({src})", (x,), (w,), tuple(setup))
    return assign(f"jnp.linalg.eig({src})", (x,), (w, a.spec.with_dtype("complex64")), tuple(setup))


def _expm(ctx: Draw, x: Value) -> Statement | None:
    a, setup, src = _well_posed(ctx, x, "sym")
    if a.spec.rank != 2 or a.spec.dtype != "float32":
        return None
    return assign(f"jax.scipy.linalg.expm(0.1 * {src})", (x,), (a.spec,), tuple(setup))


def _cross(ctx: Draw, x: Value) -> Statement | None:
    """Cross products of 3-vectors: the first three components when the last axis is longer."""
    spec = x.spec.with_shape((*x.spec.shape[:-1], 3))
    y = partner(ctx, x, spec)
    if y is None:
        return None
    return assign("jnp.cross($0, $1)" if x.spec.shape[-1] == 3 else "jnp.cross($0[..., :3], $1)", (x, y), (spec,))


def _trace(ctx: Draw, x: Value) -> Statement:
    return assign("jnp.trace($0, axis1=-2, axis2=-1)", (x,), (x.spec.with_shape(x.spec.shape[:-2]),))



OPS = (
    op("lax.dot_general", CAT, Operand(CONTRACTABLE, 2, 4), _dot_general, out_names=("contracted",), weight=2.0),
    op("jnp.einsum", CAT, Operand(CONTRACTABLE, 1, 4), _einsum, out_names=("h",), weight=2.0),
    op("matmul_chain", CAT, Operand(("float32", "float32", "bfloat16", "complex64"), 2, 2), _matmul_chain, out_names=("chain",)),
    op("jnp.linalg.matrix_power", CAT, MATRICES, _matrix_power, out_names=("power",), weight=0.4),
    op("jnp.tensordot", CAT, Operand(CONTRACTABLE, 1, 3), _tensordot, out_names=("h",), weight=0.6),
    op("outer_product", CAT, Operand(("float32", "float16", "complex64", "int32"), 1, 2), _outer, out_names=("outer",), weight=0.6),
    op("jnp.linalg.norm", CAT, Operand((*FLOAT, "complex64"), 1, 4), _norm, out_names=("norm",)),
    op("jnp.linalg.cholesky", CAT, MATRICES, _cholesky, out_names=("chol",)),
    op("jnp.linalg.solve", CAT, MATRICES, _solve, out_names=("sol",)),
    op("cho_solve", CAT, MATRICES, _cho_solve, out_names=("sol",), weight=0.5),
    op("triangular_solve", CAT, MATRICES, _triangular_solve, out_names=("sol",)),
    op("jnp.linalg.qr", CAT, MATRICES, _qr, out_names=("q", "r")),
    op("jnp.linalg.eigh", CAT, MATRICES, _eigh, out_names=("evals", "evecs")),
    op("jnp.linalg.svd", CAT, MATRICES, _svd, out_names=("u", "s", "vh")),
    op("jnp.linalg.inv", CAT, MATRICES, _inv, out_names=("inv",), weight=0.8),
    op("jnp.linalg.pinv", CAT, MATRICES, _pinv, out_names=("pinv",), weight=0.4),
    op("jnp.linalg.lstsq", CAT, Operand((*FLOAT, "complex64"), 2, 2), _lstsq, out_names=("coef",), weight=0.4),
    op("jnp.linalg.det", CAT, MATRICES, _det, out_names=("det",), weight=0.6),
    op("jnp.linalg.slogdet", CAT, MATRICES, _slogdet, out_names=("sign", "logdet"), weight=0.6),
    op("jnp.linalg.eig", CAT, MATRICES, _eig, out_names=("evals", "evecs"), differentiable=False, weight=0.3),
    op("jax.scipy.linalg.expm", CAT, Operand(("float32",), 2, 2), _expm, out_names=("expm",), weight=0.2),
    op("jnp.cross", CAT, Operand(("float32", "float16"), 1, 3, min_size=3), _cross, out_names=("normal",), weight=0.2),
    op("jnp.trace_axes", CAT, Operand((*FLOAT, "int32", "complex64"), 2, 4), _trace, out_names=("tr",), weight=0.3),
)
