"""Automatic differentiation inside the program: `jax.grad`, `value_and_grad` (with `has_aux`),
`jvp`, `vjp`, `linearize`, `jacfwd` / `jacrev`, `hessian`, `jax.checkpoint`, functions with
`custom_jvp` / `custom_vjp` rules, and `lax.stop_gradient`.

The differentiated function is a nested `def` whose body is a drawn region (only statements
JAX can differentiate), closed over earlier values as a loss closes over its data, and reduced
to a scalar where the transformation needs one. Custom-rule functions are module-level helpers,
written as the JAX documentation writes them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from ..program import Value, tuple_literal
from ..specs import FLOAT, MAX_ELEMENTS, TensorSpec, python_scalar
from .base import BLOCK, Draw, Operand, Statement, fill, op, shift

CAT = ("autodiff",)
DIFF = Operand(FLOAT, 0, 4)  # a value to differentiate at
SMALL = 64  # inputs of jacobians and hessians: the result has size**2 elements

# A custom_vjp function as the JAX documentation writes one: `forward` of x, no residuals, and a
# backward rule that maps the cotangent g to `cotangent`.
CUSTOM_VJP = '''@jax.custom_vjp
def $name(x):
    return $forward


def ${name}_fwd(x):
    return $forward, None


def ${name}_bwd(_, g):
    return ($cotangent,)


$name.defvjp(${name}_fwd, ${name}_bwd)'''

# Module-level helpers with custom differentiation rules, by name: (source, has a JVP rule).
# custom_vjp functions have no forward-mode rule, so jvp / jacfwd / hessian never see them.
CUSTOM = {
    "log1pexp": ('''@jax.custom_jvp
def log1pexp(x):
    return jnp.log1p(jnp.exp(x))


@log1pexp.defjvp
def log1pexp_jvp(primals, tangents):
    (x,), (x_dot,) = primals, tangents
    return log1pexp(x), (1 - 1 / (1 + jnp.exp(x))) * x_dot''', True),
    "safe_log": ('''@jax.custom_jvp
def safe_log(x):
    return jnp.log(jnp.maximum(x, 1e-12))


@safe_log.defjvp
def safe_log_jvp(primals, tangents):
    (x,), (t,) = primals, tangents
    return safe_log(x), t / jnp.maximum(x, 1e-12)''', True),
    "safe_norm": ('''@jax.custom_jvp
def safe_norm(x):
    return jnp.sqrt(jnp.sum(jnp.square(x)))


@safe_norm.defjvp
def safe_norm_jvp(primals, tangents):
    (x,), (t,) = primals, tangents
    norm = safe_norm(x)
    return norm, jnp.sum(x * t) / jnp.maximum(norm, 1e-12)''', True),
    "clip_gradient": (fill(CUSTOM_VJP, named={"name": "clip_gradient", "forward": "x", "cotangent": "jnp.clip(g, -1.0, 1.0)"}), False),
    "straight_through_round": (fill(CUSTOM_VJP, named={"name": "straight_through_round", "forward": "jnp.round(x)", "cotangent": "g"}), False),
    "reverse_gradient": (fill(CUSTOM_VJP, named={"name": "reverse_gradient", "forward": "x", "cotangent": "-g"}), False),
}
SCALAR_HELPERS = ("safe_norm",)  # helpers that reduce to a scalar


@dataclass(frozen=True)
class Fn:
    """A nested function to transform: name, parameters, decorators, body lines, the value its
    body computes and what it returns, plus the outer values (`$0`, `$1`, ... in its own lines,
    read after the statement's other inputs) and helpers it uses."""

    name: str
    params: tuple[str, ...]
    decorators: tuple[str, ...]
    body: tuple[str, ...]
    value: str  # the last array the body computes (an aux output)
    returns: str
    out: TensorSpec
    captured: tuple[Value, ...]
    helpers: tuple[str, ...]

    def define(self, returns: str | None = None, extra: Sequence[str] = ()) -> tuple[str, ...]:
        body = (*self.body, *extra, f"return {returns or self.returns}")
        return (*self.decorators, f"def {self.name}({', '.join(self.params)}):", *("    " + line for line in body))


@dataclass(frozen=True)
class Loss:
    """A scalar reduction of a function's value: setup lines, the expression, what it reads
    (`$0`, `$1`, ... in the order of `captured`)."""

    lines: tuple[str, ...]
    expr: str
    captured: tuple[Value, ...]
    helpers: tuple[str, ...]


def _function(ctx: Draw, x: Value, scalar: bool, forward_mode: bool, arity: int = 1, hint: str = "f") -> Fn:
    """`def f(w[, b]): <drawn body>; return <value or a scalar loss of it>` for inputs like `x`."""
    rng = ctx.rng
    region = ctx.body([x.spec] * arity, hint="w", differentiable=True)
    params = tuple(p.name for p in region.params)
    body = list(region.lines)
    value = region.result.name
    helpers: list[str] = []
    if not body:  # an identity body is no function to differentiate: give it one line of math
        value = ctx.fresh("h")
        body.append(f"{value} = {rng.choice(['jnp.sin', 'jnp.tanh', 'jax.nn.softplus'])}({params[0]}) * {params[0]}")
    usable = [n for n, (_, jvp) in CUSTOM.items() if (jvp or not forward_mode) and n not in SCALAR_HELPERS]
    if rng.random() < 0.35:
        helper = rng.choice(usable)
        helpers.append(CUSTOM[helper][0])
        new = ctx.fresh("h")
        body.append(f"{new} = {helper}({f'jnp.abs({value}) + 1.0' if helper == 'safe_log' else value})")
        value = new
    if arity == 2:
        combined = ctx.fresh("h")
        body.append(f"{combined} = {value} * {params[1]}")
        value = combined
    returns, captured = value, ()
    if scalar:
        loss = _scalar_loss(ctx, x, value, params[0])
        body.extend(loss.lines)
        returns, captured = loss.expr, loss.captured
        helpers.extend(loss.helpers)
    decorators = (rng.choice(["@jax.checkpoint", "@jax.remat"]),) if rng.random() < 0.15 else ()
    out = TensorSpec((), x.spec.dtype) if scalar else x.spec
    return Fn(ctx.fresh(hint), params, decorators, tuple(body), value, returns, out, captured, tuple(helpers))


def _scalar_loss(ctx: Draw, x: Value, value: str, param: str) -> Loss:
    """Reduce `value` to a scalar as losses do: against a captured target, after max pooling,
    through stop_gradient, with a weight-decay term."""
    rng = ctx.rng
    targets = [v for v in ctx.values_of(x.spec) if v != x]
    roll = rng.random()
    captured: list[Value] = []
    lines: list[str] = []
    helpers: list[str] = []
    if roll < 0.25 and targets:
        target = rng.choice(targets)
        captured.append(target)
        t = "lax.stop_gradient($0)" if rng.random() < 0.4 else "$0"
        expr = f"jnp.mean(({value} - {t}) ** 2)"
    elif roll < 0.4 and x.spec.rank >= 2 and min(x.spec.shape[-2:]) >= 2:
        pooled = ctx.fresh("pooled")
        window = tuple_literal((1,) * (x.spec.rank - 2) + (2, 2))
        lines.append(f"{pooled} = lax.reduce_window({value}, -jnp.inf, lax.max, {window}, {window}, 'VALID')")
        expr = f"jnp.sum({pooled} ** 2)"
    elif roll < 0.5:
        expr = f"jnp.sum({value} * lax.stop_gradient({value}))"
    elif roll < 0.58:
        helpers.append(CUSTOM["safe_norm"][0])
        expr = f"safe_norm({value})"
    else:
        expr = rng.choice([f"jnp.sum({value} ** 2)", f"jnp.mean(jnp.tanh({value}))", f"0.5 * jnp.sum(jnp.square({value}))",
                           f"jnp.mean({value})", f"jnp.sum(jnp.abs({value}))", f"jax.nn.logsumexp({value})"])
    if rng.random() < 0.25:
        lam = ctx.argument(python_scalar("float32"), rng.choice(("weight_decay", "l2_reg")))
        scale = f"${len(captured)}" if lam is not None else rng.choice(('1e-4', '0.01'))
        if lam is not None:
            captured.append(lam)
        expr = f"{expr} + {scale} * jnp.sum({param} ** 2)"
    return Loss(tuple(lines), expr, tuple(captured), tuple(helpers))


def _small(ctx: Draw) -> Value | None:
    """A small float value to differentiate at, for Jacobians and Hessians (a new argument when
    none in scope is small enough)."""
    x = ctx.pick(Operand(FLOAT, 0, 2))
    if x is None or x.spec.size > SMALL:
        rng = ctx.rng
        shape = rng.choice([(rng.choice((2, 3, 4, 8, 16)),), (rng.choice((2, 3, 4)), rng.choice((2, 3, 4)))])
        return ctx.argument(TensorSpec(shape, rng.choice(("float32", "float32", "bfloat16"))), rng.choice(("x", "theta", "params_flat")))
    return x


def _piece(fn: Fn, inputs: Sequence[Value | None], lines: Sequence[str], specs: Sequence[TensorSpec],
           hints: Sequence[str], definition: Sequence[str] | None = None) -> Statement:
    """The statement of a transformation: `inputs` (`$0`, ...) read by `lines`, then the values `fn` captures."""
    explicit = tuple(v for v in inputs if v is not None)
    return Statement((*explicit, *fn.captured), (*shift(definition or fn.define(), len(explicit)), *lines),
                     tuple(specs), tuple(hints), (), fn.helpers)


# --- transformations ---------------------------------------------------------------------------
def _grad(ctx: Draw, x: Value) -> Statement | None:
    rng = ctx.rng
    if rng.random() < 0.3:  # two arguments, both differentiated
        y = ctx.need(x.spec)
        fn = _function(ctx, x, scalar=True, forward_mode=False, arity=2, hint="loss_fn")
        return _piece(fn, (x, y), [f"$out0, $out1 = jax.grad({fn.name}, argnums=(0, 1))($0, $1)"],
                      [x.spec, x.spec], ["grad_x", "grad_y"])
    fn = _function(ctx, x, scalar=True, forward_mode=False, hint="loss_fn")
    return _piece(fn, (x,), [f"$out0 = jax.grad({fn.name})($0)"], [x.spec], ["grads"])


def _value_and_grad(ctx: Draw, x: Value) -> Statement | None:
    fn = _function(ctx, x, scalar=True, forward_mode=False, hint="loss_fn")
    if ctx.rng.random() < 0.5:
        return _piece(fn, (x,), [f"$out0, $out1 = jax.value_and_grad({fn.name})($0)"], [fn.out, x.spec], ["loss", "grads"])
    # has_aux: the function also returns the array it computed on the way
    loss = ctx.fresh("loss")
    definition = fn.define(returns=f"{loss}, {fn.value}", extra=[f"{loss} = {fn.returns}"])
    return _piece(fn, (x,), [f"($out0, $out1), $out2 = jax.value_and_grad({fn.name}, has_aux=True)($0)"],
                  [fn.out, x.spec, x.spec], ["loss", "aux", "grads"], definition)


def _jvp(ctx: Draw, x: Value) -> Statement | None:
    fn = _function(ctx, x, scalar=False, forward_mode=True)
    tangent = ctx.rng.choice(["jnp.ones_like($0)", None])
    t_val = ctx.need(x.spec) if tangent is None else None
    t = tangent or "$1"
    return _piece(fn, (x, t_val), [f"$out0, $out1 = jax.jvp({fn.name}, ($0,), ({t},))"], [fn.out, fn.out], ["primal_out", "tangent_out"])


def _linearize(ctx: Draw, x: Value) -> Statement | None:
    fn = _function(ctx, x, scalar=False, forward_mode=True)
    t = ctx.need(x.spec)
    f_jvp = ctx.fresh("f_jvp")
    lines = [f"$out0, {f_jvp} = jax.linearize({fn.name}, $0)", f"$out1 = {f_jvp}($1)"]
    return _piece(fn, (x, t), lines, [fn.out, fn.out], ["y", "y_dot"])


def _vjp(ctx: Draw, x: Value) -> Statement | None:
    fn = _function(ctx, x, scalar=False, forward_mode=False)
    f_vjp = ctx.fresh("f_vjp")
    if ctx.rng.random() < 0.5:
        cotangent, ct_val = "jnp.ones_like($out0)", None
    else:
        ct_val = ctx.need(fn.out)
        cotangent = "$1"
    lines = [f"$out0, {f_vjp} = jax.vjp({fn.name}, $0)", f"($out1,) = {f_vjp}({cotangent})"]
    return _piece(fn, (x, ct_val), lines, [fn.out, x.spec], ["y", "x_bar"])


def _jacobian(ctx: Draw) -> Statement | None:
    x = _small(ctx)
    if x is None or x.spec.rank == 0:
        return None
    kind = ctx.rng.choice(("jax.jacfwd", "jax.jacrev", "jax.jacobian"))
    fn = _function(ctx, x, scalar=False, forward_mode=kind == "jax.jacfwd")
    out = x.spec.with_shape((*fn.out.shape, *x.spec.shape))
    return _piece(fn, (x,), [f"$out0 = {kind}({fn.name})($0)"], [out], ["jac"])


def _hessian(ctx: Draw) -> Statement | None:
    x = _small(ctx)
    if x is None or x.spec.rank == 0:
        return None
    fn = _function(ctx, x, scalar=True, forward_mode=True, hint="objective")
    form = ctx.rng.choice([f"jax.hessian({fn.name})", f"jax.jacfwd(jax.jacrev({fn.name}))"])
    out = x.spec.with_shape((*x.spec.shape, *x.spec.shape))
    return _piece(fn, (x,), [f"$out0 = {form}($0)"], [out], ["hess"])


def _checkpointed_grad(ctx: Draw, x: Value) -> Statement | None:
    """`jax.checkpoint` (remat) around a block inside a loss: the backward pass recomputes it."""
    rng = ctx.rng
    inner = _function(ctx, x, scalar=False, forward_mode=False, hint="block")
    loss_fn = ctx.fresh("loss_fn")
    policy = rng.choice(["", "", ", policy=jax.checkpoint_policies.nothing_saveable",
                         ", policy=jax.checkpoint_policies.dots_with_no_batch_dims_saveable", ", prevent_cse=False"])
    remat = ctx.fresh(f"{inner.name}_remat")
    lines = [
        f"{remat} = jax.checkpoint({inner.name}{policy})",
        f"def {loss_fn}(w):",
        f"    return jnp.sum({remat}({remat}(w)) ** 2)" if rng.random() < 0.5 else f"    return jnp.mean(jnp.tanh({remat}(w)))",
        f"$out0 = jax.grad({loss_fn})($0)",
    ]
    return _piece(inner, (x,), lines, [x.spec], ["grads"])


def _param_grads(ctx: Draw, x: Value) -> Statement | None:
    """Gradients of a loss with respect to a module's weights: a dict pytree in, a dict out."""
    rng = ctx.rng
    d_in, d_out = x.spec.shape[1], rng.choice((4, 8, 16))
    if x.spec.shape[0] * d_out > MAX_ELEMENTS:
        return None
    shapes = {"w": TensorSpec((d_in, d_out), "float32"), "b": TensorSpec((d_out,), "float32")}
    got = ctx.weights(rng.choice(("dense", "linear", "layer")), shapes)
    if got is None:
        return None
    p, tree = got
    loss_fn, grads = ctx.fresh("loss_fn"), ctx.fresh("grads")
    act = rng.choice(("jnp.tanh", "jax.nn.relu", "jax.nn.sigmoid"))
    h = ctx.fresh("out")
    lines = [f"def {loss_fn}(p):", f"    {h} = {act}($0 @ p['w'] + p['b'])",
             rng.choice([f"    return jnp.mean({h} ** 2)", f"    return -jnp.mean(jax.nn.log_softmax({h}))", f"    return jnp.sum({h})"])]
    keys = sorted(shapes)
    if rng.random() < 0.5:
        lines.append(f"{grads} = jax.grad({loss_fn})({p})")
        return Statement((x, *tree.values()), tuple(lines), tuple(shapes[k] for k in keys), (), tuple(f"{grads}[{k!r}]" for k in keys))
    lines.append(f"$out0, {grads} = jax.value_and_grad({loss_fn})({p})")
    return Statement((x, *tree.values()), tuple(lines), (TensorSpec((), "float32"), *(shapes[k] for k in keys)), (),
                 (ctx.fresh("loss"), *(f"{grads}[{k!r}]" for k in keys)))


def _custom_rule(ctx: Draw, x: Value) -> Statement | None:
    """A function with a custom JVP / VJP rule, applied (and often differentiated) in the program."""
    rng = ctx.rng
    name = rng.choice([n for n in CUSTOM if n not in SCALAR_HELPERS])
    arg = "jnp.abs($0) + 1.0" if name == "safe_log" else "$0"
    if rng.random() < 0.5:
        return Statement((x,), (f"$out0 = {name}({arg})",), (x.spec,), ("h",), (), (CUSTOM[name][0],))
    var = ctx.fresh("v")
    arg = f"jnp.abs({var}) + 1.0" if name == "safe_log" else var
    line = f"$out0 = jax.grad(lambda {var}: jnp.sum({name}({arg})))($0)"
    return Statement((x,), (line,), (x.spec,), ("grads",), (), (CUSTOM[name][0],))


def _stop_gradient(ctx: Draw, x: Value) -> Statement | None:
    """`lax.stop_gradient` as code uses it: a target network's output, a straight-through estimator."""
    rng = ctx.rng
    if rng.random() < 0.5 and x.spec.is_float:
        line = "$out0 = $0 + lax.stop_gradient(jnp.round($0) - $0)"  # straight-through rounding
        return Statement((x,), (line,), (x.spec,), ("quantized",))
    return Statement((x,), ("$out0 = lax.stop_gradient($0)",), (x.spec,), ("target",))


def _complex(ctx: Draw, z: Value) -> Statement | None:
    """Complex differentiation: `grad(..., holomorphic=True)` of an analytic function, or a JVP."""
    rng = ctx.rng
    f, w = ctx.fresh("f"), ctx.fresh("z")
    expr = rng.choice([f"jnp.sin({w}) * {w}", f"{w} ** 2 + 1j * {w}", f"jnp.exp({w}) / (1.0 + {w} ** 2)", f"jnp.log1p({w} * {w})"])
    if rng.random() < 0.6:
        lines = (f"def {f}({w}):", f"    return jnp.sum({expr})", f"$out0 = jax.grad({f}, holomorphic=True)($0)")
        return Statement((z,), lines, (z.spec,), ("dz",))
    lines = (f"def {f}({w}):", f"    return {expr}", f"$out0, $out1 = jax.jvp({f}, ($0,), (jnp.ones_like($0),))")
    return Statement((z,), lines, (z.spec, z.spec), ("y", "y_dot"))


OPS = (
    op("jax.grad", CAT, DIFF, _grad, weight=2.0, tags=BLOCK),
    op("jax.value_and_grad", CAT, DIFF, _value_and_grad, weight=1.5, tags=BLOCK),
    op("jax.jvp", CAT, DIFF, _jvp, tags=BLOCK),
    op("jax.linearize", CAT, DIFF, _linearize, weight=0.4, tags=BLOCK),
    op("jax.vjp", CAT, DIFF, _vjp, tags=BLOCK),
    op("jax.jacobian", CAT, (), _jacobian, tags=BLOCK),
    op("jax.hessian", CAT, (), _hessian, weight=0.6, tags=BLOCK),
    op("jax.checkpoint", CAT, DIFF, _checkpointed_grad, weight=0.8, tags=BLOCK),
    op("autodiff.param_grads", CAT, Operand(("float32",), 2, 2), _param_grads, weight=0.8, tags=BLOCK),
    op("jax.custom_jvp_vjp", CAT, DIFF, _custom_rule, weight=0.8, tags=BLOCK),
    op("lax.stop_gradient", CAT, DIFF, _stop_gradient, weight=0.5, tags=BLOCK),
    op("jax.grad_holomorphic", CAT, Operand(("complex64",), 1, 2), _complex, weight=0.4, tags=BLOCK),
)
