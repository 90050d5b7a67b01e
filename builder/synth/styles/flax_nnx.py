"""`flax_nnx`: flax NNX modules (`nnx.Module` with `nnx.Linear`, `nnx.Conv`, `nnx.LayerNorm`,
`nnx.MultiHeadAttention`, `nnx.Dropout`, `nnx.Rngs`) used through NNX's functional API, as flax's
docs write it for jit boundaries: `graphdef, state = nnx.split(...)` at module level, then
`nnx.merge(graphdef, params)` inside the jitted inference function or train step. Parameters cross the
boundary as the pure dict `state.to_pure_dict()` gives, so `args_tree` is a plain literal."""

from __future__ import annotations

from ..domains import Domain
from .base import Arg, Draw, StyledProgram, f32, fits, layer, module, spec
from .linen_layers import attention, conv, dense, embed, norm
from .linen_model import BATCH, PRNG_KEY, SEQ, VOCAB, Input, LinenModel
from .optimizers import draw_optimizer
from .training_losses import loss_for

CATEGORY = "flax_nnx"
IMPORTS = {"import jax", "import jax.numpy as jnp", "from flax import nnx"}

MLP = '''class {cls}(nnx.Module):
    """An MLP: {depth} hidden layers of width {width} with {act}{norm_doc}{drop_doc}."""

    def __init__(self, din: int, dhidden: int, dout: int, *, rngs: nnx.Rngs):
        self.layers = nnx.List([nnx.Linear(din if i == 0 else dhidden, dhidden, rngs=rngs) for i in range({depth})])
{norm_init}        self.dropout = nnx.Dropout({rate})
        self.head = nnx.Linear(dhidden, dout, rngs=rngs)

    def __call__(self, x: jax.Array, *, rngs: nnx.Rngs | None = None) -> jax.Array:
        for {loop_var} in {loop_over}:
{norm_call}            x = self.dropout(x, rngs=rngs)
        return self.head(x)
'''


def nnx_mlp(d: Draw, batch: int) -> LinenModel:
    depth, width = d.pick((1, 2, 3, 4)), d.pick((128, 256, 512, 1024))
    din, dout = d.pick((32, 64, 128, 256, 784)), d.pick((2, 10, 100))
    act, use_norm, rate = d.pick(("nnx.relu", "nnx.gelu", "nnx.silu")), d.chance(0.5), d.pick((0.1, 0.2, 0.5))
    cls = d.pick(("MLP", "Classifier", "FeedForward"))
    if use_norm:
        norm_init = f"        self.norms = nnx.List([nnx.LayerNorm(dhidden, rngs=rngs) for _ in range({depth})])\n"
        loop_var, loop_over, norm_call = "linear, norm", "zip(self.layers, self.norms)", f"            x = {act}(norm(linear(x)))\n"
    else:
        norm_init, loop_var, loop_over, norm_call = "", "linear", "self.layers", f"            x = {act}(linear(x))\n"
    source = MLP.format(cls=cls, depth=depth, width=width, act=act.split(".")[-1], norm_doc=", layer norm" if use_norm else "", drop_doc=" and dropout",
                        norm_init=norm_init, rate=rate, loop_var=loop_var, loop_over=loop_over, norm_call=norm_call)  # fmt: skip
    params = {"layers": {i: dense(din if i == 0 else width, width) for i in range(depth)}, "head": dense(width, dout)}
    if use_norm:
        params["norms"] = {i: norm(width) for i in range(depth)}
    nodes = [layer("nnx.Linear", [f32(batch, din)], [f32(batch, width)])] * depth + [layer("nnx.Linear", [f32(batch, width)], [f32(batch, dout)])]
    return LinenModel("nnx_mlp", source, f"{cls}({din}, {width}, {dout}, rngs=nnx.Rngs(0))", params, [Input(d.pick(("x", "inputs")), f32(batch, din))], "classify",
                      dout, nodes, imports=set(IMPORTS), dropout=True, activations=(batch * width,))  # fmt: skip


CNN = '''class CNN(nnx.Module):
    """A simple CNN model."""

    def __init__(self, *, rngs: nnx.Rngs):
        self.conv1 = nnx.Conv({c}, {c1}, kernel_size={k}, rngs=rngs)
        self.conv2 = nnx.Conv({c1}, {c2}, kernel_size={k}, rngs=rngs)
        self.avg_pool = functools.partial(nnx.avg_pool, window_shape=(2, 2), strides=(2, 2))
        self.dropout = nnx.Dropout({rate})
        self.linear1 = nnx.Linear({flat}, {hidden}, rngs=rngs)
        self.linear2 = nnx.Linear({hidden}, {classes}, rngs=rngs)

    def __call__(self, x: jax.Array, *, rngs: nnx.Rngs | None = None) -> jax.Array:
        x = self.avg_pool(nnx.relu(self.conv1(x)))
        x = self.avg_pool(nnx.relu(self.conv2(x)))
        x = x.reshape(x.shape[0], -1)  # flatten
        x = self.dropout(nnx.relu(self.linear1(x)), rngs=rngs)
        return self.linear2(x)
'''


def nnx_cnn(d: Draw, batch: int) -> LinenModel:
    h, w, c = d.pick(((28, 28, 1), (32, 32, 3), (32, 32, 1)))
    c1, c2 = d.pick(((32, 64), (16, 32), (32, 32), (64, 128)))
    k, hidden, classes = d.pick(((3, 3), (5, 5))), d.pick((128, 256, 512)), d.pick((10, 10, 100))
    flat = (h // 4) * (w // 4) * c2
    source = CNN.format(c=c, c1=c1, c2=c2, k=k, rate=d.pick((0.1, 0.25, 0.5)), flat=flat, hidden=hidden, classes=classes)
    params = {"conv1": conv(k, c, c1), "conv2": conv(k, c1, c2), "linear1": dense(flat, hidden), "linear2": dense(hidden, classes)}
    nodes = [layer("nnx.Conv", [f32(batch, h, w, c)], [f32(batch, h, w, c1)]), layer("nnx.Conv", [f32(batch, h // 2, w // 2, c1)], [f32(batch, h // 2, w // 2, c2)])]
    return LinenModel("nnx_cnn", source, "CNN(rngs=nnx.Rngs(0))", params, [Input("images", f32(batch, h, w, c), Domain("real", 0, 1))], "classify", classes, nodes,
                      imports=IMPORTS | {"import functools"}, dropout=True, activations=(batch * h * w * c1 * k[0] * k[1],),
                      work=batch * h * w * k[0] * k[1] * (c * c1 + c1 * c2 // 4))  # fmt: skip


TRANSFORMER = '''class TransformerBlock(nnx.Module):
    """A pre-norm encoder block: multi-head self-attention and an MLP, each with a residual."""

    def __init__(self, dim: int, num_heads: int, mlp_dim: int, *, rngs: nnx.Rngs):
        self.norm1 = nnx.LayerNorm(dim, rngs=rngs)
        self.attn = nnx.MultiHeadAttention(num_heads=num_heads, in_features=dim, decode=False, rngs=rngs)
        self.norm2 = nnx.LayerNorm(dim, rngs=rngs)
        self.mlp_in = nnx.Linear(dim, mlp_dim, rngs=rngs)
        self.mlp_out = nnx.Linear(mlp_dim, dim, rngs=rngs)

    def __call__(self, x: jax.Array, mask: jax.Array | None = None) -> jax.Array:
        x = x + self.attn(self.norm1(x), mask=mask)
        return x + self.mlp_out({act}(self.mlp_in(self.norm2(x))))


class {cls}(nnx.Module):
    """Token embeddings, {layers} transformer block{plural} and a {head} head."""

    def __init__(self, vocab_size: int, dim: int, num_heads: int, mlp_dim: int, num_layers: int, num_outputs: int, *, rngs: nnx.Rngs):
        self.embed = nnx.Embed(vocab_size, dim, rngs=rngs)
        self.blocks = nnx.List([TransformerBlock(dim, num_heads, mlp_dim, rngs=rngs) for _ in range(num_layers)])
        self.final_norm = nnx.LayerNorm(dim, rngs=rngs)
        self.head = nnx.Linear(dim, num_outputs, rngs=rngs)
        self.dropout = nnx.Dropout({rate})

    def __call__(self, tokens: jax.Array, *, rngs: nnx.Rngs | None = None) -> jax.Array:
        mask = {mask}
        x = self.dropout(self.embed(tokens), rngs=rngs)
        for block in self.blocks:
            x = block(x, mask=mask)
        x = self.final_norm(x)
{pool}        return self.head(x)
'''


def nnx_transformer(d: Draw, batch: int) -> LinenModel | None:
    vocab, seq = d.pick(VOCAB[:4]), d.pick(SEQ[:6])
    heads, head_dim = d.pick((2, 4, 8)), d.pick((32, 64))
    dim, layers = heads * head_dim, d.pick((1, 2, 3, 4))
    mlp = dim * d.pick((2, 4))
    causal = d.chance(0.5)
    out = vocab if causal else d.pick((2, 5, 10))
    cls = "LanguageModel" if causal else d.pick(("TextClassifier", "Encoder"))
    source = TRANSFORMER.format(act=d.pick(("nnx.gelu", "nnx.relu")), cls=cls, layers=layers, plural="s" if layers > 1 else "", head="language-model" if causal else "mean-pooled classification",
                                rate=d.pick((0.0, 0.1)), mask="nnx.make_causal_mask(tokens)" if causal else "nnx.make_attention_mask(tokens > 0, tokens > 0)",
                                pool="" if causal else "        x = jnp.mean(x, axis=1)\n")  # fmt: skip
    block = {"norm1": norm(dim), "attn": attention(dim, heads, dim, dim), "norm2": norm(dim), "mlp_in": dense(dim, mlp), "mlp_out": dense(mlp, dim)}
    params = {"embed": embed(vocab, dim), "blocks": {i: block for i in range(layers)}, "final_norm": norm(dim), "head": dense(dim, out)}
    tokens = Input("tokens", spec("int32", batch, seq), Domain("index", 0, vocab))
    nodes = [layer("nnx.TransformerBlock", [f32(batch, seq, dim)], [f32(batch, seq, dim)])] * layers
    construct = f"{cls}({vocab}, {dim}, {heads}, {mlp}, {layers}, {out}, rngs=nnx.Rngs(0))"
    return LinenModel("nnx_transformer", source, construct, params, [tokens], "lm" if causal else "classify", out, nodes, imports=set(IMPORTS), dropout=True,
                      activations=(batch * heads * seq * seq, batch * seq * max(mlp, out)), work=2 * layers * batch * seq * seq * dim)  # fmt: skip


FAMILIES = {nnx_mlp: 1.0, nnx_cnn: 1.0, nnx_transformer: 1.5}


def _split_lines(d: Draw, model: LinenModel) -> str:
    """How the module gets its graphdef: from an abstract model (no arrays created), or from a real one."""
    if d.chance(0.7):
        return f"abstract_model = nnx.eval_shape(lambda: {model.construct})\ngraphdef, _ = nnx.split(abstract_model)"
    return f"model = {model.construct}\ngraphdef, state = nnx.split(model)"


def _inference(d: Draw, model: LinenModel) -> tuple[str, list[Arg]]:
    args = [Arg("params", model.params), *(i.arg() for i in model.inputs)]
    x = ", ".join(i.name for i in model.inputs)
    post = d.pick(("logits", "jax.nn.softmax(logits, axis=-1)", "jnp.argmax(logits, axis=-1)"))
    name = d.pick(("predict", "forward", "infer"))
    src = f'''@jax.jit
def {name}(params: dict, {x}: jax.Array) -> jax.Array:
    model = nnx.merge(graphdef, params)
    model.eval()  # dropout off
    logits = model({x})
    return {post}
'''
    return src, args


def _train_step(d: Draw, model: LinenModel, opt_code: str, opt_state) -> tuple[str, list[Arg]]:
    loss = loss_for(d, model, True)
    calls = [f"{t} = model({', '.join(inputs)}, rngs=nnx.Rngs(dropout=dropout_rng))" for t, inputs in loss.calls]
    body = ["model = nnx.merge(graphdef, params)", *calls, *loss.lines, f"return loss, {loss.aux}" if loss.aux else "return loss"]
    value = f"(loss, {loss.aux})" if loss.aux else "loss"
    grad = "jax.value_and_grad(loss_fn, has_aux=True)(params)" if loss.aux else "jax.value_and_grad(loss_fn)(params)"
    metrics = "{" + ", ".join(f"'{k}': {v}" for k, v in loss.metrics.items()) + "}"
    args = [Arg("params", model.params), Arg("opt_state", opt_state), *loss.args(True)]
    if not any(a.name == "dropout_rng" for a in args):
        args.append(Arg("dropout_rng", PRNG_KEY, Domain("prng_key")))
    setup = "".join(f"    {line}\n" for line in loss.setup)
    src = f'''@jax.jit
def train_step({', '.join(a.name for a in args)}):
    """{loss.doc}"""
{setup}    def loss_fn(params):
{chr(10).join('        ' + b for b in body)}

    {value}, grads = {grad}
    updates, opt_state = tx.update(grads, opt_state, params)
    params = optax.apply_updates(params, updates)
    return params, opt_state, {metrics}
'''
    return src, args


def generate(seed: int, max_args: int = 5) -> StyledProgram:
    d = Draw(seed)
    family = d.weighted(FAMILIES)
    for _ in range(200):
        model = family(d, d.pick(BATCH))
        opt = draw_optimizer(d)
        train = d.chance(0.6)
        src, args = _train_step(d, model, opt.code, opt.state(model.params)) if train else _inference(d, model)
        if len(args) <= max_args and fits(args, model.activations, model.forward_work()):
            break
    else:
        raise RuntimeError(f"{CATEGORY} seed {seed}: no program fitted the size budget and {max_args} arguments")
    imports = set(model.imports) | ({"import optax"} if train else set())
    blocks = [model.source, _split_lines(d, model)] + ([opt.code] if train else []) + [src]
    name = src.split("def ", 1)[1].split("(", 1)[0]
    nodes = [*model.nodes, layer("optax." + opt.optimizer.name if train else "inference", [], [])]
    return StyledProgram(CATEGORY, name, module(sorted(imports), *blocks), args, nodes, libraries=("flax", "optax") if train else ("flax",))
