"""Structured control flow: `lax.cond` / `switch`, `while_loop` / `fori_loop`, `scan` / `map`,
select-style branching, static Python loops, and the region-shaped ops `optimization_barrier`
and `lax.composite`.

Bodies are regions the generator draws (`Draw.body`); ops tagged `nests` may themselves be
drawn inside a region of a `control_flow` program, which gives a cond inside a scan body and
the like. A differentiable op asks for differentiable regions, so the gradient always exists.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from functools import partial

from ..program import Tag, Value
from ..specs import ALL, BOOL, FLOAT, MAX_ELEMENTS, TensorSpec
from .base import Attrs, Draw, OpDecl, Operand, Region, Statement, assign, constant_literal, op, partner, same

CAT = ("control_flow",)
NESTS = (Tag.NESTS,)
CARRY = Operand((*FLOAT, "int32", "int8"))  # what a loop carry or branch operand may be
FLOATS = Operand(FLOAT)
SEQUENCE = Operand(CARRY.dtypes, 1, 4)  # what scan / map loop over: its leading axis
INT_SCALAR = Operand(("int32",), 0, 0)
BOOL_SCALAR = Operand(BOOL, 0, 0)
TRIP_COUNTS = (2, 3, 4, 5, 8, 10)
# Sorted bucket edges for a switch of k branches: k - 1 of them.
SWITCH_THRESHOLDS = {
    2: (("0.0",), ("0.5",), ("1.0",)),
    3: (("-0.5", "0.5"), ("0.0", "1.0"), ("0.1", "1.0")),
    4: (("-1.0", "0.0", "1.0"), ("0.25", "0.5", "0.75"), ("0.1", "1.0", "10.0")),
}
COMPOSITE_NAMES = ("mylib.fused_block", "custom.pointwise", "odml.activation", "project.kernel")


# --- rendering helpers --------------------------------------------------------------------
def define(name: str, params: Sequence[str], region: Region, prologue: Sequence[str] = (), returns: str | None = None) -> list[str]:
    """A region as a nested `def` with its own header, setup lines and return expression."""
    body = [*prologue, *region.lines]
    return [f"def {name}({', '.join(params)}):", *("    " + line for line in body), f"    return {returns or region.result.name}"]


def _drawn_region(ctx: Draw, spec: TensorSpec, hint: str, differentiable: bool) -> Region | None:
    """A region that does something (at least one statement), or None."""
    region = ctx.body([spec], hint=hint, differentiable=differentiable)
    return region if region.lines else None


def _data_predicate(rng: random.Random, name: str, spec: TensorSpec) -> str:
    """A scalar bool computed from a value, as code branches on its data."""
    if spec.rank == 0:
        return rng.choice([f"{name} > 0", f"{name} < {constant_literal(rng, spec.dtype)}"])
    forms = [f"jnp.sum({name}) > 0", f"jnp.max({name}) > {constant_literal(rng, spec.dtype)}", f"jnp.all({name} >= 0)", f"jnp.any({name} < 0)"]
    if spec.is_float:
        forms += [f"jnp.mean({name}) > 0.5", f"jnp.linalg.norm({name}) < 1.0", f"jnp.any(jnp.isnan({name}))"]
    return rng.choice(forms)


def _predicate(ctx: Draw, x: Value) -> tuple[str, tuple[Value, ...]]:
    """The predicate of a cond: a flag or step-count argument now and then, else the data."""
    roll = ctx.rng.random()
    if roll < 0.15:
        flag = ctx.pick(BOOL_SCALAR)
        if flag is not None:
            return "$1", (flag,)
    elif roll < 0.3:
        step = ctx.pick(INT_SCALAR)
        if step is not None:
            return ctx.rng.choice(["$1 > 0", "$1 % 2 == 0", "$1 < 10"]), (step,)
    return _data_predicate(ctx.rng, "$0", x.spec), ()


# --- lax.cond -----------------------------------------------------------------------------
def _cond(ctx: Draw, x: Value, then: Region) -> Statement:
    # One branch is often the identity: "apply the update only when ...".
    other = None if ctx.rng.random() < 0.25 else _drawn_region(ctx, x.spec, "v", True)
    pred, extra = _predicate(ctx, x)
    then_name, else_name = ctx.fresh("true_fn"), ctx.fresh("false_fn")
    lines = define(then_name, [p.name for p in then.params], then)
    if other is not None:
        lines += define(else_name, [p.name for p in other.params], other)
        false_fn = else_name
    else:
        false_fn = "lambda v: v"
    lines.append(f"$out0 = lax.cond({pred}, {then_name}, {false_fn}, $0)")
    return Statement((x, *extra), tuple(lines), (x.spec,))


def _cond_pair(ctx: Draw, x: Value) -> Statement | None:
    """A cond over two operands that returns both, each branch updating each."""
    y = ctx.pick(CARRY)
    if y is None or x.name == y.name:
        return None
    branches = []
    for _ in range(2):
        first, second = _drawn_region(ctx, x.spec, "a", True), ctx.body([y.spec], hint="b", differentiable=True)
        if first is None:
            return None
        branches.append((first, second))
    pred, names = _data_predicate(ctx.rng, "$0", x.spec), (ctx.fresh("true_fn"), ctx.fresh("false_fn"))
    lines: list[str] = []
    for name, (first, second) in zip(names, branches, strict=True):
        params = [first.params[0].name, second.params[0].name]
        merged = Region(first.params + second.params, first.lines + second.lines, first.result)
        lines += define(name, params, merged, returns=f"{first.result.name}, {second.result.name}")
    lines.append(f"$out0, $out1 = lax.cond({pred}, {names[0]}, {names[1]}, $0, $1)")
    return Statement((x, y), tuple(lines), (x.spec, y.spec))


# --- lax.switch ---------------------------------------------------------------------------
def _switch(ctx: Draw, x: Value) -> Statement | None:
    k = ctx.rng.choice([2, 3, 3, 4])
    branches = [ctx.body([x.spec], hint="v", differentiable=True) for _ in range(k)]
    defined = sum(1 for b in branches if b.lines)  # the others are the identity, a lambda
    if defined < 2:
        return None
    extra: tuple[Value, ...] = ()
    # The index is a mode or step argument most often (`lax.switch(layer_kind, ...)`), else a
    # statistic bucketed by thresholds, as piecewise schedules and regime switches do.
    mode = ctx.pick(INT_SCALAR) if ctx.rng.random() < 0.5 else None
    if mode is not None:
        index = ctx.rng.choice([f"$1 % {k}", f"jnp.clip($1, 0, {k - 1})", "$1"])
        extra = (mode,)
    elif x.spec.is_float:
        thresholds = ", ".join(ctx.rng.choice(SWITCH_THRESHOLDS[k]))
        positive = ", ".join(ctx.rng.choice([t for t in SWITCH_THRESHOLDS[k] if not t[0].startswith("-")]))
        index = ctx.rng.choice([
            f"jnp.clip(jnp.floor(jnp.mean($0) * {k}).astype(jnp.int32), 0, {k - 1})",
            f"jnp.digitize(jnp.mean($0), jnp.array([{thresholds}]))",
            f"jnp.searchsorted(jnp.array([{positive}]), jnp.max(jnp.abs($0)))",
        ])
    else:
        index = f"jnp.minimum(jnp.sum($0 > 0), {k - 1})"
    lines: list[str] = []
    fns = []
    names = iter(ctx.fresh_family("branch_fn", defined))
    for branch in branches:
        if branch.lines:
            name = next(names)
            lines += define(name, [branch.params[0].name], branch)
            fns.append(name)
        else:
            fns.append("lambda v: v")
    lines.append(f"$out0 = lax.switch({index}, [{', '.join(fns)}], $0)")
    return Statement((x, *extra), tuple(lines), (x.spec,))


# --- while_loop / fori_loop ---------------------------------------------------------------
def _while(ctx: Draw, x: Value, region: Region) -> Statement:
    extra: tuple[Value, ...] = ()
    limit = str(ctx.rng.choice(TRIP_COUNTS))
    if ctx.rng.random() < 0.3:
        bound = ctx.pick(INT_SCALAR)
        if bound is not None:  # a computed bound is capped: int32 arithmetic reaches 2**31 steps
            limit, extra = ("$1" if ctx.is_argument(bound) else f"jnp.minimum($1, {limit})"), (bound,)
    # Names the rendered defs bind are fresh too, so they never shadow a value the loop reads.
    i, state, value = ctx.fresh("i"), ctx.fresh("state"), region.params[0].name
    if x.spec.is_float and ctx.rng.random() < 0.4:
        tol = ctx.rng.choice(["1e-3", "1e-2", "0.5"])
        cond, unpacked = f"({i} < {limit}) & (jnp.max(jnp.abs({value})) > {tol})", f"{i}, {value}"
    else:
        cond, unpacked = f"{i} < {limit}", f"{i}, _"
    cond_name, body_name = ctx.fresh("cond_fn"), ctx.fresh("body_fn")
    lines = (
        f"def {cond_name}({state}):",
        f"    {unpacked} = {state}",
        f"    return {cond}",
        *define(body_name, [state], region, prologue=[f"{i}, {value} = {state}"], returns=f"{i} + 1, {region.result.name}"),
        f"$out0, $out1 = lax.while_loop({cond_name}, {body_name}, (0, $0))",
    )
    return Statement((x, *extra), lines, (TensorSpec((), "int32"), x.spec))


def _fori(ctx: Draw, x: Value, region: Region, traced: bool) -> Statement | None:
    extra: tuple[Value, ...] = ()
    if traced:  # a step count people pass in (`num_steps`), not one computed from the data
        bound = ctx.pick(INT_SCALAR)
        if bound is None:
            return None
        upper, extra = ctx.rng.choice(["$1", "jnp.minimum($1, 16)"]), (bound,)
        if not ctx.is_argument(bound):  # as in `_while`: only an argument's bound is its recorded domain's
            upper = "jnp.minimum($1, 16)"
    else:
        upper = str(ctx.rng.choice(TRIP_COUNTS))
    param = region.params[0].name
    carry, i = ctx.fresh("carry"), ctx.fresh("i")
    prologue = []
    roll = ctx.rng.random()
    if roll < 0.35:  # the step index feeds the update
        prologue = [f"{param} = {carry} + lax.convert_element_type({i}, {carry}.dtype)"]
    elif roll < 0.6 and (outer := partner(ctx, x)) is not None:  # the body closes over an enclosing value
        extra = (*extra, outer)
        prologue = [f"{param} = {carry} {ctx.rng.choice(['*', '+'])} ${len(extra)}"]
    else:
        carry = param
    unroll = ", unroll=2" if not traced and ctx.rng.random() < 0.2 else ""
    lower = ctx.rng.choice(["0", "0", "1"])
    name = ctx.fresh("body_fn")
    lines = (*define(name, [i, carry], region, prologue=prologue), f"$out0 = lax.fori_loop({lower}, {upper}, {name}, $0{unroll})")
    return Statement((x, *extra), lines, (x.spec,))


# --- scan / map ---------------------------------------------------------------------------
def _scan_mix(rng: random.Random, carry: str, x: str, spec: TensorSpec) -> str:
    forms = [f"{carry} + {x}", f"jnp.maximum({carry}, {x})"]
    if spec.is_float:
        decay = rng.choice(["0.9", "0.5", "0.99"])
        forms += [f"{decay} * {carry} + {x}", f"{decay} * {carry} + (1 - {decay}) * {x}"]
    return rng.choice(forms)


def _scan(ctx: Draw, xs: Value, region: Region) -> Statement:
    """`carry, ys = lax.scan(step, init, xs)`: a running state over the leading axis, stacked outputs."""
    spec = xs.spec.with_shape(xs.spec.shape[1:])
    carry, x_t = ctx.fresh("carry"), ctx.fresh("x_t")
    roll = ctx.rng.random()
    init_input: tuple[Value, ...] = ()
    if roll < 0.4:
        init = "jnp.zeros_like($0[0])"
    elif roll < 0.6:
        init = "$0[0]"
    else:
        init, init_input = "$1", (ctx.need(spec),)
    length = xs.spec.shape[0]
    if ctx.rng.random() < 0.5:
        y, ys_spec = region.result.name, xs.spec
    else:
        reduce = "jnp.mean" if spec.is_float else "jnp.max"
        y, ys_spec = f"{reduce}({region.result.name})", TensorSpec((length,), spec.dtype)
    kw = ""
    if ctx.rng.random() < 0.25:
        kw += ", reverse=True"
    if ctx.rng.random() < 0.15:
        kw += ", unroll=2"
    mix = _scan_mix(ctx.rng, carry, x_t, spec)
    closure: tuple[Value, ...] = ()
    if ctx.rng.random() < 0.3:  # the step closes over a value of the enclosing function
        closure = (ctx.need(spec),)
        mix = f"{carry} * ${1 + len(init_input)} + {x_t}"
    name = ctx.fresh("step_fn")
    step = define(name, [carry, x_t], region, prologue=[f"{region.params[0].name} = {mix}"], returns=f"{region.result.name}, {y}")
    lines = (*step, f"$out0, $out1 = lax.scan({name}, {init}, $0{kw})")
    return Statement((xs, *init_input, *closure), lines, (spec, ys_spec))


def _scan_length(ctx: Draw, x: Value, region: Region) -> Statement:
    """`lax.scan(step, init, None, length=T)`: iterate a state, keep its trajectory."""
    length = ctx.rng.choice(TRIP_COUNTS)
    trajectory = x.spec.with_shape((length, *x.spec.shape))
    name = ctx.fresh("step_fn")
    keep = trajectory.size <= MAX_ELEMENTS and ctx.rng.random() < 0.6
    carry = region.params[0].name
    step = define(name, [carry, "_"], region, returns=f"{region.result.name}, {region.result.name if keep else 'None'}")
    targets = "$out0, $out1" if keep else "$out0, _"
    lines = (*step, f"{targets} = lax.scan({name}, $0, None, length={length})")
    return Statement((x,), lines, (x.spec, trajectory) if keep else (x.spec,))


def _map(ctx: Draw, xs: Value, region: Region) -> Statement:
    n = xs.spec.shape[0]
    batch = [b for b in (2, 4) if n % b == 0 and n > b]
    size = ctx.rng.choice(batch) if batch and ctx.rng.random() < 0.3 else 0
    kw = f", batch_size={size}" if size else ""
    name = ctx.fresh("per_row")
    lines = (*define(name, [region.params[0].name], region), f"$out0 = lax.map({name}, $0{kw})")
    return Statement((xs,), lines, (xs.spec,))


# --- static Python loops, barriers, composites --------------------------------------------
def _python_loop(ctx: Draw, x: Value, region: Region) -> Statement:
    state = region.params[0].name
    lines = (
        f"{state} = $0",
        f"for _ in range({ctx.rng.choice([2, 3, 4])}):",
        *("    " + line for line in region.lines),
        f"    {state} = {region.result.name}",
        f"$out0 = {state}",
    )
    return Statement((x,), lines, (x.spec,))


def _barrier_pair(ctx: Draw, a: Value) -> Statement | None:
    b = ctx.pick(Operand(ALL))
    if b is None or a.name == b.name:
        return None
    return Statement((a, b), ("$out0, $out1 = lax.optimization_barrier(($0, $1))",), (a.spec, b.spec))


def _composite(ctx: Draw, x: Value, region: Region) -> Statement:
    name, kind = ctx.fresh("decomposition"), ctx.rng.choice(COMPOSITE_NAMES)
    lines = (*define(name, [region.params[0].name], region), f'$out0 = lax.composite({name}, name="{kind}")($0)')
    return Statement((x,), lines, (x.spec,))


# --- select-style branching ---------------------------------------------------------------
def _piecewise_attrs(rng: random.Random, specs: Sequence[TensorSpec]) -> Attrs:
    lo, hi = rng.choice([("-1.0", "1.0"), ("0.0", "1.0"), ("-3.0", "3.0")])
    return {"lo": lo, "hi": hi, "a": rng.choice(["0.1", "0.01", "0.5"]), "b": rng.choice(["2.0", "0.5", "1.5"])}


def _select_n(ctx: Draw, x: Value) -> Statement | None:
    """`lax.select_n`: two cases picked by a mask, or three by an index 0 / 1 / 2 from two thresholds."""
    cases: list[Value] = []
    for _ in range(ctx.rng.choice([1, 2])):
        other = partner(ctx, x)
        if other is None or any(other.name == c.name for c in cases):
            break
        cases.append(other)
    if not cases:
        return None
    which = "$0 > 0" if len(cases) == 1 else "($0 > 0).astype(jnp.int32) + ($0 > 1).astype(jnp.int32)"
    args = ", ".join(f"${i}" for i in range(len(cases) + 1))
    return assign(f"lax.select_n({which}, {args})", (x, *cases), (x.spec,))


def body_op(name: str, draw: Callable[[Draw, Value, Region], Statement | None], operand: Operand = CARRY, hint: str = "v",
            per_row: bool = False, out_names: Sequence[str] = ("h",), differentiable: bool = True, weight: float = 1.0,
            nests: bool = True) -> OpDecl:
    """A region op over one value: pick a value that fits `operand`, draw a body over it (over one
    row of it when `per_row`: scan and map loop over the leading axis) that is differentiable when
    the op is, then let `draw` write the rest. A body with no statement does nothing: no op."""

    def with_body(ctx: Draw, x: Value) -> Statement | None:
        spec = x.spec.with_shape(x.spec.shape[1:]) if per_row else x.spec
        region = _drawn_region(ctx, spec, hint, differentiable)
        return None if region is None else draw(ctx, x, region)

    return op(name, CAT, operand, with_body, out_names=out_names, differentiable=differentiable, weight=weight, tags=NESTS if nests else ())


OPS = (
    body_op("lax.cond_branches", _cond, out_names=("branch",), weight=1.5),
    op("lax.cond_pair", CAT, CARRY, _cond_pair, out_names=("first", "second"), weight=0.6),
    op("lax.switch", CAT, CARRY, _switch, out_names=("routed",), weight=1.2, tags=NESTS),
    body_op("lax.while_loop", _while, out_names=("steps", "state"), differentiable=False, weight=0.5, nests=False),
    body_op("lax.fori_loop", partial(_fori, traced=False), out_names=("acc",)),
    body_op("lax.fori_loop_traced", partial(_fori, traced=True), out_names=("acc",), differentiable=False, weight=0.3, nests=False),
    body_op("lax.scan", _scan, operand=SEQUENCE, hint="h", per_row=True, out_names=("final", "ys"), weight=2.0, nests=False),
    body_op("lax.scan_length", _scan_length, hint="h", out_names=("state", "trajectory")),
    body_op("lax.map", _map, operand=SEQUENCE, hint="row", per_row=True, out_names=("mapped",), weight=0.8),
    body_op("python_loop", _python_loop, out_names=("h",), weight=0.7),
    body_op("lax.composite", _composite, operand=FLOATS, out_names=("fused",), differentiable=False, weight=0.2, nests=False),
    op("lax.optimization_barrier_pair", CAT, Operand(ALL), _barrier_pair, out_names=("held",), weight=0.3),
    op("lax.optimization_barrier", CAT, (Operand(ALL),), "lax.optimization_barrier($0)", same, out_names=("held",), weight=0.3),
    op("jnp.select", CAT, (FLOATS,), "jnp.select([$0 < $lo, $0 > $hi], [$0 * $a, $0 * $b], $0)", same, attrs=_piecewise_attrs, out_names=("piecewise",), tags=NESTS, weight=0.6),
    op("jnp.piecewise", CAT, (FLOATS,), "jnp.piecewise($0, [$0 < $lo, $0 > $hi], [lambda v: v * $a, lambda v: v * $b, jnp.tanh])", same, attrs=_piecewise_attrs, out_names=("piecewise",), tags=NESTS, weight=0.5),
    op("lax.select_n", CAT, Operand((*FLOAT, "int32")), _select_n, out_names=("chosen",), weight=0.5),
    op("where_finite", CAT, (FLOATS,), "jnp.where(jnp.isfinite($0), $0, 0.0)", same, out_names=("safe",), tags=NESTS, weight=0.4),
    op("where_mask_fill", CAT, (FLOATS,), "jnp.where($1, $0, -jnp.inf)", same, partners=lambda r, s: [s.with_dtype("bool")], out_names=("masked",), weight=0.4),
)
