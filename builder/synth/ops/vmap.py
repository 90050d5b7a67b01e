"""Vectorization with `jax.vmap`: per-example functions mapped over a batch axis, `in_axes` /
`out_axes` that broadcast shared weights or map other axes, nested vmaps (pairwise
functions), per-example gradients and Jacobians, per-example PRNG keys, model ensembles
over stacked weights, and collectives over a named vmap axis.

The per-example function is a nested `def` (or a lambda) written for ONE example; its body
is either a drawn region or one of the shapes such functions take in real code.
"""

from __future__ import annotations

from collections.abc import Sequence

from ..program import Value
from ..specs import FLOAT, MAX_ELEMENTS, TensorSpec
from .base import BLOCK, Draw, Operand, Statement, op, shift
from .random import draw_keys

CAT = ("vmap",)
BATCHED = Operand(FLOAT, 1, 4)
MATRIX = Operand(FLOAT, 2, 2)  # a batch of feature vectors
F32_MATRIX = Operand(("float32",), 2, 2)
WIDTHS = (4, 8, 16, 32)


def _piece(inputs: Sequence[Value | None], lines: Sequence[str], specs: Sequence[TensorSpec], hints: Sequence[str],
           names: Sequence[str] = ()) -> Statement:
    return Statement(tuple(v for v in inputs if v is not None), tuple(lines), tuple(specs), tuple(hints), tuple(names))


def _example_fn(ctx: Draw, example: TensorSpec, hint: str = "per_example") -> tuple[str, list[str]]:
    """A function of one example drawn as a region: `def name(x): ...; return ...` (same spec)."""
    region = ctx.body([example], hint="ex", differentiable=True)
    name = ctx.fresh(hint)
    param = region.params[0].name
    body = list(region.lines) or [f"{ctx.fresh('h')} = jnp.tanh({param})"]
    result = region.result.name if region.lines else body[0].split(" = ")[0]
    if ctx.rng.random() < 0.4 and example.rank >= 1:  # per-example normalization, the classic vmap body
        norm = ctx.fresh("centered")
        body.append(f"{norm} = ({result} - jnp.mean({result})) / (jnp.std({result}) + 1e-6)")
        result = norm
    return name, [f"def {name}({param}):", *("    " + line for line in body), f"    return {result}"]


def _map_region(ctx: Draw, xs: Value) -> Statement | None:
    """`jax.vmap(f)(xs)`, `in_axes` / `out_axes` on another axis, or a doubly nested vmap."""
    rng = ctx.rng
    spec = xs.spec
    roll = rng.random()
    if roll < 0.2 and spec.rank >= 2:  # nested: map over two leading axes
        fn, lines = _example_fn(ctx, spec.with_shape(spec.shape[2:]))
        return _piece((xs,), [*lines, f"$out0 = jax.vmap(jax.vmap({fn}))($0)"], [spec], ["mapped"])
    if roll < 0.45 and spec.rank >= 2:  # map over another axis, put it back (or not)
        axis = rng.randrange(1, spec.rank)
        example = spec.with_shape(tuple(d for i, d in enumerate(spec.shape) if i != axis))
        fn, lines = _example_fn(ctx, example)
        out_axis = rng.choice([0, axis])
        rest = list(example.shape)
        out_shape = (*rest[:out_axis], spec.shape[axis], *rest[out_axis:])
        out_kw = f", out_axes={out_axis}" if out_axis else ""
        return _piece((xs,), [*lines, f"$out0 = jax.vmap({fn}, in_axes={axis}{out_kw})($0)"], [spec.with_shape(out_shape)], ["mapped"])
    fn, lines = _example_fn(ctx, spec.with_shape(spec.shape[1:]))
    return _piece((xs,), [*lines, f"$out0 = jax.vmap({fn})($0)"], [spec], ["mapped"])


def _shared_weights(ctx: Draw, xs: Value) -> Statement | None:
    """`jax.vmap(layer, in_axes=(0, None))(xs, w)`: a per-example layer with weights broadcast."""
    rng = ctx.rng
    batch, d = xs.spec.shape
    h = rng.choice(WIDTHS)
    if batch * h > MAX_ELEMENTS or d * h > MAX_ELEMENTS:
        return None
    w = ctx.need(xs.spec.with_shape((h, d)))
    fn, x, wn = ctx.fresh("layer"), ctx.fresh("x"), ctx.fresh("w")
    act = rng.choice(("jnp.tanh", "jax.nn.relu", "jax.nn.gelu"))
    form = rng.random()
    if form < 0.5:
        lines = [f"def {fn}({x}, {wn}):", f"    return {act}({wn} @ {x})", f"$out0 = jax.vmap({fn}, in_axes=(0, None))($0, $1)"]
    else:
        lines = [f"$out0 = jax.vmap(lambda {x}: {act}(jnp.dot($1, {x})))($0)"]
    return _piece((xs, w), lines, [xs.spec.with_shape((batch, h))], ["h"])


def _per_example_loss(ctx: Draw, xs: Value) -> Statement | None:
    """Per-example losses, and per-example gradients with `jax.vmap(jax.grad(loss), in_axes=(None, 0, 0))`."""
    rng = ctx.rng
    batch, d = xs.spec.shape
    w = ctx.need(TensorSpec((d,), "float32"))
    ys = ctx.argument(TensorSpec((batch,), "float32"), rng.choice(("ys", "targets", "labels"))) or ctx.need(TensorSpec((batch,), "float32"))
    loss, wn, x, y = ctx.fresh("loss_fn"), ctx.fresh("w"), ctx.fresh("x"), ctx.fresh("y")
    pred = rng.choice([f"jnp.dot({x}, {wn})", f"jnp.tanh({x} @ {wn})", f"jax.nn.sigmoid(jnp.vdot({wn}, {x}))"])
    lines = [f"def {loss}({wn}, {x}, {y}):", f"    return ({pred} - {y}) ** 2"]
    form = rng.random()
    if form < 0.5:
        lines.append(f"$out0 = jax.vmap(jax.grad({loss}), in_axes=(None, 0, 0))($1, $0, $2)")
        specs, hints = [TensorSpec((batch, d), "float32")], ["per_example_grads"]
    elif form < 0.75:
        lines.append(f"$out0 = jax.vmap({loss}, in_axes=(None, 0, 0))($1, $0, $2)")
        specs, hints = [TensorSpec((batch,), "float32")], ["losses"]
    else:  # clipped per-example gradients, averaged: the DP-SGD step
        norms = ctx.fresh("norms")
        lines += [
            f"$out0 = jax.vmap(jax.grad({loss}), in_axes=(None, 0, 0))($1, $0, $2)",
            f"{norms} = jnp.linalg.norm($out0, axis=1, keepdims=True)",
            f"$out1 = jnp.mean($out0 / jnp.maximum(1.0, {norms} / {rng.choice(('1.0', '0.5'))}), axis=0)",
        ]
        specs, hints = [TensorSpec((batch, d), "float32"), TensorSpec((d,), "float32")], ["per_example_grads", "clipped_grad"]
    return _piece((xs, w, ys), lines, specs, hints)


def _pairwise(ctx: Draw, xs: Value) -> Statement | None:
    """Nested vmap over two sets: a kernel or distance matrix."""
    rng = ctx.rng
    n, d = xs.spec.shape
    m = rng.choice((n, 4, 8, 16))
    if n * m > MAX_ELEMENTS:
        return None
    ys = ctx.need(xs.spec.with_shape((m, d))) if m != n or rng.random() < 0.5 else xs
    a, b = ctx.fresh("a"), ctx.fresh("b")
    kernel = rng.choice([f"jnp.sum(({a} - {b}) ** 2)", f"jnp.exp(-jnp.sum(({a} - {b}) ** 2) / 2.0)", f"jnp.dot({a}, {b})",
                         f"jnp.sum(jnp.abs({a} - {b}))"])
    fn = ctx.fresh("kernel")
    lines = [f"def {fn}({a}, {b}):", f"    return {kernel}",
             f"$out0 = jax.vmap(lambda {a}: jax.vmap(lambda {b}: {fn}({a}, {b}))($1))($0)"]
    return _piece((xs, ys), lines, [xs.spec.with_shape((n, m))], ["pairwise"])


def _batched_primitive(ctx: Draw, xs: Value) -> Statement | None:
    """A library function written for single examples, mapped: outer products, dots, diagonals, slices."""
    rng = ctx.rng
    batch, d = xs.spec.shape
    form = rng.random()
    if form < 0.3 and batch * d * d <= MAX_ELEMENTS:
        other = ctx.need(xs.spec)
        return _piece((xs, other), ["$out0 = jax.vmap(jnp.outer)($0, $1)"], [xs.spec.with_shape((batch, d, d))], ["outer"])
    if form < 0.5:
        other = ctx.need(xs.spec)
        return _piece((xs, other), ["$out0 = jax.vmap(jnp.dot)($0, $1)"], [xs.spec.with_shape((batch,))], ["dots"])
    if form < 0.65 and batch * d * d <= MAX_ELEMENTS:
        return _piece((xs,), ["$out0 = jax.vmap(jnp.diag)($0)"], [xs.spec.with_shape((batch, d, d))], ["diag"])
    if d >= 2:  # a per-example window at a per-example offset: a gather once batched
        k = rng.randint(1, d - 1)
        starts = ctx.argument(TensorSpec((batch,), "int32"), rng.choice(("starts", "offsets"))) or ctx.need(TensorSpec((batch,), "int32"))
        row, i = ctx.fresh("row"), ctx.fresh("i")
        line = f"$out0 = jax.vmap(lambda {row}, {i}: lax.dynamic_slice({row}, ({i},), ({k},)))($0, $1)"
        return _piece((xs, starts), [line], [xs.spec.with_shape((batch, k))], ["windows"])
    return None


def _per_example_keys(ctx: Draw, xs: Value) -> Statement | None:
    """One PRNG key per example: `jax.random.split(key, n)` mapped with the data."""
    rng = ctx.rng
    batch = xs.spec.shape[0]
    use = draw_keys(ctx, threefry=True)
    if use is None:
        return None
    keys, k, x = ctx.fresh("keys"), ctx.fresh("k"), ctx.fresh("x")
    samples = [f"{x} + 0.1 * jax.random.normal({k}, {x}.shape, {x}.dtype)", f"jnp.where(jax.random.bernoulli({k}, 0.9, {x}.shape), {x}, 0)"]
    if xs.spec.rank >= 2:  # shuffle each example's rows
        samples.append(f"jax.random.permutation({k}, {x})")
    sample = rng.choice(samples)
    lines = [*shift(use.lines, 1), f"{keys} = jax.random.split({use.subkeys[0]}, {batch})",
             f"$out0 = jax.vmap(lambda {k}, {x}: {sample})({keys}, $0)"]
    made = tuple(n for n, _ in use.made)
    return _piece((xs, *use.inputs), lines, [xs.spec, *(s for _, s in use.made)], (), (ctx.fresh("augmented"), *made))


def _ensemble(ctx: Draw, x: Value) -> Statement | None:
    """A model ensemble: weights stacked on a leading axis, vmapped with the input broadcast."""
    rng = ctx.rng
    batch, d = x.spec.shape
    members, h = rng.choice((2, 3, 4, 5)), rng.choice((4, 8, 16))
    if members * d * h > MAX_ELEMENTS or members * batch * h > MAX_ELEMENTS:
        return None
    got = ctx.weights("ensemble", {"w": TensorSpec((members, d, h), "float32"), "b": TensorSpec((members, h), "float32")})
    if got is None:
        return None
    p, tree = got
    fn, pn, xn = ctx.fresh("member"), ctx.fresh("p"), ctx.fresh("x")
    lines = [f"def {fn}({pn}, {xn}):", f"    return jax.nn.relu({xn} @ {pn}['w'] + {pn}['b'])",
             f"$out0 = jax.vmap({fn}, in_axes=(0, None))({p}, $0)"]
    specs, hints = [TensorSpec((members, batch, h), "float32")], ["member_outputs"]
    if rng.random() < 0.5:
        lines.append("$out1 = jnp.mean($out0, axis=0)")
        specs.append(TensorSpec((batch, h), "float32"))
        hints.append("ensemble_mean")
    return _piece((x, *tree.values()), lines, specs, hints)


def _named_axis(ctx: Draw, xs: Value) -> Statement | None:
    """Collectives over a named vmap axis: batch statistics inside a per-example function."""
    rng = ctx.rng
    x = ctx.fresh("x")
    axis = rng.choice(("batch", "i", "examples"))
    form = rng.choice([f"{x} - lax.pmean({x}, '{axis}')", f"{x} / lax.psum(jnp.abs({x}), '{axis}')",
                       f"{x} - lax.pmax(lax.stop_gradient({x}), '{axis}')",  # pmax has no JVP rule
                       f"({x} - lax.pmean({x}, '{axis}')) * lax.rsqrt(lax.pmean(jnp.square({x}), '{axis}') + 1e-5)"])
    return _piece((xs,), [f"$out0 = jax.vmap(lambda {x}: {form}, axis_name={axis!r})($0)"], [xs.spec], ["normalized"])


def _per_example_jacobian(ctx: Draw) -> Statement | None:
    xs = ctx.pick(MATRIX)
    if xs is None or xs.spec.shape[0] * xs.spec.shape[1] ** 2 > MAX_ELEMENTS or xs.spec.shape[1] > 16:
        spec = TensorSpec((ctx.rng.choice((4, 8, 16)), ctx.rng.choice((2, 3, 4, 8))), "float32")
        xs = ctx.argument(spec, "xs")  # a Jacobian per example is d x d: keep d small
        if xs is None:
            return None
    batch, d = xs.spec.shape
    fn, lines = _example_fn(ctx, xs.spec.with_shape((d,)), hint="f")
    kind = ctx.rng.choice(("jax.jacrev", "jax.jacfwd"))
    return _piece((xs,), [*lines, f"$out0 = jax.vmap({kind}({fn}))($0)"], [xs.spec.with_shape((batch, d, d))], ["jacobians"])


def _per_example_loop(ctx: Draw, xs: Value) -> Statement | None:
    """A data-dependent loop per example (Newton's method to a tolerance), vmapped: the loop
    runs until every example has converged."""
    fn, a, state, v, i = (ctx.fresh(n) for n in ("newton_sqrt", "a", "state", "v", "i"))
    tol = ctx.rng.choice(("1e-3", "1e-5"))
    lines = [
        f"def {fn}({a}):",
        f"    def cond({state}):",
        f"        {v}, {i} = {state}",
        f"        return (jnp.abs({v} * {v} - {a}) > {tol}) & ({i} < 20)",
        f"    def body({state}):",
        f"        {v}, {i} = {state}",
        f"        return 0.5 * ({v} + {a} / {v}), {i} + 1",
        f"    return lax.while_loop(cond, body, ({a}, 0))[0]",
    ]
    call = f"jax.vmap({fn})(jnp.abs($0) + 1.0)" if xs.spec.rank == 1 else f"jax.vmap(jax.vmap({fn}))(jnp.abs($0) + 1.0)"
    return _piece((xs,), [*lines, f"$out0 = {call}"], [xs.spec], ["roots"])


OPS = (
    op("jax.vmap", CAT, BATCHED, _map_region, weight=2.0, tags=BLOCK),
    op("vmap.shared_weights", CAT, MATRIX, _shared_weights, weight=1.2, tags=BLOCK),
    op("vmap.per_example_loss", CAT, F32_MATRIX, _per_example_loss, weight=1.2, tags=BLOCK),
    op("vmap.pairwise", CAT, MATRIX, _pairwise, weight=0.8, tags=BLOCK),
    op("vmap.batched_primitive", CAT, MATRIX, _batched_primitive, tags=BLOCK),
    op("vmap.per_example_keys", CAT, BATCHED, _per_example_keys, weight=0.6, tags=BLOCK),
    op("vmap.ensemble", CAT, F32_MATRIX, _ensemble, weight=0.6, tags=BLOCK),
    op("vmap.named_axis", CAT, Operand(FLOAT, 1, 3), _named_axis, weight=0.6, tags=BLOCK),
    op("vmap.per_example_jacobian", CAT, (), _per_example_jacobian, weight=0.5, tags=BLOCK),
    op("vmap.per_example_loop", CAT, Operand(("float32",), 1, 2), _per_example_loop, weight=0.4, differentiable=False, tags=BLOCK),
)
