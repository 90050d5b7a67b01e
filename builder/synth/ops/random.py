"""Randomness as JAX code does it: explicit PRNG keys, split / fold_in, and `jax.random` samplers.

A program gets its key the way real code does: as a `key` argument (the `uint32[2]` layout of
`jax.random.PRNGKey`), or from a `seed` argument (`jax.random.key(seed)`, sometimes with the
`rbg` implementation, which lowers to `stablehlo.rng_bit_generator`). Each sampler takes a
fresh subkey: `key, subkey = jax.random.split(key)` rebinds the key, as code threads it, so
later samplers draw fresh bits. Keys are never returned (`TYPED_KEYS` values stay internal).

`draw_keys` is shared with the `nn` (dropout), `vmap` (per-example keys) and `parallel`
(per-device streams) tables, which ask for threefry keys as model code does: the rbg
implementations, and so `stablehlo.rng_bit_generator`, stay this category's own.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from ..program import Value, tuple_literal
from ..specs import FLOAT, TensorSpec, python_scalar
from .base import BLOCK, Draw, OpDecl, Operand, Statement, op, shift

CAT = ("random",)
RAW_KEY = TensorSpec((2,), "uint32")  # jax.random.PRNGKey(seed): threefry key data
RBG_STATE = TensorSpec((4,), "uint32")  # the state lax.rng_bit_generator threads
TYPED_KEYS = {  # jax.random.key(seed, impl=...): typed key arrays, made inside the program
    "jax.random.key($0)": TensorSpec((), "key<fry>"),
    'jax.random.key($0, impl="rbg")': TensorSpec((), "key<rbg>"),
    'jax.random.key($0, impl="unsafe_rbg")': TensorSpec((), "key<urbg>"),
}
KEY_SPECS = (RAW_KEY, *TYPED_KEYS.values())
THREEFRY_KEYS = (RAW_KEY, TYPED_KEYS["jax.random.key($0)"])
FLOATS = Operand(FLOAT)


@dataclass(frozen=True)
class KeyUse:
    """How an op gets its subkeys: the key (or seed) it reads, the lines that make and split
    the key (reading it as `$0`: `shift` them when the statement reads other inputs first),
    the subkey expressions to sample with, and keys it brings into scope."""

    inputs: tuple[Value, ...]
    lines: tuple[str, ...]
    subkeys: tuple[str, ...]
    made: tuple[tuple[str, TensorSpec], ...] = ()


def _source(ctx: Draw, threefry: bool) -> tuple[tuple[Value, ...], list[str], str, tuple[tuple[str, TensorSpec], ...]] | None:
    """The key to split: one in scope, a new `key` argument, or one made from a seed
    (a threefry key when `threefry`: some samplers exist for no other implementation)."""
    rng = ctx.rng
    specs = THREEFRY_KEYS if threefry else KEY_SPECS
    existing = [v for spec in specs for v in ctx.values_of(spec) if v.uid == 0 or spec != RAW_KEY]  # a key argument, or a typed key
    if existing:
        key = rng.choice(existing)
        return (key,), [], "$0", ()
    if rng.random() < 0.65:
        arg = ctx.argument(RAW_KEY, rng.choice(("key", "key", "key", "rng", "prng_key")))
        if arg is not None:
            return (arg,), [], "$0", ()
    seed_spec = python_scalar("int32") if rng.random() < 0.5 else TensorSpec((), "int32")
    seed = ctx.argument(seed_spec, "seed")
    if seed is None:  # a key comes in from the caller, never from a literal seed
        return None
    # typed keys only: a key made here is internal and never returned, which its dtype says
    form = rng.choice(["jax.random.key($0)"] * 2 + ([] if threefry else list(TYPED_KEYS)))
    spec = TYPED_KEYS[form]
    name = ctx.fresh("key")
    return (seed,), [f"{name} = {form}"], name, ((name, spec),)


def draw_keys(ctx: Draw, n: int = 1, threefry: bool = False) -> KeyUse | None:
    """`n` fresh subkeys split off the program's key, which is rebound so no key is used twice
    (`key, subkey = jax.random.split(key)`); None when no key can come in as an argument."""
    rng = ctx.rng
    source = _source(ctx, threefry)
    if source is None:
        return None
    inputs, lines, key, made = source
    style = rng.random()
    if style < 0.7 or n > 1:  # thread the key: key, subkey = jax.random.split(key)
        subs = [ctx.fresh("subkey") for _ in range(n)]
        count = f", {n + 1}" if n > 1 else ""
        lines.append(f"{key}, {', '.join(subs)} = jax.random.split({key}{count})")
    else:  # a stream per purpose: fold in a step, then thread the folded key
        sub = ctx.fresh(rng.choice(("step_key", "layer_key", "noise_key")))
        lines.append(f"{key}, {sub} = jax.random.split(jax.random.fold_in({key}, {rng.randint(0, 99)}))")
        subs = [sub]
    return KeyUse(inputs, tuple(lines), tuple(subs), made)


def _dtype_kw(rng: random.Random, dtype: str, default: str = "float32") -> str:
    return "" if dtype == default and rng.random() < 0.7 else f", dtype=jnp.{dtype}"


def _sample_like(ctx: Draw, operand: Operand) -> tuple[Value | None, TensorSpec, str]:
    """The shape to sample: an existing value's (`x.shape`), or a fresh literal shape."""
    if ctx.rng.random() < 0.6:
        like = ctx.pick(operand)
        if like is not None:
            return like, like.spec, "$0.shape"  # the sample's first input
    spec = ctx.random_spec(operand)
    return None, spec, tuple_literal(spec.shape)


def sampler(name: str, draw_sample: Callable[[Draw], Statement | None], keys: int = 1, weight: float = 1.0,
            differentiable: bool = True, categories: Sequence[str] = CAT, threefry: bool = False) -> OpDecl:
    """A block that draws a sample with `keys` fresh subkeys (`$k0`, `$k1`, ... in its lines),
    after the lines that make and split the key. Keys it brings into scope are results too."""

    def draw(ctx: Draw) -> Statement | None:
        sample = draw_sample(ctx)
        if sample is None:
            return None
        use = draw_keys(ctx, keys, threefry) if keys else KeyUse((), (), ())
        if use is None:
            return None
        names = (*(ctx.fresh(h) for h in sample.hints), *(n for n, _ in use.made))
        return Statement((*use.inputs, *sample.inputs), (*use.lines, *shift(sample.lines, len(use.inputs))), (*sample.outputs, *(s for _, s in use.made)),
                         names=names, attrs={f"k{i}": k for i, k in enumerate(use.subkeys)})

    return op(name, categories, (), draw, differentiable=differentiable, weight=weight, tags=BLOCK)


def _piece(inputs: Sequence[Value | None], lines: Sequence[str], specs: Sequence[TensorSpec], hints: Sequence[str]) -> Statement:
    return Statement(tuple(v for v in inputs if v is not None), tuple(lines), tuple(specs), tuple(hints))


# --- samplers ---------------------------------------------------------------------------------
# Each returns a Statement (or None): lines name the results $out0, $out1, ... and the subkeys $k0, $k1, ...
def _noise(ctx: Draw):
    x = ctx.pick(FLOATS)
    if x is None:
        return None
    scale = ctx.rng.choice(["0.1", "0.01", "1e-3", "0.5", "sigma"])
    inputs: tuple[Value, ...] = (x,)
    if scale == "sigma":
        sigma = ctx.argument(python_scalar("float32"), ctx.rng.choice(("sigma", "noise_scale", "std")))
        scale = "$1" if sigma is not None else "0.1"
        inputs += (sigma,) if sigma is not None else ()
    sample = ctx.rng.choice(["normal", "normal", "uniform", "laplace", "logistic"])
    draw = f"jax.random.{sample}($k0, $0.shape, $0.dtype)"
    return _piece(inputs, [f"$out0 = $0 + {scale} * {draw}"], [x.spec], ["noisy"])


def _plain(kind: str, hint: str = "sample", default: str = "float32"):
    """`jax.random.<kind>(subkey, shape, dtype)` for a float shape."""

    def draw(ctx: Draw):
        like, spec, shape = _sample_like(ctx, Operand(FLOAT, 0, 3))
        if like is not None and ctx.rng.random() < 0.5:
            kw, dtype = ", $0.dtype", like.spec.dtype
        else:
            kw = _dtype_kw(ctx.rng, spec.dtype, default)
            dtype = spec.dtype if kw else default
        inputs = (like,) if like is not None else ()
        return _piece(inputs, [f"$out0 = jax.random.{kind}($k0, {shape}{kw})"], [spec.with_dtype(dtype)], [hint])

    return draw


def _uniform(ctx: Draw):
    like, spec, shape = _sample_like(ctx, Operand(FLOAT, 0, 3))
    lo, hi = ctx.rng.choice([("-1.0", "1.0"), ("0.0", "1.0"), ("-0.1", "0.1"), ("-3.0", "3.0")])
    kw = _dtype_kw(ctx.rng, spec.dtype)
    dtype = spec.dtype if kw else "float32"
    inputs = (like,) if like is not None else ()
    return _piece(inputs, [f"$out0 = jax.random.uniform($k0, {shape}{kw}, minval={lo}, maxval={hi})"], [spec.with_dtype(dtype)], ["u"])


def _init(ctx: Draw):
    """A weight matrix from a `jax.nn.initializers` initializer."""
    rng = ctx.rng
    fan_in, fan_out = rng.choice((4, 8, 16, 32, 64)), rng.choice((4, 8, 16, 32))
    init = rng.choice(["he_normal()", "glorot_uniform()", "lecun_normal()", "glorot_normal()", "he_uniform()",
                       "normal(stddev=0.02)", "truncated_normal(stddev=0.02)", "variance_scaling(1.0, 'fan_avg', 'uniform')",
                       "orthogonal()"])
    # orthogonal() runs a QR decomposition, which LAPACK offers for float32 and wider only
    dtype = "float32" if init == "orthogonal()" else rng.choice(["float32", "float32", "bfloat16", "float16"])
    spec = TensorSpec((fan_in, fan_out), dtype)
    return _piece((), [f"$out0 = jax.nn.initializers.{init}($k0, {tuple_literal(spec.shape)}, jnp.{dtype})"], [spec], ["w_init"])


def _bernoulli(ctx: Draw):
    like, spec, shape = _sample_like(ctx, Operand((*FLOAT, "int32"), 0, 4))
    p = ctx.rng.choice(["0.5", "0.9", "0.1", "keep_prob"])
    inputs: tuple[Value, ...] = (like,) if like is not None else ()
    if p == "keep_prob":
        arg = ctx.argument(python_scalar("float32"), "keep_prob")
        p = f"${len(inputs)}" if arg is not None else "0.8"
        inputs += (arg,) if arg is not None else ()
    return _piece(inputs, [f"$out0 = jax.random.bernoulli($k0, {p}, {shape})"], [spec.with_dtype("bool")], ["mask"])


def _categorical(ctx: Draw):
    logits = ctx.pick(Operand(FLOAT, 1, 3))
    if logits is None:
        return None
    rank = logits.spec.rank
    axis = ctx.rng.choice([-1, -1, 0, rank - 1])
    shape = tuple(d for i, d in enumerate(logits.spec.shape) if i != axis % rank)
    kw = "" if axis == -1 and ctx.rng.random() < 0.6 else f", axis={axis}"
    temp = ctx.rng.random() < 0.3
    expr = "$0 / temperature" if temp else "$0"
    inputs: tuple[Value, ...] = (logits,)
    if temp:
        t = ctx.argument(python_scalar("float32"), "temperature")
        expr = "$0 / $1" if t is not None else "$0 / 0.7"
        inputs += (t,) if t is not None else ()
    return _piece(inputs, [f"$out0 = jax.random.categorical($k0, {expr}{kw})"], [TensorSpec(shape, "int32")], ["choice"])


def _gumbel_softmax(ctx: Draw):
    logits = ctx.pick(Operand(("float32",), 1, 3))
    if logits is None:
        return None
    t = ctx.argument(python_scalar("float32"), "temperature")
    temp = "$1" if t is not None else ctx.rng.choice(["0.5", "1.0", "0.1"])
    inputs = (logits, t) if t is not None else (logits,)
    lines = [
        "$out0 = jax.random.gumbel($k0, $0.shape)",
        f"$out1 = jax.nn.softmax(($0 + $out0) / {temp}, axis=-1)",
    ]
    return _piece(inputs, lines, [logits.spec, logits.spec], ["gumbel", "soft_sample"])


def _reparameterize(ctx: Draw):
    mean = ctx.pick(FLOATS)
    if mean is None:
        return None
    logvar = ctx.need(mean.spec)
    line = "$out0 = $0 + jnp.exp(0.5 * $1) * jax.random.normal($k0, $0.shape, $0.dtype)"
    return _piece((mean, logvar), [line], [mean.spec], ["z"])


def _permutation(ctx: Draw):
    x = ctx.pick(Operand((*FLOAT, "int32"), 1, 3))
    if x is None:
        return None
    if ctx.rng.random() < 0.5:
        axis = ctx.rng.randrange(x.spec.rank)
        kw = f", axis={axis}" if axis or ctx.rng.random() < 0.3 else ""
        return _piece((x,), [f"$out0 = jax.random.permutation($k0, $0{kw})"], [x.spec], ["shuffled"])
    n = x.spec.shape[0]
    lines = ["$out0 = jax.random.permutation($k0, $0.shape[0])", "$out1 = $0[$out0]"]
    return _piece((x,), lines, [TensorSpec((n,), "int32"), x.spec], ["perm", "shuffled"])


def _randint(ctx: Draw):
    like, spec, shape = _sample_like(ctx, Operand((*FLOAT, "int32"), 0, 3))
    hi = ctx.rng.choice(["10", "100", "2", "256"])
    dtype = ctx.rng.choice(["int32", "int32", "int32", "int8", "uint8"])
    if dtype != "int32":
        hi = ctx.rng.choice(["10", "100", "2"])
    kw = "" if dtype == "int32" else f", dtype=jnp.{dtype}"
    inputs = (like,) if like is not None else ()
    return _piece(inputs, [f"$out0 = jax.random.randint($k0, {shape}, 0, {hi}{kw})"], [spec.with_dtype(dtype)], ["idx"])


def _truncated_normal(ctx: Draw):
    like, spec, shape = _sample_like(ctx, Operand(FLOAT, 0, 3))
    lo, hi = ctx.rng.choice([("-2.0", "2.0"), ("-1.0", "1.0"), ("0.0", "3.0")])
    kw = _dtype_kw(ctx.rng, spec.dtype)
    inputs = (like,) if like is not None else ()
    return _piece(inputs, [f"$out0 = jax.random.truncated_normal($k0, {lo}, {hi}, {shape}{kw})"], [spec.with_dtype(spec.dtype if kw else "float32")], ["w_init"])


def _choice(ctx: Draw):
    rng = ctx.rng
    x = ctx.pick(Operand((*FLOAT, "int32"), 1, 2))
    if x is None:
        return None
    n = x.spec.shape[0]
    k = rng.randint(1, n)
    replace = rng.random() < 0.5
    kw = "" if replace else ", replace=False"
    if rng.random() < 0.5:
        line = f"$out0 = jax.random.choice($k0, $0, ({k},){kw})"
        return _piece((x,), [line], [x.spec.with_shape((k, *x.spec.shape[1:]))], ["picked"])
    probs = f"jax.nn.softmax(jnp.arange({n}, dtype=jnp.float32))"
    line = f"$out0 = jax.random.choice($k0, {n}, ({k},){kw}, p={probs})"
    return _piece((x,), [line, "$out1 = $0[$out0]"], [TensorSpec((k,), "int32"), x.spec.with_shape((k, *x.spec.shape[1:]))], ["idx", "picked"])


def _random_crop(ctx: Draw):
    x = ctx.pick(Operand((*FLOAT, "int32"), 1, 4, min_size=2))
    if x is None:
        return None
    axis = ctx.rng.randrange(x.spec.rank)
    n = x.spec.shape[axis]
    k = ctx.rng.randint(1, n - 1)
    shape = tuple(k if i == axis else d for i, d in enumerate(x.spec.shape))
    lines = [
        f"$out0 = jax.random.randint($k0, (), 0, {n - k + 1})",
        f"$out1 = lax.dynamic_slice_in_dim($0, $out0, {k}, axis={axis})",
    ]
    return _piece((x,), lines, [TensorSpec((), "int32"), x.spec.with_shape(shape)], ["start", "crop"])


def _gamma_like(ctx: Draw):
    rng = ctx.rng
    n = rng.choice((2, 3, 4, 8))
    spec = TensorSpec((n,), "float32")
    kind = rng.choice(["gamma", "beta", "dirichlet", "poisson", "exponential"])
    if kind == "gamma":
        line = f"$out0 = jax.random.gamma($k0, {rng.choice(['0.5', '2.0', '5.0'])}, ({n},))"
    elif kind == "beta":
        line = f"$out0 = jax.random.beta($k0, 2.0, 5.0, ({n},))"
    elif kind == "dirichlet":
        line = f"$out0 = jax.random.dirichlet($k0, jnp.full(({n},), {rng.choice(['0.5', '1.0'])}))"
    elif kind == "poisson":
        line = f"$out0 = jax.random.poisson($k0, {rng.choice(['3.0', '0.5'])}, ({n},))"
        spec = spec.with_dtype("int32")
    else:
        line = f"$out0 = jax.random.exponential($k0, ({n},))"
    return _piece((), [line], [spec], [kind])


def _rbg_bits(ctx: Draw):
    """Raw bits from `lax.rng_bit_generator`, threading its own state argument."""
    state = ctx.values_of(RBG_STATE)
    st = state[-1] if state else ctx.argument(RBG_STATE, "rng_state")
    if st is None:
        return None
    shape = ctx.random_spec(Operand(("uint32",), 1, 2)).shape
    lines = [
        f"$out0, $out1 = lax.rng_bit_generator($0, {tuple_literal(shape)}, dtype=jnp.uint32)",
        "$out2 = lax.shift_right_logical($out1, jnp.uint32(9)) | jnp.uint32(0x3F800000)",
        "$out3 = lax.bitcast_convert_type($out2, jnp.float32) - 1.0",
    ]
    bits = TensorSpec(shape, "uint32")
    return _piece((st,), lines, [RBG_STATE, bits, bits, bits.with_dtype("float32")], ["new_state", "bits", "mantissa", "u"])


def _rng_uniform(ctx: Draw):
    """`lax.rng_uniform`: XLA's stateful RNG (stablehlo.rng), as noise the shape of a value."""
    like = ctx.pick(Operand(("float32",), 1, 3))
    if like is None:
        return None
    return _piece((like,), ["$out0 = $0 + lax.rng_uniform(-0.5, 0.5, $0.shape)"], [like.spec], ["jittered"])


def _rbg_from_key(ctx: Draw):
    """A per-call key from a seed with the `rbg` implementation (TPU-style fast RNG)."""
    x = ctx.pick(FLOATS)
    seed = ctx.argument(python_scalar("int32"), "seed") if x is not None else None
    if seed is None:
        return None
    line = '$out0 = $0 * jax.random.bernoulli(jax.random.key($1, impl="rbg"), 0.9, $0.shape)'
    return _piece((x, seed), [line], [x.spec], ["masked"])


OPS = (
    sampler("random.noise", _noise, weight=2.0),
    sampler("jax.random.normal", _plain("normal", hint="eps"), weight=1.5),
    sampler("jax.random.uniform", _uniform, weight=1.5),
    sampler("jax.random.bernoulli", _bernoulli, weight=1.2),
    sampler("jax.random.categorical", _categorical),
    sampler("jax.random.gumbel_softmax", _gumbel_softmax, weight=0.6),
    sampler("random.reparameterize", _reparameterize, weight=0.8),
    sampler("jax.random.permutation", _permutation),
    sampler("jax.random.randint", _randint),
    sampler("jax.random.truncated_normal", _truncated_normal),
    sampler("jax.random.choice", _choice, weight=0.6),
    sampler("random.crop", _random_crop, weight=0.6),
    sampler("jax.random.gumbel", _plain("gumbel", hint="g"), weight=0.4),
    sampler("jax.random.rademacher", _plain("rademacher", hint="signs", default="int32"), weight=0.3),
    sampler("jax.random.cauchy", _plain("cauchy", hint="c"), weight=0.3),
    sampler("jax.nn.initializers", _init),
    sampler("jax.random.gamma_family", _gamma_like, weight=0.4, threefry=True),
    sampler("lax.rng_bit_generator", _rbg_bits, keys=0, weight=0.4, differentiable=False),
    sampler("lax.rng_uniform", _rng_uniform, keys=0, weight=0.3, differentiable=False),
    sampler("jax.random.rbg_mask", _rbg_from_key, keys=0, weight=0.4),
)
