"""Neural-network building blocks as people write them in plain JAX: layers whose weights live in
a `params` dict argument, normalization, attention, a conv block, scan-based recurrent cells,
embeddings, dropout, losses and optimizer steps over a params pytree.

Every block draws its sizes from the seeded RNG and reads like model code: weights come from
`params['<module>'][...]`, loops over layers are static Python loops, and hyper-parameters such
as `lr` or `temperature` are Python scalar arguments when the signature has room.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from itertools import pairwise

from ..domains import Domain
from ..program import Tree, Value, flatten_tree, tuple_literal
from ..specs import MAX_ELEMENTS, TensorSpec, python_scalar
from .base import BLOCK, Draw, Operand, Statement, op, shift
from .random import draw_keys

CAT = ("nn",)
ACT = Operand(("float32", "float32", "bfloat16"), 2, 3)  # activations: (batch, features) or (batch, seq, features)
F32 = ("float32",)
WIDTHS = (4, 8, 16, 24, 32, 64)
ACTIVATIONS = ("jax.nn.relu", "jax.nn.gelu", "jax.nn.silu", "jnp.tanh", "jax.nn.sigmoid", "jax.nn.elu")
EPS = ("1e-5", "1e-6", "1e-12")
MAX_SCORES = 16384  # batch * heads * seq * seq for attention scores: rows are executed when validated


def _piece(inputs: Sequence[Value | None], lines: Sequence[str], specs: Sequence[TensorSpec], hints: Sequence[str],
           names: Sequence[str] = ()) -> Statement:
    return Statement(tuple(v for v in inputs if v is not None), tuple(lines), tuple(specs), tuple(hints), tuple(names))


def _hyper(ctx: Draw, hint: str, literals: Sequence[str], index: int, dtype: str = "float32", share: float = 0.5) -> tuple[str, Value | None]:
    """A hyper-parameter: a Python scalar argument (`lr`) when drawn and there is room, read as the
    statement's input `index` (`$index`), else a literal."""
    if ctx.rng.random() < share:
        arg = ctx.argument(python_scalar(dtype), hint)
        if arg is not None:
            return f"${index}", arg
    return ctx.rng.choice(literals), None


def _width(rng: random.Random, rows: int, cols_max: int = 64) -> int | None:
    """An output width whose weight and activation both stay within MAX_ELEMENTS."""
    options = [w for w in WIDTHS if w <= cols_max and rows * w <= MAX_ELEMENTS]
    return rng.choice(options) if options else None


def _act(ctx: Draw, min_rank: int = 2, max_rank: int = 3, dtypes: Sequence[str] = ACT.dtypes) -> Value | None:
    return ctx.pick(Operand(tuple(dtypes), min_rank, max_rank))


def _lead(spec: TensorSpec) -> int:
    """Elements per feature: the product of all but the last dim."""
    return spec.size // spec.shape[-1]


def _tree_name(tree: Tree) -> str:
    """The argument a pytree of values belongs to: `opt_state` for `opt_state['mu']['w']`."""
    return flatten_tree(tree)[0].name.split("[", 1)[0]


def _slots(tree: dict[str, Value], start: int) -> dict[str, str]:
    """The placeholders of a module's weights, key -> `$i`, when the statement reads them as its
    inputs from `start` on, in the tree's order (`$1` for `params['dense']['w']` after `x`)."""
    return {key: f"${start + i}" for i, key in enumerate(tree)}


def _other(ctx: Draw, x: Value) -> Value:
    """A value of `x`'s spec that is not `x` (a target to compare against), built if none exists."""
    others = [v for v in ctx.values_of(x.spec) if v != x]
    if others:
        return ctx.rng.choice(others)
    other = ctx.need(x.spec)
    return other if other != x else ctx.need(x.spec)


# --- layers ---------------------------------------------------------------------------------
def _dense(ctx: Draw) -> Statement | None:
    x = _act(ctx, 1, 3)
    if x is None:
        return None
    rng, d_in = ctx.rng, x.spec.shape[-1]
    d_out = _width(rng, max(_lead(x.spec), d_in))
    if d_out is None:
        return None
    module = rng.choice(("dense", "linear", "proj", "fc", "head"))
    got = ctx.weights(module, {"w": x.spec.with_shape((d_in, d_out)), "b": x.spec.with_shape((d_out,))})
    if got is None:
        return None
    _, tree = got
    w = _slots(tree, 1)
    matmul = rng.choice([f"$0 @ {w['w']}", f"jnp.dot($0, {w['w']})", f"jnp.einsum('...d,df->...f', $0, {w['w']})"])
    expr = f"{matmul} + {w['b']}"
    if rng.random() < 0.6:
        expr = f"{rng.choice(ACTIVATIONS)}({expr})"
    out = x.spec.with_shape((*x.spec.shape[:-1], d_out))
    return _piece((x, *tree.values()), [f"$out0 = {expr}"], [out], ["h"])


def _mlp(ctx: Draw) -> Statement | None:
    x = _act(ctx)
    if x is None:
        return None
    rng = ctx.rng
    sizes = [x.spec.shape[-1]]
    for _ in range(rng.randint(2, 4)):
        width = _width(rng, max(_lead(x.spec), sizes[-1]))
        if width is None:
            return None
        sizes.append(width)
    layers = tuple({"w": x.spec.with_shape((a, b)), "b": x.spec.with_shape((b,))} for a, b in pairwise(sizes))
    got = ctx.weights(rng.choice(("mlp", "ffn", "layers")), layers)
    if got is None:
        return None
    p, tree = got
    act = rng.choice(ACTIVATIONS[:4])
    layer = ctx.fresh("layer")
    if rng.random() < 0.5:
        lines = [
            "$out0 = $0",
            f"for {layer} in {p}[:-1]:",
            f"    $out0 = {act}($out0 @ {layer}['w'] + {layer}['b'])",
            f"$out0 = $out0 @ {p}[-1]['w'] + {p}[-1]['b']",
        ]
    else:
        i = ctx.fresh("i")
        lines = [
            "$out0 = $0",
            f"for {i}, {layer} in enumerate({p}):",
            f"    $out0 = $out0 @ {layer}['w'] + {layer}['b']",
            f"    if {i} < len({p}) - 1:",
            f"        $out0 = {act}($out0)",
        ]
    leaves = [v for t in tree for v in t.values()]
    return _piece((x, *leaves), lines, [x.spec.with_shape((*x.spec.shape[:-1], sizes[-1]))], ["mlp_out"])


def _swiglu(ctx: Draw) -> Statement | None:
    x = _act(ctx)
    if x is None:
        return None
    rng, d = ctx.rng, x.spec.shape[-1]
    hidden = _width(rng, max(_lead(x.spec), 2 * d), cols_max=32)
    if hidden is None or d * 2 * hidden > MAX_ELEMENTS:
        return None
    got = ctx.weights("ffn", {"w_in": x.spec.with_shape((d, 2 * hidden)), "w_out": x.spec.with_shape((hidden, d))})
    if got is None:
        return None
    _, tree = got
    w = _slots(tree, 1)
    gate, up = ctx.fresh("gate"), ctx.fresh("up")
    lines = [
        f"{gate}, {up} = jnp.split($0 @ {w['w_in']}, 2, axis=-1)",
        f"$out0 = (jax.nn.silu({gate}) * {up}) @ {w['w_out']}",
    ]
    return _piece((x, *tree.values()), lines, [x.spec], ["ffn_out"])


def _layer_norm(ctx: Draw) -> Statement | None:
    x = _act(ctx, 1, 4)
    if x is None:
        return None
    rng, d = ctx.rng, x.spec.shape[-1]
    eps = rng.choice(EPS)
    mean, var = ctx.fresh("mean"), ctx.fresh("var")
    got = ctx.weights(rng.choice(("layer_norm", "ln", "norm")), {"scale": x.spec.with_shape((d,)), "bias": x.spec.with_shape((d,))})
    affine = " * $1 + $2" if got else ""  # the scale and bias: the inputs after x
    var_expr = rng.choice(["jnp.var($0, axis=-1, keepdims=True)", f"jnp.mean(jnp.square($0 - {mean}), axis=-1, keepdims=True)"])
    lines = [
        f"{mean} = jnp.mean($0, axis=-1, keepdims=True)",
        f"{var} = {var_expr}",
        f"$out0 = ($0 - {mean}) * lax.rsqrt({var} + {eps}){affine}",
    ]
    return _piece((x, *(got[1].values() if got else ())), lines, [x.spec], ["normed"])


def _rms_norm(ctx: Draw) -> Statement | None:
    x = _act(ctx, 1, 4)
    if x is None:
        return None
    rng = ctx.rng
    got = ctx.weights(rng.choice(("rms_norm", "norm")), {"scale": x.spec.with_shape((x.spec.shape[-1],))})
    scale = " * $1" if got else ""  # the scale: the input after x
    line = f"$out0 = $0 * lax.rsqrt(jnp.mean(jnp.square($0), axis=-1, keepdims=True) + {rng.choice(EPS)}){scale}"
    return _piece((x, *(got[1].values() if got else ())), [line], [x.spec], ["normed"])


def _batch_norm(ctx: Draw) -> Statement | None:
    x = ctx.pick(Operand(F32, 2, 4))
    if x is None:
        return None
    rng, c = ctx.rng, x.spec.shape[-1]
    axes = tuple(range(x.spec.rank - 1))
    vec = x.spec.with_shape((c,))
    eps = rng.choice(EPS)
    if rng.random() < 0.5:  # inference: running statistics from params
        got = ctx.weights("batch_norm", {"mean": vec, "var": vec, "scale": vec, "bias": vec})
        if got is None:
            return None
        _, tree = got
        w = _slots(tree, 1)
        line = f"$out0 = ($0 - {w['mean']}) * lax.rsqrt({w['var']} + {eps}) * {w['scale']} + {w['bias']}"
        return _piece((x, *tree.values()), [line], [x.spec], ["bn"])
    mean, var = ctx.fresh("batch_mean"), ctx.fresh("batch_var")
    lines = [
        f"{mean} = jnp.mean($0, axis={tuple_literal(axes)})",
        f"{var} = jnp.var($0, axis={tuple_literal(axes)})",
        f"$out0 = ($0 - {mean}) / jnp.sqrt({var} + {eps})",
    ]
    return _piece((x,), lines, [x.spec], ["bn"])


def _softmax(ctx: Draw) -> Statement | None:
    x = ctx.pick(Operand(F32, 1, 4))
    if x is None:
        return None
    rng = ctx.rng
    temp, arg = _hyper(ctx, "temperature", ("0.5", "2.0", "0.1"), 1, share=0.6)
    form = rng.random()
    if form < 0.4:
        return _piece((x, arg), [f"$out0 = jax.nn.softmax($0 / {temp}, axis=-1)"], [x.spec], ["probs"])
    if form < 0.7:
        return _piece((x, arg), [f"$out0 = jax.nn.log_softmax($0 / {temp}, axis=-1)"], [x.spec], ["log_probs"])
    shifted = ctx.fresh("shifted")
    lines = [  # the numerically stable softmax written out
        f"{shifted} = $0 - jnp.max($0, axis=-1, keepdims=True)",
        f"$out0 = jnp.exp({shifted}) / jnp.sum(jnp.exp({shifted}), axis=-1, keepdims=True)",
    ]
    return _piece((x,), lines, [x.spec], ["probs"])


def _heads(rng: random.Random, d: int) -> int | None:
    options = [h for h in (1, 2, 4, 8) if d % h == 0 and d // h >= 2]
    return rng.choice(options) if options else None


def _attention(ctx: Draw) -> Statement | None:
    x = _act(ctx, 2, 3)
    if x is None:
        return None
    rng = ctx.rng
    spec = x.spec
    batched = spec.rank == 3
    seq, d = spec.shape[-2], spec.shape[-1]
    heads = _heads(rng, d)
    batch = spec.shape[0] if batched else 1
    if heads is None or batch * heads * seq * seq > MAX_SCORES or d * d > MAX_ELEMENTS:
        return None
    fused = rng.random() < 0.3 and 3 * d * d <= MAX_ELEMENTS
    wspec = {"w_qkv": spec.with_shape((d, 3 * d))} if fused else {k: spec.with_shape((d, d)) for k in ("wq", "wk", "wv")}
    got = ctx.weights(rng.choice(("attn", "attention", "self_attn")), {**wspec, "wo": spec.with_shape((d, d))})
    if got is None:
        return None
    _, tree = got
    w = _slots(tree, 1)
    head_dim = d // heads
    q, k, v = ctx.fresh("q"), ctx.fresh("k"), ctx.fresh("v")
    scores, weights, ctx_name = ctx.fresh("scores"), ctx.fresh("attn_weights"), ctx.fresh("context")
    seq_len = ctx.fresh("seq_len")
    lead = f"{ctx.fresh('batch_size')}, {seq_len}" if batched else seq_len
    lines = [f"{lead}, _ = $0.shape" if batched else f"{seq_len} = $0.shape[0]"]
    split = f"{lead}, {heads}, {head_dim}"
    if fused:
        lines.append(f"{q}, {k}, {v} = jnp.split($0 @ {w['w_qkv']}, 3, axis=-1)")
        lines.extend(f"{n} = {n}.reshape({split})" for n in (q, k, v))
    else:
        lines.extend(f"{n} = ($0 @ {w[key]}).reshape({split})" for n, key in ((q, "wq"), (k, "wk"), (v, "wv")))
    causal = rng.random() < 0.5
    inputs: list[Value | None] = [x, *tree.values()]
    b = "b" if batched else ""
    if rng.random() < 0.25:  # the library kernel
        lines.append(f"{ctx_name} = jax.nn.dot_product_attention({q}, {k}, {v}, is_causal={causal})" if batched else
                     f"{ctx_name} = jax.nn.dot_product_attention({q}[None], {k}[None], {v}[None], is_causal={causal})[0]")
    else:
        scale = rng.choice([f" / jnp.sqrt({head_dim}.0)", f" * {head_dim} ** -0.5", f" / {head_dim ** 0.5:.4g}"])
        lines.append(f"{scores} = jnp.einsum('{b}qhd,{b}khd->{b}hqk', {q}, {k}){scale}")
        mask_arg = None
        if causal:
            mask = ctx.fresh("causal_mask")
            lines.append(f"{mask} = jnp.tril(jnp.ones(({seq_len}, {seq_len}), dtype=bool))")
            lines.append(f"{scores} = jnp.where({mask}, {scores}, {rng.choice(['-1e9', 'jnp.finfo(' + scores + '.dtype).min', '-jnp.inf'])})")
        elif batched and rng.random() < 0.4:  # a padding mask argument
            mask_arg = ctx.argument(TensorSpec((batch, seq), "bool"), "mask")
            if mask_arg is not None:
                lines.append(f"{scores} = jnp.where(${len(inputs)}[:, None, None, :], {scores}, -1e9)")
        inputs.append(mask_arg)
        lines.append(f"{weights} = jax.nn.softmax({scores}, axis=-1)")
        lines.append(f"{ctx_name} = jnp.einsum('{b}hqk,{b}khd->{b}qhd', {weights}, {v})")
    lines.append(f"$out0 = {ctx_name}.reshape({lead}, {d}) @ {w['wo']}")
    return _piece(inputs, lines, [spec], ["attn_out"])


def _conv_block(ctx: Draw) -> Statement | None:
    x = ctx.pick(Operand(F32, 3, 4, min_size=2))
    if x is None:
        return None
    rng = ctx.rng
    spatial = x.spec.shape[1:-1]
    nd = len(spatial)
    cin = x.spec.shape[-1]
    k = rng.choice([1, 3, 3, 5]) if min(spatial) >= 5 else rng.choice([1, 2, 3])
    stride = rng.choice([1, 1, 2])
    padding = rng.choice(["SAME", "SAME", "VALID"])
    if padding == "VALID" and min(spatial) < k:
        padding = "SAME"
    out_sp = [-(-s // stride) if padding == "SAME" else (s - k) // stride + 1 for s in spatial]
    features = _width(rng, max(x.spec.shape[0] * _prod(out_sp), k ** nd * cin))
    if features is None or k ** nd * cin * features > MAX_ELEMENTS:
        return None
    got = ctx.weights(rng.choice(("conv", "conv1", "encoder")), {"kernel": x.spec.with_shape((*(k,) * nd, cin, features)), "bias": x.spec.with_shape((features,))})
    if got is None:
        return None
    _, tree = got
    w = _slots(tree, 1)
    layout = ("NWC", "WIO", "NWC") if nd == 1 else ("NHWC", "HWIO", "NHWC")
    conv = ctx.fresh("conv")
    lines = [
        f"{conv} = lax.conv_general_dilated($0, {w['kernel']}, window_strides={tuple_literal((stride,) * nd)}, "
        f"padding={padding!r}, dimension_numbers={layout!r})",
        f"$out0 = {rng.choice(ACTIVATIONS[:3])}({conv} + {w['bias']})",
    ]
    out = [x.spec.shape[0], *out_sp, features]
    if min(out_sp) >= 2 and rng.random() < 0.7:
        window = tuple_literal((1, *(2,) * nd, 1))
        if rng.random() < 0.5:
            lines.append(f"$out0 = lax.reduce_window($out0, -jnp.inf, lax.max, {window}, {window}, 'VALID')")
        else:
            lines.append(f"$out0 = lax.reduce_window($out0, 0.0, lax.add, {window}, {window}, 'VALID') / {2 ** nd}.0")
        out = [out[0], *(s // 2 for s in out_sp), features]
    return _piece((x, *tree.values()), lines, [x.spec.with_shape(tuple(out))], ["features"])


def _prod(xs: Sequence[int]) -> int:
    n = 1
    for v in xs:
        n *= v
    return n


def _recurrent(ctx: Draw) -> Statement | None:
    """An Elman RNN, GRU or LSTM cell run over the time axis with `lax.scan`."""
    x = ctx.pick(Operand(F32, 2, 3))
    if x is None:
        return None
    rng = ctx.rng
    batched = x.spec.rank == 3
    steps, d = x.spec.shape[-2], x.spec.shape[-1]
    batch = (x.spec.shape[0],) if batched else ()
    kind = rng.choice(("rnn", "gru", "lstm"))
    gates = {"rnn": 1, "gru": 3, "lstm": 4}[kind]
    hidden = rng.choice([h for h in (4, 8, 16, 32) if max(d, h) * gates * h <= MAX_ELEMENTS] or [4])
    if steps * _prod(batch) * hidden > MAX_ELEMENTS or max(d, hidden) * gates * hidden > MAX_ELEMENTS:
        return None
    f32 = x.spec.dtype
    got = ctx.weights(kind, {"w_x": TensorSpec((d, gates * hidden), f32), "w_h": TensorSpec((hidden, gates * hidden), f32),
                             "b": TensorSpec((gates * hidden,), f32)})
    if got is None:
        return None
    _, tree = got
    w = _slots(tree, 1)
    cell, h, x_t = ctx.fresh(f"{kind}_cell"), ctx.fresh("carry"), ctx.fresh("x_t")
    pre = f"{x_t} @ {w['w_x']} + {h} @ {w['w_h']} + {w['b']}"
    state_shape = tuple_literal((*batch, hidden))
    if kind == "rnn":
        body = [f"{h} = jnp.tanh({pre})", f"return {h}, {h}"]
        init = f"jnp.zeros({state_shape}, $0.dtype)"
    elif kind == "gru":
        z, r, n = ctx.fresh("z"), ctx.fresh("r"), ctx.fresh("n")
        xz, xr, xn = ctx.fresh("xz"), ctx.fresh("xr"), ctx.fresh("xn")
        hz, hr, hn = ctx.fresh("hz"), ctx.fresh("hr"), ctx.fresh("hn")
        body = [
            f"{xz}, {xr}, {xn} = jnp.split({x_t} @ {w['w_x']} + {w['b']}, 3, axis=-1)",
            f"{hz}, {hr}, {hn} = jnp.split({h} @ {w['w_h']}, 3, axis=-1)",
            f"{z} = jax.nn.sigmoid({xz} + {hz})",
            f"{r} = jax.nn.sigmoid({xr} + {hr})",
            f"{n} = jnp.tanh({xn} + {r} * {hn})",
            f"{h} = (1.0 - {z}) * {n} + {z} * {h}",
            f"return {h}, {h}",
        ]
        init = f"jnp.zeros({state_shape}, $0.dtype)"
    else:
        c = ctx.fresh("cell_state")
        i_, f_, g_, o_ = (ctx.fresh(n) for n in ("i", "f", "g", "o"))
        body = [
            f"{h}, {c} = state",
            f"{i_}, {f_}, {g_}, {o_} = jnp.split({pre}, 4, axis=-1)",
            f"{c} = jax.nn.sigmoid({f_}) * {c} + jax.nn.sigmoid({i_}) * jnp.tanh({g_})",
            f"{h} = jax.nn.sigmoid({o_}) * jnp.tanh({c})",
            f"return ({h}, {c}), {h}",
        ]
        init = f"(jnp.zeros({state_shape}, $0.dtype), jnp.zeros({state_shape}, $0.dtype))"
    head = f"def {cell}(state, {x_t}):" if kind == "lstm" else f"def {cell}({h}, {x_t}):"
    xs = "jnp.swapaxes($0, 0, 1)" if batched else "$0"
    reverse = ", reverse=True" if rng.random() < 0.2 else ""
    final = ctx.fresh("final")
    lines = [head, *("    " + b for b in body)]
    if kind == "lstm":
        lines.append(f"({final}, _), $out1 = lax.scan({cell}, {init}, {xs}{reverse})")
    else:
        lines.append(f"{final}, $out1 = lax.scan({cell}, {init}, {xs}{reverse})")
    lines.append(f"$out0 = {final}")
    hs = TensorSpec((steps, *batch, hidden), f32)
    return _piece((x, *tree.values()), lines, [TensorSpec((*batch, hidden), f32), hs], ["h_last", "hidden_states"])


def _embedding(ctx: Draw) -> Statement | None:
    rng = ctx.rng
    batch, seq = rng.choice((1, 2, 4, 8)), rng.choice((4, 8, 16, 32))
    vocab, dim = rng.choice((16, 32, 64, 100, 128)), rng.choice((4, 8, 16, 32))
    if vocab * dim > MAX_ELEMENTS or batch * seq * dim > MAX_ELEMENTS:
        return None
    tokens = ctx.argument(TensorSpec((batch, seq), "int32"), rng.choice(("tokens", "token_ids", "input_ids")), Domain("index", 0, vocab))
    if tokens is None:
        return None
    positional = rng.random() < 0.4
    specs = {"table": TensorSpec((vocab, dim), "float32")}
    if positional:
        specs["position"] = TensorSpec((seq + rng.choice((0, 8)), dim), "float32")
    got = ctx.weights(rng.choice(("embed", "embedding", "tok_embed")), specs)
    if got is None:
        return None
    _, tree = got
    w = _slots(tree, 1)
    lookup = rng.choice([f"{w['table']}[$0]", f"jnp.take({w['table']}, $0, axis=0)"])
    if positional:
        lookup += f" + {w['position']}[:$0.shape[1]]"
    return _piece((tokens, *tree.values()), [f"$out0 = {lookup}"], [TensorSpec((batch, seq, dim), "float32")], ["embedded"])


def _dropout(ctx: Draw) -> Statement | None:
    x = ctx.pick(Operand(("float32", "float32", "bfloat16"), 1, 4))
    if x is None:
        return None
    rate, arg = _hyper(ctx, ctx.rng.choice(("rate", "dropout_rate")), ("0.1", "0.2", "0.5"), 1, share=0.4)
    keep = ctx.fresh("keep")
    use = draw_keys(ctx, threefry=True)  # model code keeps the default PRNG; rbg keys are the random category's
    if use is None:
        return None
    lines = [
        *shift(use.lines, 1 if arg is None else 2),
        f"{keep} = jax.random.bernoulli({use.subkeys[0]}, 1.0 - {rate}, $0.shape)",
        f"$out0 = jnp.where({keep}, $0 / (1.0 - {rate}), 0.0)",
    ]
    made = [name for name, _ in use.made]
    return _piece((x, arg, *use.inputs), lines, [x.spec, *(s for _, s in use.made)], ["dropped"],
                  names=(ctx.fresh("dropped"), *made))


def _cross_entropy(ctx: Draw) -> Statement | None:
    logits = ctx.pick(Operand(F32, 2, 3))
    if logits is None:
        return None
    rng = ctx.rng
    classes = logits.spec.shape[-1]
    labels = ctx.argument(TensorSpec(logits.spec.shape[:-1], "int32"), rng.choice(("labels", "targets", "y")), Domain("index", 0, classes))
    logp = ctx.fresh("log_probs")
    scalar = TensorSpec((), "float32")
    if labels is None:  # soft targets: a distribution per row
        target = _other(ctx, logits)
        lines = ["$out0 = -jnp.mean(jnp.sum(jax.nn.softmax($1, axis=-1) * jax.nn.log_softmax($0, axis=-1), axis=-1))"]
        return _piece((logits, target), lines, [scalar], ["loss"])
    lines = [f"{logp} = jax.nn.log_softmax($0, axis=-1)"]
    form = rng.random()
    if form < 0.35:
        lines.append(f"$out0 = -jnp.mean(jnp.sum(jax.nn.one_hot($1, {classes}) * {logp}, axis=-1))")
    elif form < 0.7:
        lines.append(f"$out0 = -jnp.mean(jnp.take_along_axis({logp}, $1[..., None], axis=-1))")
    else:
        smooth = rng.choice(("0.1", "0.05"))
        targets = ctx.fresh("soft_targets")
        lines.append(f"{targets} = jax.nn.one_hot($1, {classes}) * (1.0 - {smooth}) + {smooth} / {classes}")
        lines.append(f"$out0 = -jnp.mean(jnp.sum({targets} * {logp}, axis=-1))")
    specs, hints = [scalar], ["loss"]
    if rng.random() < 0.4:
        lines.append("$out1 = jnp.mean(jnp.argmax($0, axis=-1) == $1)")
        specs.append(scalar)
        hints.append("accuracy")
    return _piece((logits, labels), lines, specs, hints)


def _regression_loss(ctx: Draw) -> Statement | None:
    pred = ctx.pick(Operand(F32, 1, 3))
    if pred is None:
        return None
    rng = ctx.rng
    target = ctx.argument(pred.spec, rng.choice(("targets", "y_true", "labels"))) or _other(ctx, pred)
    diff = ctx.fresh("diff")
    form = rng.random()
    scalar = TensorSpec((), "float32")
    if form < 0.4:
        return _piece((pred, target), ["$out0 = jnp.mean(($0 - $1) ** 2)"], [scalar], ["mse"])
    if form < 0.6:
        return _piece((pred, target), ["$out0 = jnp.mean(jnp.abs($0 - $1))"], [scalar], ["mae"])
    if form < 0.8:
        delta = rng.choice(("1.0", "0.5"))
        lines = [
            f"{diff} = jnp.abs($0 - $1)",
            f"$out0 = jnp.mean(jnp.where({diff} < {delta}, 0.5 * {diff} ** 2, {delta} * ({diff} - 0.5 * {delta})))",
        ]
        return _piece((pred, target), lines, [scalar], ["huber"])
    # binary cross-entropy on logits, the stable form
    line = "$out0 = jnp.mean(jax.nn.softplus($0) - $0 * jax.nn.sigmoid($1))"
    return _piece((pred, target), [line], [scalar], ["bce"])


def _pooling(ctx: Draw) -> Statement | None:
    x = ctx.pick(Operand(("float32", "bfloat16"), 3, 4))
    if x is None:
        return None
    rng = ctx.rng
    if rng.random() < 0.5:
        axes = tuple(range(1, x.spec.rank - 1))
        reduce = rng.choice(("jnp.mean", "jnp.max"))
        out = x.spec.with_shape((x.spec.shape[0], x.spec.shape[-1]))
        return _piece((x,), [f"$out0 = {reduce}($0, axis={tuple_literal(axes) if len(axes) > 1 else axes[0]})"], [out], ["pooled"])
    out = x.spec.with_shape((x.spec.shape[0], x.spec.size // x.spec.shape[0]))
    return _piece((x,), ["$out0 = $0.reshape($0.shape[0], -1)"], [out], ["flat"])


# --- training steps -------------------------------------------------------------------------
def _linear_model(ctx: Draw) -> tuple[Value, str, dict, Value, str] | None:
    """Data, a linear module's weights, and the loss expression of `p` (the params in the loss fn),
    which reads the data as `$0` and the targets as `$1`."""
    x = ctx.pick(Operand(F32, 2, 2))
    if x is None:
        return None
    rng = ctx.rng
    d_out = _width(rng, max(x.spec.shape), 32)
    if d_out is None:
        return None
    got = ctx.weights(rng.choice(("linear", "model", "dense")), {"w": TensorSpec((x.spec.shape[1], d_out), "float32"),
                                                                   "b": TensorSpec((d_out,), "float32")})
    if got is None:
        return None
    p, tree = got
    y = ctx.argument(TensorSpec((x.spec.shape[0], d_out), "float32"), rng.choice(("y", "targets"))) or ctx.need(
        TensorSpec((x.spec.shape[0], d_out), "float32"))
    loss = rng.choice([
        "jnp.mean((jnp.dot($0, p['w']) + p['b'] - $1) ** 2)",
        "jnp.mean(jnp.abs($0 @ p['w'] + p['b'] - $1))",
        "jnp.mean(jnp.square(jnp.tanh($0 @ p['w'] + p['b']) - $1))",
    ])
    return x, p, tree, y, loss


def _sgd_step(ctx: Draw) -> Statement | None:
    """A training step: value_and_grad of a loss, then SGD (optionally with momentum) over the params pytree."""
    drawn = _linear_model(ctx)
    if drawn is None:
        return None
    x, p, tree, y, loss = drawn
    rng = ctx.rng
    lr, lr_arg = _hyper(ctx, rng.choice(("lr", "learning_rate")), ("1e-3", "0.01", "0.1"), 2, share=0.7)
    loss_fn, grads = ctx.fresh("loss_fn"), ctx.fresh("grads")
    root = ctx.fresh("new_params")
    lines = [f"def {loss_fn}(p):", f"    return {loss}", f"$out0, {grads} = jax.value_and_grad({loss_fn})({p})"]
    inputs: list[Value | None] = [x, y, lr_arg, *tree.values()]
    keys = sorted(tree)
    specs = [TensorSpec((), "float32")]
    names = [ctx.fresh("loss")]
    if rng.random() < 0.4:
        velocity = ctx.argument_tree("velocity", {k: tree[k].spec for k in keys})
        if velocity is not None:
            momentum = rng.choice(("0.9", "0.99"))
            new_v = ctx.fresh("new_velocity")
            lines.append(f"{new_v} = jax.tree_util.tree_map(lambda v, g: {momentum} * v + g, {_tree_name(velocity)}, {grads})")
            lines.append(f"{root} = jax.tree_util.tree_map(lambda w, v: w - {lr} * v, {p}, {new_v})")
            inputs.extend(velocity.values())
            specs += [tree[k].spec for k in keys]
            names += [f"{new_v}[{k!r}]" for k in keys]
        else:
            lines.append(f"{root} = jax.tree_util.tree_map(lambda w, g: w - {lr} * g, {p}, {grads})")
    else:
        lines.append(f"{root} = jax.tree_util.tree_map(lambda w, g: w - {lr} * g, {p}, {grads})")
    specs += [tree[k].spec for k in keys]
    names += [f"{root}[{k!r}]" for k in keys]
    return _piece(inputs, lines, specs, (), names)


def _adam_step(ctx: Draw) -> Statement | None:
    """A training step with Adam: value_and_grad of a loss, then the moment updates and the
    bias-corrected step over the params pytree, with the optimizer state as a pytree argument."""
    drawn = _linear_model(ctx)
    if drawn is None:
        return None
    x, p, tree, y, loss = drawn
    rng = ctx.rng
    keys = sorted(tree)
    shapes = {k: tree[k].spec for k in keys}
    as_tuple = rng.random() < 0.5  # optax keeps state in (named) tuples; hand-written code often in dicts
    state = ctx.argument_tree("opt_state", (dict(shapes), dict(shapes)) if as_tuple else {"mu": dict(shapes), "nu": dict(shapes)})
    if state is None:
        return None
    state_name = _tree_name(state)
    mu_in, nu_in = (f"{state_name}[0]", f"{state_name}[1]") if as_tuple else (f"{state_name}['mu']", f"{state_name}['nu']")
    slots = ("[0]", "[1]") if as_tuple else ("['mu']", "['nu']")
    leaves = [x, y, *tree.values(), *flatten_tree(state)]
    step, step_arg = _hyper(ctx, "step", ("1",), len(leaves), dtype="int32", share=1.0)
    if step_arg is None:
        step_arg = ctx.argument(TensorSpec((), "int32"), "count")
        step = f"${len(leaves)}" if step_arg is not None else "1"
    lr, lr_arg = _hyper(ctx, "lr", ("1e-3", "3e-4"), len(leaves) + (step_arg is not None), share=0.6)
    b1, b2, eps = "0.9", rng.choice(("0.999", "0.98")), rng.choice(("1e-8", "1e-6"))
    loss_fn, grads = ctx.fresh("loss_fn"), ctx.fresh("grads")
    mu, nu, mu_hat, nu_hat, root, state_out = (ctx.fresh(n) for n in ("mu", "nu", "mu_hat", "nu_hat", "new_params", "new_opt_state"))
    lines = [
        f"def {loss_fn}(p):",
        f"    return {loss}",
        f"$out0, {grads} = jax.value_and_grad({loss_fn})({p})",
        f"{mu} = jax.tree_util.tree_map(lambda m, g: {b1} * m + (1 - {b1}) * g, {mu_in}, {grads})",
        f"{nu} = jax.tree_util.tree_map(lambda v, g: {b2} * v + (1 - {b2}) * jnp.square(g), {nu_in}, {grads})",
        f"{mu_hat} = jax.tree_util.tree_map(lambda m: m / (1 - {b1} ** {step}), {mu})",
        f"{nu_hat} = jax.tree_util.tree_map(lambda v: v / (1 - {b2} ** {step}), {nu})",
        f"{root} = jax.tree_util.tree_map(lambda w, m, v: w - {lr} * m / (jnp.sqrt(v) + {eps}), {p}, {mu_hat}, {nu_hat})",
        f"{state_out} = ({mu}, {nu})" if as_tuple else f"{state_out} = {{'mu': {mu}, 'nu': {nu}}}",
    ]
    specs = [TensorSpec((), "float32"), *[shapes[k] for k in keys] * 3]
    names = [ctx.fresh("loss"), *(f"{root}[{k!r}]" for k in keys), *(f"{state_out}{slots[0]}[{k!r}]" for k in keys),
             *(f"{state_out}{slots[1]}[{k!r}]" for k in keys)]
    return _piece([*leaves, step_arg, lr_arg], lines, specs, (), names)


OPS = (
    op("nn.dense", CAT, (), _dense, weight=2.0, tags=BLOCK),
    op("nn.mlp", CAT, (), _mlp, weight=1.2, tags=BLOCK),
    op("nn.swiglu", CAT, (), _swiglu, weight=0.5, tags=BLOCK),
    op("nn.layer_norm", CAT, (), _layer_norm, weight=1.2, tags=BLOCK),
    op("nn.rms_norm", CAT, (), _rms_norm, weight=0.8, tags=BLOCK),
    op("nn.batch_norm", CAT, (), _batch_norm, weight=0.5, tags=BLOCK),
    op("nn.softmax", CAT, (), _softmax, tags=BLOCK),
    op("nn.attention", CAT, (), _attention, weight=1.2, tags=BLOCK),
    op("nn.conv_block", CAT, (), _conv_block, tags=BLOCK),
    op("nn.recurrent", CAT, (), _recurrent, weight=0.8, tags=BLOCK),
    op("nn.embedding", CAT, (), _embedding, weight=0.8, tags=BLOCK),
    op("nn.dropout", CAT, (), _dropout, weight=0.8, tags=BLOCK),
    op("nn.cross_entropy", CAT, (), _cross_entropy, tags=BLOCK),
    op("nn.regression_loss", CAT, (), _regression_loss, tags=BLOCK),
    op("nn.pooling", CAT, (), _pooling, weight=0.6, tags=BLOCK),
    op("nn.sgd_step", CAT, (), _sgd_step, weight=0.7, tags=BLOCK),
    op("nn.adam_step", CAT, (), _adam_step, weight=0.5, tags=BLOCK),
)
