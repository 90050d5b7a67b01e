"""Indexing and data movement: static and dynamic slices, gathers and scatters (`take`,
`take_along_axis`, `.at[]`, segment sums, `lax.gather` / `scatter_add` with batch dims), padding,
concatenation / stacking / splitting, flips, rolls, repeats, transposes, reshapes and iota masks.

Indices come from where real code gets them: integer arguments, `jnp.arange` ranges, `argsort`
/ `argmax` of the data, or a short literal list; never a large embedded constant.
"""

from __future__ import annotations

import random
from math import ceil

from ..domains import Domain
from ..program import Value, tuple_literal
from ..specs import ALL, FLOAT, INT, MAX_ELEMENTS, REAL, TensorSpec
from .base import Draw, Operand, Statement, assign, op, partner

CAT = ("indexing",)
ANY = Operand(ALL, 1, 4)
NUMERIC = (*REAL, "complex64")
INT_SCALAR = Operand(("int32",), 0, 0)
SMALL = (1, 2, 3, 4)



def _dynamic_index(ctx: Draw, x: Value, axis: int, slot: int) -> tuple[str, tuple[Value, ...]]:
    """A traced start index along `axis`: an int argument, or the position of the largest slice."""
    if ctx.rng.random() < 0.5:
        i = ctx.pick(INT_SCALAR)
        if i is not None:
            return f"${slot}", (i,)
    if x.spec.dtype in REAL:
        others = tuple(a for a in range(x.spec.rank) if a != axis)
        over = f"jnp.sum($0, axis={tuple_literal(others)})" if others else "$0"
        return f"jnp.argmax({over})", ()
    return f"{x.spec.shape[axis] // 2}", ()


def _slice_in(rng: random.Random, d: int) -> tuple[str, int]:
    """A slice of an axis of extent `d`, as text, and the extent it leaves."""
    k = rng.randint(1, d)
    forms = [(f":{k}", k), (f"-{k}:", k), ("::2", ceil(d / 2)), ("::-1", d)]
    if d > 2:
        a = rng.randint(0, d - 2)
        b = rng.randint(a + 1, d)
        forms += [(f"{a}:{b}", b - a), ("1:-1", d - 2), (f"{a}:", d - a)]
    if d > 3:
        forms.append(("1::2", d // 2))
    return rng.choice(forms)


# --- slicing ------------------------------------------------------------------------------
def _static_slice(ctx: Draw, x: Value) -> Statement | None:
    shape = x.spec.shape
    axes = sorted(ctx.rng.sample(range(len(shape)), ctx.rng.choice([1, 1, 2]) if len(shape) > 1 else 1))
    parts, out = [":"] * len(shape), list(shape)
    for a in axes:
        parts[a], out[a] = _slice_in(ctx.rng, shape[a])
    while len(parts) > 1 and parts[-1] == ":":
        parts.pop()
    if axes == [len(shape) - 1] and len(shape) >= 3 and ctx.rng.random() < 0.6:
        parts = ["...", parts[-1]]
    return assign("$0[" + ", ".join(parts) + "]", (x,), (x.spec.with_shape(tuple(out)),))


def _int_index(ctx: Draw, x: Value) -> Statement:
    shape = x.spec.shape
    axis = ctx.rng.randrange(len(shape))
    i = ctx.rng.choice([0, -1, shape[axis] // 2])
    if axis == len(shape) - 1 and axis > 0 and ctx.rng.random() < 0.5:
        text = f"$0[..., {i}]"
    else:
        text = "$0[" + ", ".join([":"] * axis + [str(i)]) + "]"
    return assign(text, (x,), (x.spec.with_shape(shape[:axis] + shape[axis + 1:]),))


def _lax_slice(ctx: Draw, x: Value) -> Statement:
    rng = ctx.rng
    starts, limits, strides, out = [], [], [], []
    for d in x.spec.shape:
        s = rng.randint(0, d - 1) if rng.random() < 0.5 else 0
        e = rng.randint(s + 1, d)
        st = rng.choice([1, 1, 2])
        starts.append(s), limits.append(e), strides.append(st), out.append(ceil((e - s) / st))
    stride = f", {tuple_literal(strides)}" if any(st > 1 for st in strides) else ""
    return assign(f"lax.slice($0, {tuple_literal(starts)}, {tuple_literal(limits)}{stride})", (x,), (x.spec.with_shape(tuple(out)),))


def _slice_in_dim(ctx: Draw, x: Value) -> Statement:
    axis = ctx.rng.randrange(x.spec.rank)
    d = x.spec.shape[axis]
    start = ctx.rng.randint(0, d - 1)
    limit = ctx.rng.randint(start + 1, d)
    shape = list(x.spec.shape)
    shape[axis] = limit - start
    return assign(f"lax.slice_in_dim($0, {start}, {limit}, axis={axis})", (x,), (x.spec.with_shape(tuple(shape)),))


def _dynamic_slice(ctx: Draw, x: Value) -> Statement:
    shape = x.spec.shape
    axis = ctx.rng.randrange(len(shape))
    start, extra = _dynamic_index(ctx, x, axis, 1)
    sizes = [ctx.rng.randint(1, d) if a == axis else d for a, d in enumerate(shape)]
    starts = ["0"] * len(shape)
    starts[axis] = start
    if ctx.rng.random() < 0.5:
        text = f"lax.dynamic_slice_in_dim($0, {start}, {sizes[axis]}, axis={axis})"
    else:
        text = f"lax.dynamic_slice($0, {tuple_literal(starts)}, {tuple_literal(sizes)})"
    return assign(text, (x, *extra), (x.spec.with_shape(tuple(sizes)),))


def _dynamic_index_op(ctx: Draw, x: Value) -> Statement:
    shape = x.spec.shape
    axis = 0 if ctx.rng.random() < 0.6 else ctx.rng.randrange(len(shape))
    start, extra = _dynamic_index(ctx, x, axis, 1)
    out = x.spec.with_shape(shape[:axis] + shape[axis + 1:])
    if axis == 0 and ctx.rng.random() < 0.6:
        return assign(f"$0[{start}]", (x, *extra), (out,))
    return assign(f"lax.dynamic_index_in_dim($0, {start}, axis={axis}, keepdims=False)", (x, *extra), (out,))


def _dynamic_update(ctx: Draw, x: Value) -> Statement:
    shape = x.spec.shape
    axis = ctx.rng.randrange(len(shape))
    update = x.spec.with_shape(tuple(ctx.rng.randint(1, d) if a == axis else d for a, d in enumerate(shape)))
    u = ctx.need(update)
    start, extra = _dynamic_index(ctx, x, axis, 2)
    if ctx.rng.random() < 0.5:
        text = f"lax.dynamic_update_slice_in_dim($0, $1, {start}, axis={axis})"
    else:
        starts = ["0"] * len(shape)
        starts[axis] = start
        text = f"lax.dynamic_update_slice($0, $1, {tuple_literal(starts)})"
    return assign(text, (x, u, *extra), (x.spec,))


# --- gathers ------------------------------------------------------------------------------
def _indices(ctx: Draw, d: int, slot: int) -> tuple[str, tuple[Value, ...], tuple[int, ...]]:
    """Integer indices into an axis of extent `d`: a range, a short literal list, or an int array."""
    roll = ctx.rng.random()
    if roll < 0.3:
        step = ctx.rng.choice([1, 2, 3])
        start = ctx.rng.randint(0, min(2, d - 1))
        n = len(range(start, d, step))
        return (f"jnp.arange({start}, {d}, {step})" if step > 1 else f"jnp.arange({start}, {d})"), (), (n,)
    if roll < 0.5:
        picks = [ctx.rng.randrange(d) for _ in range(ctx.rng.randint(1, 4))]
        return f"jnp.array({picks})", (), (len(picks),)
    shape = (ctx.rng.choice((2, 3, 4, 6, 8)),) if ctx.rng.random() < 0.75 else (ctx.rng.choice(SMALL), ctx.rng.choice(SMALL))
    return f"${slot}", (ctx.need(TensorSpec(shape, "int32")),), shape


def _take(ctx: Draw, x: Value) -> Statement:
    shape = x.spec.shape
    axis = ctx.rng.randrange(len(shape))
    idx, extra, ishape = _indices(ctx, shape[axis], 1)
    out = x.spec.with_shape(shape[:axis] + ishape + shape[axis + 1:])
    roll = ctx.rng.random()
    if roll < 0.35 and axis == 0:
        return assign(f"$0[{idx}]", (x, *extra), (out,))
    if roll < 0.5:
        return assign("$0[" + ", ".join([":"] * axis + [idx]) + "]", (x, *extra), (out,))
    mode = ctx.rng.choice(["", "", ', mode="clip"', ', mode="wrap"', ', mode="fill", fill_value=0'])
    return assign(f"jnp.take($0, {idx}, axis={axis}{mode})", (x, *extra), (out,))


def _take_along(ctx: Draw, x: Value) -> Statement | None:
    shape = x.spec.shape
    axis = ctx.rng.choice([-1, -1, ctx.rng.randrange(len(shape))])
    if x.spec.dtype in REAL and ctx.rng.random() < 0.5:
        k = ctx.rng.randint(1, shape[axis])
        order = f"jnp.argsort($0, axis={axis})"
        if k < shape[axis]:
            order = "lax.slice_in_dim(" + order + f", 0, {k}, axis={axis})"
        out = list(shape)
        out[axis] = k
        return assign(f"jnp.take_along_axis($0, {order}, axis={axis})", (x,), (x.spec.with_shape(tuple(out)),))
    idx_shape = list(shape)
    idx_shape[axis] = ctx.rng.choice(SMALL)
    idx = ctx.need(TensorSpec(tuple(idx_shape), "int32"))
    return assign(f"jnp.take_along_axis($0, $1, axis={axis})", (x, idx), (x.spec.with_shape(tuple(idx_shape)),))


def _batch_indices(ctx: Draw, x: Value) -> tuple[int, tuple[int, ...], tuple[int, ...], int, Value]:
    """Indices for a gather / scatter with batch dims: the count `nb` of leading dims that are
    batch, those dims, the dims after the indexed axis `nb`, and `k` indices per example (an
    int32 value of shape (*batch, k, 1))."""
    shape = x.spec.shape
    nb = ctx.rng.randint(1, len(shape) - 1)
    batch, rest = shape[:nb], shape[nb + 1:]
    k = ctx.rng.choice(SMALL)
    return nb, batch, rest, k, ctx.need(TensorSpec((*batch, k, 1), "int32"))


def _batched_gather(ctx: Draw, x: Value) -> Statement | None:
    """`lax.gather` with operand/indices batch dims: per example, pick rows along one axis."""
    nb, batch, rest, k, idx = _batch_indices(ctx, x)
    dnums = (f"lax.GatherDimensionNumbers(offset_dims={tuple_literal(range(nb + 1, nb + 1 + len(rest)))}, collapsed_slice_dims=({nb},), "
             f"start_index_map=({nb},), operand_batching_dims={tuple_literal(range(nb))}, start_indices_batching_dims={tuple_literal(range(nb))})")
    mode = ctx.rng.choice(["CLIP", "FILL_OR_DROP", "PROMISE_IN_BOUNDS"])
    text = f"lax.gather($0, $1, {dnums}, slice_sizes={tuple_literal((1,) * (nb + 1) + rest)}, mode=lax.GatherScatterMode.{mode})"
    return assign(text, (x, idx), (x.spec.with_shape((*batch, k, *rest)),))


# --- scatters -----------------------------------------------------------------------------
def _at_update(ctx: Draw, x: Value) -> Statement:
    shape = x.spec.shape
    methods = ["set"] if x.spec.dtype == "bool" else ["set", "add", "add", "mul"] + (["max", "min"] if x.spec.dtype in REAL else [])
    method = ctx.rng.choice(methods)
    extra: tuple[Value, ...] = ()
    lead: tuple[int, ...] = ()  # the dims the index on axis 0 leaves
    unique = True  # whether the index names each element once (JAX can then differentiate `mul`)
    roll = ctx.rng.random()
    if roll < 0.3:
        where = str(ctx.rng.choice([0, -1, shape[0] // 2]))
    elif roll < 0.5 and shape[0] > 1:
        a = ctx.rng.randint(0, shape[0] - 2)
        b = ctx.rng.randint(a + 1, shape[0])
        where, lead = f"{a}:{b}", (b - a,)
    elif roll < 0.75:
        where, extra, lead = _indices(ctx, shape[0], 1)
        unique = where.startswith("jnp.arange")
    else:
        where, extra = _dynamic_index(ctx, x, 0, 1)
    indexed = (*lead, *shape[1:])
    if len(shape) > 1 and ctx.rng.random() < 0.3:
        where += ", 0"  # the first column of the selected rows
        indexed = (*lead, *shape[2:])
    kw = ""
    if ctx.rng.random() < 0.5 or not indexed or (method == "mul" and not unique):
        # Scatter-multiplying by an array needs unique indices for its gradient: a scalar here.
        if x.spec.dtype == "bool":
            value = "True"
        elif method == "mul":
            value = "2" if x.spec.dtype in INT else ctx.rng.choice(["2.0", "0.5"])
        else:
            value = "0" if x.spec.dtype in INT else ctx.rng.choice(["0.0", "1.0", "-1.0"])
    else:
        extra = (*extra, ctx.need(x.spec.with_shape(tuple(indexed))))
        value = f"${len(extra)}"
        if method == "mul" or (unique and "arange" in where and ctx.rng.random() < 0.5):
            kw = ", unique_indices=True"
    return assign(f"$0.at[{where}].{method}({value}{kw})", (x, *extra), (x.spec,))


def _segment(ctx: Draw, x: Value) -> Statement:
    n = x.spec.shape[0]
    kind = ctx.rng.choice(["sum", "sum", "max", "min"])
    segs = ctx.rng.choice([2, 3, 4, 8])
    given = ctx.argument(TensorSpec((n,), "int32"), "segment_ids", Domain("index", 0, segs)) if ctx.rng.random() < 0.5 else None
    if given is None:  # consecutive runs of k rows: pooling written with iota ids
        k = ctx.rng.choice([2, 3, 4])
        segs = ceil(n / k)
        ids, extra = f"jnp.arange({n}) // {k}", ()
    else:
        ids, extra = "$1", (given,)
    sorted_kw = ", indices_are_sorted=True" if "//" in ids else ""
    text = f"jax.ops.segment_{kind}($0, {ids}, num_segments={segs}{sorted_kw})"
    return assign(text, (x, *extra), (x.spec.with_shape((segs, *x.spec.shape[1:])),))


def _batched_scatter(ctx: Draw, x: Value) -> Statement | None:
    """`lax.scatter_add` with batch dims: per example, accumulate updates into rows of one axis."""
    nb, batch, rest, k, idx = _batch_indices(ctx, x)
    updates = ctx.need(x.spec.with_shape((*batch, k, *rest)))
    dnums = (f"lax.ScatterDimensionNumbers(update_window_dims={tuple_literal(range(nb + 1, nb + 1 + len(rest)))}, inserted_window_dims=({nb},), "
             f"scatter_dims_to_operand_dims=({nb},), operand_batching_dims={tuple_literal(range(nb))}, scatter_indices_batching_dims={tuple_literal(range(nb))})")
    mode = ctx.rng.choice(["FILL_OR_DROP", "CLIP"])
    fn = ctx.rng.choice(["scatter_add", "scatter_add", "scatter"]) if x.spec.is_float else "scatter_add"
    return assign(f"lax.{fn}($0, $1, $2, {dnums}, mode=lax.GatherScatterMode.{mode})", (x, idx, updates), (x.spec,))


def _one_hot(ctx: Draw, x: Value) -> Statement | None:
    classes = [n for n in (3, 4, 8, 10, 16) if x.spec.size * n <= MAX_ELEMENTS]
    if not classes:
        return None
    n = ctx.rng.choice(classes)
    dtype = ctx.rng.choice(["float32", "float32", "bfloat16", "int32"])
    kw = "" if dtype == "float32" else f", dtype=jnp.{dtype}"
    return assign(f"jax.nn.one_hot($0, {n}{kw})", (x,), (TensorSpec((*x.spec.shape, n), dtype),))


# --- padding, joining, splitting ----------------------------------------------------------
def _jnp_pad(ctx: Draw, x: Value) -> Statement:
    shape = x.spec.shape
    mode = ctx.rng.choice(["constant", "constant", "edge", "reflect", "symmetric", "wrap"])
    limit = {"reflect": lambda d: d - 1, "symmetric": lambda d: d}.get(mode, lambda d: 3)
    roll = ctx.rng.random()
    if roll < 0.25 and all(limit(d) >= 1 for d in shape):
        p = ctx.rng.randint(1, min(2, *(limit(d) for d in shape)))
        widths, text = [(p, p)] * len(shape), str(p)
    else:
        widths = [(0, 0)] * len(shape)
        axes = [a for a in range(len(shape)) if limit(shape[a]) >= 1] or [None]
        for a in ctx.rng.sample(axes, min(len(axes), ctx.rng.choice([1, 2]))):
            if a is not None:
                widths[a] = (ctx.rng.randint(0, min(2, limit(shape[a]))), ctx.rng.randint(1, min(3, limit(shape[a]))))
        text = tuple_literal(tuple_literal(w) for w in widths)
    kw = ""
    if mode != "constant":
        kw = f', mode="{mode}"'
    elif x.spec.dtype in (*FLOAT, "int32", "int8") and ctx.rng.random() < 0.4:
        kw = f", constant_values={ctx.rng.choice(['1', '-1'])}"
    out = tuple(d + lo + hi for d, (lo, hi) in zip(shape, widths, strict=True))
    return assign(f"jnp.pad($0, {text}{kw})", (x,), (x.spec.with_shape(out),))


def _lax_pad(ctx: Draw, x: Value) -> Statement:
    config, out = [], []
    for d in x.spec.shape:
        lo = ctx.rng.choice([0, 0, 1, 2, -1 if d > 1 else 0])
        hi = ctx.rng.choice([0, 1, 2])
        interior = ctx.rng.choice([0, 0, 1]) if d > 1 else 0
        config.append((lo, hi, interior))
        out.append(lo + hi + d + (d - 1) * interior)
    zero = {"bool": "False"}.get(x.spec.dtype, "0")
    return assign(f"lax.pad($0, jnp.array({zero}, $0.dtype), {config})", (x,), (x.spec.with_shape(tuple(out)),))


def _concatenate(ctx: Draw, x: Value) -> Statement:
    shape = x.spec.shape
    axis = ctx.rng.randrange(len(shape))
    other_shape = list(shape)
    other_shape[axis] = ctx.rng.choice([shape[axis], *SMALL])
    y = ctx.need(x.spec.with_shape(tuple(other_shape)))
    out = list(shape)
    out[axis] += other_shape[axis]
    fn = ctx.rng.choice(["jnp.concatenate", "jnp.concatenate", "jnp.concat"])
    if axis == 0 and len(shape) >= 2 and ctx.rng.random() < 0.3:
        return assign("jnp.vstack([$0, $1])", (x, y), (x.spec.with_shape(tuple(out)),))
    return assign(f"{fn}([$0, $1], axis={ctx.rng.choice([axis, axis - len(shape)])})", (x, y), (x.spec.with_shape(tuple(out)),))


def _stack(ctx: Draw, x: Value) -> Statement:
    n = ctx.rng.choice([2, 2, 3])
    others = tuple(partner(ctx, x) or x for _ in range(n - 1))
    axis = ctx.rng.randint(0, x.spec.rank)
    shape = list(x.spec.shape)
    shape.insert(axis, n)
    names = ", ".join(f"${i}" for i in range(n))
    return assign(f"jnp.stack([{names}], axis={axis})", (x, *others), (x.spec.with_shape(tuple(shape)),))


def _stack_comprehension(ctx: Draw, x: Value) -> Statement:
    """`jnp.stack([... for s in range(k)])`: shifted or strided copies built in a comprehension."""
    k = ctx.rng.choice([2, 3, 4])
    axis = x.spec.rank - 1
    if ctx.rng.random() < 0.5:
        s = ctx.fresh("shift")  # fresh: a comprehension variable must not shadow the anchor
        text = f"jnp.stack([jnp.roll($0, {s}, axis={axis}) for {s} in range({k})], axis=0)"
    else:
        p = ctx.fresh("power")
        text = f"jnp.stack([$0 ** {p} for {p} in range(1, {k + 1})], axis=-1)"
        return assign(text, (x,), (x.spec.with_shape((*x.spec.shape, k)),))
    return assign(text, (x,), (x.spec.with_shape((k, *x.spec.shape)),))


def _split(ctx: Draw, x: Value) -> Statement | None:
    shape = x.spec.shape
    axes = [a for a, d in enumerate(shape) if d >= 2]
    if not axes:
        return None
    axis = ctx.rng.choice(axes)
    d = shape[axis]
    parts = [k for k in (2, 3) if d % k == 0]
    if parts and ctx.rng.random() < 0.6:
        k = ctx.rng.choice(parts)
        sizes = [d // k] * k
        text = f"jnp.split($0, {k}, axis={axis})"
    else:
        cut = ctx.rng.randint(1, d - 1)
        sizes = [cut, d - cut]
        text = f"jnp.split($0, [{cut}], axis={axis})"
    outs = []
    for s in sizes:
        out = list(shape)
        out[axis] = s
        outs.append(x.spec.with_shape(tuple(out)))
    return assign(text, (x,), tuple(outs))


# --- reordering ---------------------------------------------------------------------------
def _flip(ctx: Draw, x: Value) -> Statement:
    rank = x.spec.rank
    roll = ctx.rng.random()
    if roll < 0.3:
        text = f"jnp.flip($0, axis={ctx.rng.randrange(rank)})"
    elif roll < 0.45:
        text = "jnp.flip($0)"
    elif roll < 0.7:
        dims = sorted(ctx.rng.sample(range(rank), ctx.rng.randint(1, rank)))
        text = f"lax.rev($0, {tuple_literal(dims)})"
    elif rank >= 2 and roll < 0.85:
        text = ctx.rng.choice(["jnp.fliplr($0)", "jnp.flipud($0)"])
    else:
        text = "$0[::-1]"
    return assign(text, (x,), (x.spec,))


def _roll(ctx: Draw, x: Value) -> Statement:
    rank = x.spec.rank
    roll = ctx.rng.random()
    if roll < 0.2:
        shift = ctx.pick(INT_SCALAR)
        if shift is not None:
            return assign(f"jnp.roll($0, $1, axis={ctx.rng.randrange(rank)})", (x, shift), (x.spec,))
    if roll < 0.5 and rank >= 2:
        axes = sorted(ctx.rng.sample(range(rank), 2))
        shifts = [ctx.rng.choice([1, -1, 2]) for _ in axes]
        return assign(f"jnp.roll($0, {tuple_literal(shifts)}, axis={tuple_literal(axes)})", (x,), (x.spec,))
    return assign(f"jnp.roll($0, {ctx.rng.choice([1, -1, 2, 3])}, axis={ctx.rng.choice([-1, ctx.rng.randrange(rank)])})", (x,), (x.spec,))


def _repeat(ctx: Draw, x: Value) -> Statement:
    r = ctx.rng.choice([2, 2, 3])
    if ctx.rng.random() < 0.2:
        return assign(f"jnp.repeat($0, {r})", (x,), (x.spec.with_shape((x.spec.size * r,)),))
    axis = ctx.rng.randrange(x.spec.rank)
    shape = list(x.spec.shape)
    shape[axis] *= r
    return assign(f"jnp.repeat($0, {r}, axis={axis})", (x,), (x.spec.with_shape(tuple(shape)),))


def _moveaxis(ctx: Draw, x: Value) -> Statement:
    rank = x.spec.rank
    src, dst = ctx.rng.sample(range(rank), 2)
    perm = [a for a in range(rank) if a != src]
    perm.insert(dst, src)
    return assign(f"jnp.moveaxis($0, {src}, {ctx.rng.choice([dst, dst - rank])})", (x,), (x.spec.with_shape(tuple(x.spec.shape[a] for a in perm)),))


def _permute(ctx: Draw, x: Value) -> Statement:
    perm = list(range(x.spec.rank))
    while perm == sorted(perm):
        ctx.rng.shuffle(perm)
    fn = ctx.rng.choice(["lax.transpose($0, $p)", "$0.transpose($args)"])
    attrs = {"p": tuple_literal(perm), "args": ", ".join(map(str, perm))}
    return assign(fn, (x,), (x.spec.with_shape(tuple(x.spec.shape[a] for a in perm)),), attrs=attrs)


def _ravel(ctx: Draw, x: Value) -> Statement:
    text = ctx.rng.choice(["jnp.ravel($0)", "$0.reshape(-1)", "$0.flatten()"])
    return assign(text, (x,), (x.spec.with_shape((x.spec.size,)),))


def _merge_leading(ctx: Draw, x: Value) -> Statement:
    """`x.reshape(-1, x.shape[-1])`: fold the batch dims, as before a dense layer."""
    last = x.spec.shape[-1]
    return assign("$0.reshape(-1, $0.shape[-1])", (x,), (x.spec.with_shape((x.spec.size // last, last)),))


def _split_axis(ctx: Draw, x: Value) -> Statement | None:
    """Split the last axis into heads: (..., d) -> (..., h, d // h)."""
    d = x.spec.shape[-1]
    heads = [h for h in (2, 3, 4, 8) if d % h == 0 and h < d]
    if not heads:
        return None
    h = ctx.rng.choice(heads)
    lead = ", ".join(f"$0.shape[{i}]" for i in range(x.spec.rank - 1))
    text = f"$0.reshape({lead + ', ' if lead else ''}{h}, {d // h})"
    return assign(text, (x,), (x.spec.with_shape((*x.spec.shape[:-1], h, d // h)),))


# --- iota ---------------------------------------------------------------------------------
def _triangle(ctx: Draw, x: Value) -> Statement:
    k = ctx.rng.choice([0, 0, 1, -1])
    fn = ctx.rng.choice(["jnp.tril", "jnp.triu"])
    return assign(f"{fn}($0{f', k={k}' if k else ''})", (x,), (x.spec,))


def _causal_mask(ctx: Draw, x: Value) -> Statement:
    """Mask a (..., q, k) score array with a causal mask built from iotas."""
    q, k = x.spec.shape[-2:]
    fill = "-1e9" if x.spec.dtype == "float32" else "-jnp.inf"
    if ctx.rng.random() < 0.5:
        mask = f"jnp.arange({q})[:, None] >= jnp.arange({k})[None, :]"
    else:
        mask = f"lax.broadcasted_iota(jnp.int32, ({q}, {k}), 0) >= lax.broadcasted_iota(jnp.int32, ({q}, {k}), 1)"
    return assign(f"jnp.where({mask}, $0, {fill})", (x,), (x.spec,))


def _positions(ctx: Draw, x: Value) -> Statement:
    """Add a ramp along the last axis: position offsets built from `jnp.arange` / `lax.iota`."""
    n = x.spec.shape[-1]
    ramps = [f"jnp.arange({n}, dtype=$0.dtype)", f"lax.iota($0.dtype, {n})"]
    if x.spec.is_float:
        ramps.append(f"jnp.linspace(0.0, 1.0, {n}, dtype=$0.dtype)")
    ramp = ctx.rng.choice(ramps)
    return assign(f"$0 + {ramp}", (x,), (x.spec,))


def _diag(ctx: Draw, x: Value) -> Statement:
    n = x.spec.shape[0]
    return assign("jnp.diag($0)", (x,), (x.spec.with_shape((n, n)),))


OPS = (
    op("static_slice", CAT, ANY, _static_slice, out_names=("sliced",), weight=2.0),
    op("int_index", CAT, ANY, _int_index, out_names=("row",)),
    op("lax.slice", CAT, ANY, _lax_slice, out_names=("sliced",), weight=0.7),
    op("lax.slice_in_dim", CAT, ANY, _slice_in_dim, out_names=("sliced",), weight=0.4),
    op("lax.dynamic_slice", CAT, ANY, _dynamic_slice, out_names=("window",), weight=1.5),
    op("dynamic_index", CAT, ANY, _dynamic_index_op, out_names=("row",)),
    op("lax.dynamic_update_slice", CAT, ANY, _dynamic_update, out_names=("updated",), weight=1.2),
    op("jnp.take", CAT, ANY, _take, out_names=("picked",), weight=1.5),
    op("jnp.take_along_axis", CAT, ANY, _take_along, out_names=("picked",)),
    op("lax.gather_batched", CAT, Operand(ALL, 2, 4), _batched_gather, out_names=("gathered",), weight=0.7),
    op(".at[].update", CAT, ANY, _at_update, out_names=("updated",), weight=2.0),
    op("jax.ops.segment_reduce", CAT, Operand((*FLOAT, "int32"), 1, 3), _segment, out_names=("pooled",), weight=0.8),
    op("lax.scatter_batched", CAT, Operand((*FLOAT, "int32"), 2, 4), _batched_scatter, out_names=("scattered",), weight=0.7),
    op("jax.nn.one_hot", CAT, Operand(("int32", "int8", "uint8"), 0, 1), _one_hot, out_names=("onehot",), weight=0.6),
    op("jnp.pad", CAT, ANY, _jnp_pad, out_names=("padded",), weight=1.5),
    op("lax.pad", CAT, ANY, _lax_pad, out_names=("padded",), weight=0.6),
    op("jnp.concatenate", CAT, ANY, _concatenate, out_names=("joined",), weight=1.2),
    op("jnp.stack", CAT, Operand(ALL, 0, 3), _stack, out_names=("stacked",)),
    op("stack_comprehension", CAT, Operand(NUMERIC, 1, 3), _stack_comprehension, out_names=("stacked",), weight=0.5),
    op("jnp.split", CAT, ANY, _split, out_names=("part",), weight=0.8),
    op("jnp.flip", CAT, ANY, _flip, out_names=("flipped",)),
    op("jnp.roll", CAT, ANY, _roll, out_names=("rolled",)),
    op("jnp.repeat", CAT, ANY, _repeat, out_names=("repeated",), weight=0.6),
    op("jnp.moveaxis", CAT, Operand(ALL, 2, 4), _moveaxis, out_names=("moved",), weight=0.6),
    op("lax.transpose", CAT, Operand(ALL, 2, 4), _permute, out_names=("t",), weight=0.6),
    op("jnp.ravel", CAT, Operand(ALL, 2, 4), _ravel, out_names=("flat",), weight=0.5),
    op("merge_leading", CAT, Operand(ALL, 3, 4), _merge_leading, out_names=("rows",), weight=0.5),
    op("split_heads", CAT, Operand(ALL, 1, 3), _split_axis, out_names=("heads",), weight=0.5),
    op("jnp.tril", CAT, Operand(NUMERIC, 2, 4), _triangle, out_names=("tri",), weight=0.6),
    op("causal_mask", CAT, Operand(FLOAT, 2, 4), _causal_mask, out_names=("scores",), weight=0.6),
    op("iota_positions", CAT, Operand((*FLOAT, "int32"), 1, 4), _positions, out_names=("h",), weight=0.5),
    op("jnp.diag", CAT, Operand(NUMERIC, 1, 1), _diag, out_names=("diag",), weight=0.3),
)
