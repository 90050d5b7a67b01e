"""SPMD code with `jax.shard_map`: per-shard functions over a device mesh that communicate with
collectives — `psum` / `pmean` / `pmax` (stablehlo.all_reduce), `all_gather`, `psum_scatter`
(reduce_scatter), `ppermute` (collective_permute), `all_to_all`, and `axis_index`
(partition_id) — in the shapes data-parallel, FSDP and tensor-parallel code takes.

The mesh is a `jax.sharding.AbstractMesh` defined at module level: it has axis names and sizes
but no devices, so the program traces and lowers identically on any host, whatever its device
count, and collectives keep their real replica groups (a one-device mesh would elide
`all_to_all` and degenerate the rest). The price: XLA cannot compile such a module for this
host, so these ops carry the `needs_devices` tag and their rows have no optimized HLO.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence

from ..program import Tag, Value, tuple_literal
from ..specs import MAX_ELEMENTS, TensorSpec
from .base import Draw, OpDecl, Operand, Statement, op, shift
from .random import draw_keys

CAT = ("parallel",)
TAGS = (Tag.BLOCK, Tag.NEEDS_DEVICES)
MESHES = (((2,), ("data",)), ((4,), ("data",)), ((8,), ("data",)), ((4,), ("devices",)),
          ((2, 2), ("data", "model")), ((2, 4), ("data", "model")), ((4, 2), ("data", "model")))
_MESH = re.compile(r"^mesh = AbstractMesh\(\(([\d, ]+)\), \(([^)]*)\)\)", re.MULTILINE)
FLOATS = ("float32", "float32", "bfloat16")
F32 = ("float32",)


def _mesh(ctx: Draw) -> dict[str, int]:
    """The program's mesh, axis name -> size: the one defined already, or a new one."""
    for helper in ctx.helpers:
        found = _MESH.search(helper)
        if found:
            sizes = [int(s) for s in found.group(1).replace(" ", "").split(",") if s]
            names = re.findall(r'"(\w+)"', found.group(2))
            return dict(zip(names, sizes, strict=True))
    sizes, names = ctx.rng.choice(MESHES)
    devices = 1
    for size in sizes:
        devices *= size
    ctx.helper(
        "from jax.sharding import AbstractMesh, PartitionSpec as P\n\n"
        f"# Lowered ahead of time for {devices} devices: an abstract mesh needs none to trace.\n"
        f"mesh = AbstractMesh({tuple_literal([str(n) for n in sizes])}, {tuple_literal([_q(n) for n in names])})"
    )
    return dict(zip(names, sizes, strict=True))


def _q(name: str) -> str:
    """An axis name as a string literal, in the double quotes the PartitionSpecs use."""
    return f'"{name}"'




def _axis(ctx: Draw, mesh: dict[str, int], prefer: str) -> tuple[str, int]:
    """A mesh axis to communicate over: `prefer` ("data" / "model") when the mesh has it."""
    names = list(mesh)
    name = prefer if prefer in mesh else (names[-1] if prefer == "model" else names[0])
    if ctx.rng.random() < 0.15:
        name = ctx.rng.choice(names)
    return name, mesh[name]


def _divisible(ctx: Draw, rank: int, split: dict[int, int], hint: str, dtypes: Sequence[str] = FLOATS) -> Value | None:
    """A value of `rank` whose dim i divides by split[i] (the shards along it): an existing one,
    or a new argument."""
    operand = Operand(tuple(dtypes), rank, rank)
    x = ctx.pick(operand)
    if x is not None and all(x.spec.shape[i] % n == 0 for i, n in split.items()):
        return x
    spec = ctx.random_spec(operand)
    shape = [max(n, d - d % n) for d, n in ((d, split.get(i, 1)) for i, d in enumerate(spec.shape))]
    while _size(shape) > MAX_ELEMENTS:
        i = max(range(rank), key=lambda j: shape[j] // split.get(j, 1))
        shape[i] //= 2
        shape[i] = max(split.get(i, 1), shape[i] - shape[i] % split.get(i, 1))
    return ctx.argument(spec.with_shape(tuple(shape)), hint)


def _size(shape: Sequence[int]) -> int:
    n = 1
    for d in shape:
        n *= d
    return n


def _spec(*entries: str | None) -> str:
    """A PartitionSpec literal: P(), P("data"), P(None, "model")."""
    while entries and entries[-1] is None:
        entries = entries[:-1]
    return "P(" + ", ".join("None" if e is None else f'"{e}"' for e in entries) + ")"


def _call(ctx: Draw, fn: str, params: Sequence[str], body: Sequence[str], in_specs: Sequence[str], out_specs: str,
          args: Sequence[str]) -> list[str]:
    """The per-shard function and its shard_map application, as a decorator or a call."""
    ins = in_specs[0] if len(in_specs) == 1 else "(" + ", ".join(in_specs) + ")"
    head = f"def {fn}({', '.join(params)}):"
    indented = ["    " + line for line in body]
    if ctx.rng.random() < 0.5:
        return [f"@jax.shard_map(mesh=mesh, in_specs={ins}, out_specs={out_specs})", head, *indented,
                f"$out0 = {fn}({', '.join(args)})"]
    return [head, *indented, f"$out0 = jax.shard_map({fn}, mesh=mesh, in_specs={ins}, out_specs={out_specs})({', '.join(args)})"]


def _piece(inputs: Sequence[Value | None], lines: Sequence[str], specs: Sequence[TensorSpec], hints: Sequence[str]) -> Statement:
    return Statement(tuple(v for v in inputs if v is not None), tuple(lines), tuple(specs), tuple(hints))


def sharded(name: str, draw: Callable[[Draw, dict[str, int], str, Value], Statement | None], prefer: str, split: Sequence[int],
            rank: int | Sequence[int] = 2, hint: str = "x", dtypes: Sequence[str] = FLOATS, weight: float = 1.0) -> OpDecl:
    """A block over a value sharded along one mesh axis: the program's mesh, an axis to communicate
    over (`prefer` when the mesh has it), and a value of `rank` (one of several, drawn) whose dims
    `split` divide by that axis's size; `draw` writes the per-shard function around them."""

    def shard_then_draw(ctx: Draw) -> Statement | None:
        mesh = _mesh(ctx)
        axis, n = _axis(ctx, mesh, prefer)
        x = _divisible(ctx, rank if isinstance(rank, int) else ctx.rng.choice(rank), dict.fromkeys(split, n), hint, dtypes)
        return None if x is None else draw(ctx, mesh, axis, x)

    return op(name, CAT, (), shard_then_draw, weight=weight, tags=TAGS)


# --- the blocks ---------------------------------------------------------------------------------
def _batch_stats(ctx: Draw, mesh: dict[str, int], axis: str, x: Value) -> Statement | None:
    """Statistics over a batch sharded across data-parallel devices (`pmean` / `psum`)."""
    rng = ctx.rng
    blk, mean, var = ctx.fresh("x_blk"), ctx.fresh("mean"), ctx.fresh("var")
    fn = ctx.fresh(rng.choice(("global_mean", "batch_stats", "sync_stats")))
    form = rng.random()
    if form < 0.4:
        body = [f"return lax.pmean(jnp.mean({blk}, axis=0), {_q(axis)})"]
        return _piece((x,), _call(ctx, fn, [blk], body, [_spec(axis)], "P()", ["$0"]), [x.spec.with_shape(x.spec.shape[1:])], ["mean"])
    if form < 0.6:
        count = ctx.fresh("count")
        body = [f"{count} = lax.psum({blk}.shape[0], {_q(axis)})", f"return lax.psum(jnp.sum({blk}, axis=0), {_q(axis)}) / {count}"]
        return _piece((x,), _call(ctx, fn, [blk], body, [_spec(axis)], "P()", ["$0"]), [x.spec.with_shape(x.spec.shape[1:])], ["mean"])
    body = [  # synchronized batch norm
        f"{mean} = lax.pmean(jnp.mean({blk}, axis=0), {_q(axis)})",
        f"{var} = lax.pmean(jnp.mean(jnp.square({blk} - {mean}), axis=0), {_q(axis)})",
        f"return ({blk} - {mean}) * lax.rsqrt({var} + 1e-5)",
    ]
    return _piece((x,), _call(ctx, fn, [blk], body, [_spec(axis)], _spec(axis), ["$0"]), [x.spec], ["normed"])


def _data_parallel_grads(ctx: Draw, mesh: dict[str, int], axis: str, x: Value) -> Statement | None:
    """Data parallelism: per-shard gradients of a loss, averaged across devices."""
    batch, d = x.spec.shape
    w = ctx.need(TensorSpec((d,), "float32"))
    y = ctx.argument(TensorSpec((batch,), "float32"), "y") or ctx.need(TensorSpec((batch,), "float32"))
    rng = ctx.rng
    wn, blk, yb, loss = ctx.fresh("w"), ctx.fresh("x_blk"), ctx.fresh("y_blk"), ctx.fresh("loss_fn")
    fn = ctx.fresh("grad_step")
    pred = rng.choice([f"{blk} @ {wn}", f"jnp.tanh({blk} @ {wn})"])
    body = [
        f"def {loss}({wn}):",
        f"    return jnp.mean(({pred} - {yb}) ** 2)",
        f"return lax.pmean(jax.grad({loss})({wn}), {_q(axis)})",
    ]
    lines = _call(ctx, fn, [wn, blk, yb], body, ["P()", _spec(axis), _spec(axis)], "P()", ["$0", "$1", "$2"])
    return _piece((w, x, y), lines, [w.spec], ["grads"])


def _row_parallel(ctx: Draw, mesh: dict[str, int], axis: str, x: Value) -> Statement | None:
    """Tensor parallelism, row-parallel matmul: contract sharded features, then `psum`."""
    batch, d = x.spec.shape
    h = ctx.rng.choice([k for k in (4, 8, 16, 32) if batch * k <= MAX_ELEMENTS and d * k <= MAX_ELEMENTS] or [1])
    w = ctx.need(x.spec.with_shape((d, h)))
    blk, wb, fn = ctx.fresh("x_blk"), ctx.fresh("w_blk"), ctx.fresh("row_parallel")
    other = [a for a in mesh if a != axis]
    if other and batch % mesh[other[0]] == 0:  # 2-D mesh: batch over the other axis too
        in_x, out = _spec(other[0], axis), _spec(other[0])
    else:
        in_x, out = _spec(None, axis), "P()"
    body = [f"return lax.psum({blk} @ {wb}, {_q(axis)})"]
    lines = _call(ctx, fn, [blk, wb], body, [in_x, _spec(axis)], out, ["$0", "$1"])
    return _piece((x, w), lines, [x.spec.with_shape((batch, h))], ["h"])


def _fsdp(ctx: Draw, mesh: dict[str, int], axis: str, x: Value) -> Statement | None:
    """Fully sharded data parallelism: weights stored sharded, gathered just before use."""
    batch, d = x.spec.shape
    h = ctx.rng.choice([k for k in (4, 8, 16, 32) if batch * k <= MAX_ELEMENTS and d * k <= MAX_ELEMENTS] or [1])
    w = ctx.need(x.spec.with_shape((d, h)))
    blk, wb, full, fn = ctx.fresh("x_blk"), ctx.fresh("w_shard"), ctx.fresh("w_full"), ctx.fresh("fsdp_layer")
    act = ctx.rng.choice(("jax.nn.relu", "jax.nn.gelu", "jnp.tanh"))
    body = [f"{full} = lax.all_gather({wb}, {_q(axis)}, tiled=True)", f"return {act}({blk} @ {full})"]
    lines = _call(ctx, fn, [blk, wb], body, [_spec(axis), _spec(axis)], _spec(axis), ["$0", "$1"])
    return _piece((x, w), lines, [x.spec.with_shape((batch, h))], ["h"])


def _reduce_scatter(ctx: Draw, mesh: dict[str, int], axis: str, x: Value) -> Statement | None:
    """ZeRO-style gradient sharding: each device sums a full gradient, keeps only its shard."""
    _batch, d = x.spec.shape
    h = ctx.rng.choice([k for k in (4, 8, 16) if d * k <= MAX_ELEMENTS] or [1])
    w = ctx.need(TensorSpec((d, h), "float32"))
    blk, wn, g, fn = ctx.fresh("x_blk"), ctx.fresh("w"), ctx.fresh("local_grad"), ctx.fresh("sharded_grads")
    body = [f"{g} = {blk}.T @ jnp.tanh({blk} @ {wn})", f"return lax.psum_scatter({g}, {_q(axis)}, scatter_dimension=0, tiled=True)"]
    lines = _call(ctx, fn, [blk, wn], body, [_spec(axis), "P()"], _spec(axis), ["$0", "$1"])
    return _piece((x, w), lines, [TensorSpec((d, h), "float32")], ["grad_shards"])


def _ring_shift(ctx: Draw, mesh: dict[str, int], axis: str, x: Value) -> Statement | None:
    """`ppermute` around a ring: pipeline stages, ring attention, halo exchange."""
    rng = ctx.rng
    blk, size, fn = ctx.fresh("x_blk"), ctx.fresh("n"), ctx.fresh("shift")
    i = ctx.fresh("i")
    step = rng.choice(("+ 1", "- 1"))
    body = [f"{size} = lax.axis_size({_q(axis)})",
            f"return lax.ppermute({blk}, {_q(axis)}, perm=[({i}, ({i} {step}) % {size}) for {i} in range({size})])"]
    if rng.random() < 0.4:  # halo exchange: add the neighbour's block
        neighbour = ctx.fresh("neighbour")
        body[-1] = body[-1].replace("return ", f"{neighbour} = ", 1)
        body.append(f"return {blk} + {neighbour}")
    lines = _call(ctx, fn, [blk], body, [_spec(axis)], _spec(axis), ["$0"])
    return _piece((x,), lines, [x.spec], ["shifted"])


def _all_to_all(ctx: Draw, mesh: dict[str, int], axis: str, x: Value) -> Statement | None:
    """`all_to_all` that switches what is sharded: from sequence to feature (heads), as in
    sequence-parallel attention or mixture-of-experts dispatch."""
    blk, fn = ctx.fresh("x_blk"), ctx.fresh(ctx.rng.choice(("seq_to_heads", "dispatch")))
    body = [f"return lax.all_to_all({blk}, {_q(axis)}, split_axis=2, concat_axis=1, tiled=True)"]
    lines = _call(ctx, fn, [blk], body, [_spec(None, axis)], _spec(None, None, axis), ["$0"])
    return _piece((x,), lines, [x.spec], ["resharded"])


def _sharded_softmax(ctx: Draw, mesh: dict[str, int], axis: str, x: Value) -> Statement | None:
    """A softmax over a vocabulary sharded across devices: global max and sum by collectives."""
    blk, m, e, fn = ctx.fresh("logits_blk"), ctx.fresh("m"), ctx.fresh("e"), ctx.fresh("sharded_softmax")
    body = [
        # the max only shifts for stability: no gradient flows through it (pmax has no JVP rule)
        f"{m} = lax.pmax(jnp.max(lax.stop_gradient({blk}), axis=-1, keepdims=True), {_q(axis)})",
        f"{e} = jnp.exp({blk} - {m})",
        f"return {e} / lax.psum(jnp.sum({e}, axis=-1, keepdims=True), {_q(axis)})",
    ]
    lines = _call(ctx, fn, [blk], body, [_spec(None, axis)], _spec(None, axis), ["$0"])
    return _piece((x,), lines, [x.spec], ["probs"])


def _shard_index(ctx: Draw, mesh: dict[str, int], axis: str, x: Value) -> Statement | None:
    """`lax.axis_index`: which shard am I — global positions, or a per-device PRNG stream."""
    rng = ctx.rng
    blk, fn = ctx.fresh("x_blk"), ctx.fresh("per_shard")
    if rng.random() < 0.5:
        offset = ctx.fresh("offset")
        body = [f"{offset} = lax.axis_index({_q(axis)}) * {blk}.shape[0]",
                f"return {blk} + (({offset} + jnp.arange({blk}.shape[0])) / {x.spec.shape[0]})[:, None].astype({blk}.dtype)"]
        return _piece((x,), _call(ctx, fn, [blk], body, [_spec(axis)], _spec(axis), ["$0"]), [x.spec], ["positioned"])
    use = draw_keys(ctx, threefry=True)
    if use is None:
        return None
    k, dk = ctx.fresh("k"), ctx.fresh("device_key")
    body = [f"{dk} = jax.random.fold_in({k}, lax.axis_index({_q(axis)}))",
            f"return jnp.where(jax.random.bernoulli({dk}, 0.9, {blk}.shape), {blk}, 0)"]
    lines = [*shift(use.lines, 1), *_call(ctx, fn, [blk, k], body, [_spec(axis), "P()"], _spec(axis), ["$0", use.subkeys[0]])]
    made = tuple(name for name, _ in use.made)
    return Statement((x, *use.inputs), tuple(lines), (x.spec, *(s for _, s in use.made)), (), (ctx.fresh("dropped"), *made))


def _two_axis(ctx: Draw) -> Statement | None:
    """Data and tensor parallelism at once on a 2-D mesh: psum over `model`, pmean over `data`."""
    mesh = _mesh(ctx)
    if len(mesh) < 2:
        return None
    (a0, n0), (a1, n1) = mesh.items()
    x = _divisible(ctx, 2, {0: n0, 1: n1}, "x", ("float32",))
    if x is None:
        return None
    _batch, d = x.spec.shape
    h = ctx.rng.choice([k for k in (4, 8, 16) if d * k <= MAX_ELEMENTS] or [1])
    w = ctx.need(TensorSpec((d, h), "float32"))
    blk, wb, fn = ctx.fresh("x_blk"), ctx.fresh("w_blk"), ctx.fresh("hybrid_loss")
    body = [f"return lax.pmean(jnp.mean(lax.psum({blk} @ {wb}, {_q(a1)}) ** 2), {_q(a0)})"]
    lines = _call(ctx, fn, [blk, wb], body, [_spec(a0, a1), _spec(a1)], "P()", ["$0", "$1"])
    return _piece((x, w), lines, [TensorSpec((), "float32")], ["loss"])


OPS = (
    sharded("parallel.batch_stats", _batch_stats, "data", (0,), weight=1.2),
    sharded("parallel.data_parallel_grads", _data_parallel_grads, "data", (0,), dtypes=F32),
    sharded("parallel.row_parallel", _row_parallel, "model", (1,)),
    sharded("parallel.fsdp", _fsdp, "data", (0, 1)),
    sharded("parallel.reduce_scatter", _reduce_scatter, "data", (0, 1), dtypes=F32),
    sharded("parallel.ring_shift", _ring_shift, "data", (0,), rank=(1, 2, 3)),
    sharded("parallel.all_to_all", _all_to_all, "model", (1, 2), rank=3),
    sharded("parallel.sharded_softmax", _sharded_softmax, "model", (1,), hint="logits", dtypes=F32, weight=0.8),
    sharded("parallel.shard_index", _shard_index, "data", (0,), weight=0.8),
    op("parallel.two_axis", CAT, (), _two_axis, weight=0.8, tags=TAGS),
)
