"""Plain-JAX training code as JAX's own tutorials and research code write it: an MLP whose params are a
list of (weights, bias) tuples, a per-example `predict` batched with `jax.vmap`, updates through
`jax.tree.map`; DP-SGD with per-example gradients (`vmap` of `grad`), clipping and noise; and an
LSTM / GRU run over time with `jax.lax.scan`."""

from __future__ import annotations

from itertools import pairwise

from ..domains import Domain
from ..specs import python_scalar
from .base import Arg, Draw, layer, spec
from .idiom_base import IMPORTS, Idiom, signature
from .linen_model import BATCH, SEQ

TUTORIAL = '''def {act_name}(x):
    return {act_body}


def predict(params, {example}):
    # per-example predictions
    activations = {example}
    for w, b in params[:-1]:
        outputs = jnp.dot(w, activations) + b
        activations = {act_name}(outputs)
    final_w, final_b = params[-1]
    logits = jnp.dot(final_w, activations) + final_b
    return logits - jax.scipy.special.logsumexp(logits)


batched_predict = jax.vmap(predict, in_axes=(None, 0))


def loss(params, {batch_name}, targets):
    preds = batched_predict(params, {batch_name})
    return -jnp.mean(preds * targets)


@jax.jit
def update(params, {batch_name}, {labels_name}{lr_arg}):
    targets = jax.nn.one_hot({labels_name}, {classes})
    grads = jax.grad(loss)(params, {batch_name}, targets)
{update}
'''
UPDATES = {
    "comprehension": "    return [(w - {lr} * dw, b - {lr} * db) for (w, b), (dw, db) in zip(params, grads)]",
    "tree_map": "    return jax.tree.map(lambda p, g: p - {lr} * g, params, grads)",
}
ACTS = {"relu": "jnp.maximum(0, x)", "tanh": "jnp.tanh(x)", "softplus": "jnp.logaddexp(x, 0.0)", "leaky_relu": "jnp.where(x > 0, x, 0.01 * x)"}


def tutorial_mlp(d: Draw) -> Idiom:
    sizes = [d.pick((64, 784, 256, 1024))] + [d.pick((128, 256, 512, 1024)) for _ in range(d.pick((1, 2, 2, 3)))] + [d.pick((10, 10, 100))]
    batch = d.pick(BATCH)
    act = d.pick(tuple(ACTS))
    params = [(spec("float32", n, m), spec("float32", n)) for m, n in pairwise(sizes)]
    example, batch_name, labels_name = d.pick((("image", "images", "labels"), ("x", "x", "y"), ("example", "inputs", "labels")))
    args = [Arg("params", params), Arg(batch_name, spec("float32", batch, sizes[0])), Arg(labels_name, spec("int32", batch), Domain("index", 0, sizes[-1]))]
    lr_arg = d.chance(0.5)
    if lr_arg:
        args.append(Arg("step_size", python_scalar("float32"), Domain("real", 1e-4, 0.1)))
    lr = "step_size" if lr_arg else str(d.pick((0.01, 0.001, 0.1)))
    source = TUTORIAL.format(act_name=act, act_body=ACTS[act], example=example, batch_name=batch_name, labels_name=labels_name, classes=sizes[-1],
                             lr_arg=", step_size" if lr_arg else "", update=UPDATES[d.pick(tuple(UPDATES))].format(lr=lr))  # fmt: skip
    nodes = [layer("vmap(predict)", [spec("float32", batch, sizes[0])], [spec("float32", batch, sizes[-1])]), layer("sgd_update", [], [])]
    return Idiom("tutorial_mlp", [source], "update", args, nodes, activations=(batch * max(sizes),))


DP_SGD = '''def {model}(params: dict, x: jax.Array) -> jax.Array:
    h = {act}(x @ params['w1'] + params['b1'])
    return h @ params['w2'] + params['b2']


def per_example_loss(params: dict, x: jax.Array, label: jax.Array) -> jax.Array:
    logits = {model}(params, x)
    return -jax.nn.log_softmax(logits)[label]


@jax.jit
def dp_sgd_step({sig}) -> dict:
    """DP-SGD: per-example gradients, each clipped to norm {clip}, summed, noised and averaged."""
    grads = jax.vmap(jax.grad(per_example_loss), in_axes=(None, 0, 0))(params, x, labels)
    leaves = jax.tree.leaves(grads)
    norms = jnp.sqrt(sum(jnp.sum(jnp.square(g.reshape(g.shape[0], -1)), axis=1) for g in leaves))
    factors = jnp.minimum(1.0, {clip} / (norms + 1e-6))
    clipped = jax.tree.map(lambda g: jnp.einsum('b,b...->...', factors, g), grads)
    keys = jax.random.split(key, len(leaves))
    noise = jax.tree.unflatten(jax.tree.structure(clipped), [jax.random.normal(k, g.shape, g.dtype) for k, g in zip(keys, jax.tree.leaves(clipped))])
    noisy = jax.tree.map(lambda g, n: (g + {sigma} * {clip} * n) / x.shape[0], clipped, noise)
    return jax.tree.map(lambda p, g: p - {lr} * g, params, noisy)
'''


def dp_sgd(d: Draw) -> Idiom:
    batch = d.pick((8, 16, 32, 64, 128, 256))
    d_in, hidden, classes = d.pick((32, 64, 128, 256, 784)), d.pick((64, 128, 256, 512)), d.pick((2, 10))
    params = {"w1": spec("float32", d_in, hidden), "b1": spec("float32", hidden), "w2": spec("float32", hidden, classes), "b2": spec("float32", classes)}
    args = [Arg("params", params), Arg("x", spec("float32", batch, d_in)), Arg("labels", spec("int32", batch), Domain("index", 0, classes)),
            Arg("key", spec("uint32", 2), Domain("prng_key"))]  # fmt: skip
    source = DP_SGD.format(model=d.pick(("mlp", "model_fn", "apply_mlp")), act=d.pick(("jax.nn.relu", "jnp.tanh", "jax.nn.gelu")),
                           sig=signature(args, {"params": "dict"} if d.chance(0.5) else None), clip=d.pick((0.1, 1.0, 5.0)),
                           sigma=d.pick((0.5, 1.0, 1.1)), lr=d.pick((0.05, 0.1, 0.25)))  # fmt: skip
    nodes = [layer("vmap(grad)", [spec("float32", batch, d_in)], [spec("float32", batch, d_in, hidden)]), layer("clip_noise", [], [])]
    return Idiom("dp_sgd", [source], "dp_sgd_step", args, nodes, activations=(batch * d_in * hidden,))


LSTM = '''def lstm_cell(params: dict, carry: tuple[jax.Array, jax.Array], x_t: jax.Array) -> tuple[tuple[jax.Array, jax.Array], jax.Array]:
    h, c = carry
    gates = x_t @ params['w_ih'] + h @ params['w_hh'] + params['b']
    i, f, g, o = jnp.split(gates, 4, axis=-1)
    c = jax.nn.sigmoid(f + {forget_bias}) * c + jax.nn.sigmoid(i) * jnp.tanh(g)
    h = jax.nn.sigmoid(o) * jnp.tanh(c)
    return (h, c), h
'''
GRU = '''def gru_cell(params: dict, h: jax.Array, x_t: jax.Array) -> tuple[jax.Array, jax.Array]:
    xr, xz, xn = jnp.split(x_t @ params['w_ih'] + params['b'], 3, axis=-1)
    hr, hz, hn = jnp.split(h @ params['w_hh'], 3, axis=-1)
    r = jax.nn.sigmoid(xr + hr)
    z = jax.nn.sigmoid(xz + hz)
    n = jnp.tanh(xn + r * hn)
    h = (1.0 - z) * n + z * h
    return h, h
'''
RUN = '''@jax.jit
def {name}(params: dict, inputs: jax.Array) -> jax.Array:
    """Runs the {kind} over time-{major} inputs with lax.scan and projects every hidden state."""
{to_time}    batch = inputs.shape[1]
    init = {init}
    _, hidden_states = jax.lax.scan(functools.partial({cell}, params['cell']), init, inputs{reverse})
    outputs = hidden_states @ params['w_out'] + params['b_out']
{from_time}    return outputs
'''


def recurrent(d: Draw) -> Idiom:
    kind = d.pick(("lstm", "gru"))
    batch, seq = d.pick(BATCH[:8]), d.pick(SEQ[:6])
    d_in, hidden, out = d.pick((16, 32, 64, 128, 256)), d.pick((64, 128, 256, 512)), d.pick((1, 8, 32, 128))
    gates = 4 if kind == "lstm" else 3
    cell = {"w_ih": spec("float32", d_in, gates * hidden), "w_hh": spec("float32", hidden, gates * hidden), "b": spec("float32", gates * hidden)}
    params = {"cell": cell, "w_out": spec("float32", hidden, out), "b_out": spec("float32", out)}
    batch_major = d.chance(0.5)
    x = spec("float32", batch, seq, d_in) if batch_major else spec("float32", seq, batch, d_in)
    zeros = f"jnp.zeros((batch, {hidden}), inputs.dtype)"
    source = RUN.format(name=d.pick(("run_rnn", "encode_sequence", "rnn_forward")), kind=kind.upper(), major="major" if not batch_major else "major (after a swap of the batch-major input)",
                        to_time="    inputs = jnp.swapaxes(inputs, 0, 1)  # [batch, time, features] -> [time, batch, features]\n" if batch_major else "",
                        init=f"({zeros}, {zeros})" if kind == "lstm" else zeros, cell=f"{kind}_cell", reverse=", reverse=True" if d.chance(0.2) else "",
                        from_time="    outputs = jnp.swapaxes(outputs, 0, 1)\n" if batch_major else "")  # fmt: skip
    name = source.split("def ", 1)[1].split("(", 1)[0]
    blocks = [(LSTM.format(forget_bias=d.pick((0.0, 1.0))) if kind == "lstm" else GRU), source]
    nodes = [layer(f"scan[{kind}]", [x], [spec("float32", seq, batch, hidden)])]
    return Idiom("rnn_scan", blocks, name, [Arg("params", params), Arg("inputs", x)], nodes, imports=IMPORTS | {"import functools"}, activations=(batch * seq * gates * hidden,),
                 loops=[seq])  # fmt: skip
