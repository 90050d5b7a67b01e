"""`flax_linen`: a linen model of a drawn family, built at module level and applied the way real code
applies it: `model.apply({'params': params}, x, train=..., rngs={'dropout': key})`, BatchNorm statistics
through `mutable=['batch_stats']`, predictions post-processed (argmax, softmax, top-k, sampling)."""

from __future__ import annotations

from ..domains import Domain
from .base import Arg, Draw, StyledProgram, module
from .linen_dense import mlp, moe, vae
from .linen_graph import gnn
from .linen_model import PRNG_KEY, LinenModel, draw_model
from .linen_sequence import decoder, encoder, rnn
from .linen_vision import cnn, resnet, unet, vit

CATEGORY = "flax_linen"
FAMILIES = {mlp: 2.0, cnn: 1.5, resnet: 1.5, vit: 1.5, encoder: 1.5, decoder: 2.0, rnn: 1.0, vae: 1.0, moe: 1.0, unet: 1.0, gnn: 1.0}
DECORATORS = ("@jax.jit", "@jax.jit", "", "@functools.partial(jax.jit, static_argnames=('train',))")


def variables_expr(model: LinenModel) -> str:
    return "{'params': params, 'batch_stats': batch_stats}" if model.batch_stats is not None else "{'params': params}"


def call_args(model: LinenModel) -> str:
    return ", ".join(i.name for i in model.inputs)


def postprocess(d: Draw, model: LinenModel, out: str) -> tuple[list[str], str, list[Arg]]:
    """What real code does with the model's output before returning it: lines, the returned expression, extra args."""
    if model.output == "classify":
        kind = d.pick(("logits", "probs", "argmax", "top_k", "log_probs"))
        if kind == "probs":
            return [], f"jax.nn.softmax({out}, axis=-1)", []
        if kind == "argmax":
            return [f"predictions = jnp.argmax({out}, axis=-1)"], f"{out}, predictions", []
        if kind == "top_k" and model.out_dim > 5:
            k = d.pick((3, 5))
            return [f"top_scores, top_classes = jax.lax.top_k(jax.nn.softmax({out}, axis=-1), k={k})"], "top_scores, top_classes", []
        if kind == "log_probs":
            return [], f"jax.nn.log_softmax({out}, axis=-1)", []
        return [], out, []
    if model.output == "lm":
        kind = d.pick(("logits", "greedy", "sample", "log_probs"))
        if kind == "greedy":
            return [f"next_token = jnp.argmax({out}[:, -1, :], axis=-1)"], "next_token", []
        if kind == "sample":
            return [f"next_token = jax.random.categorical(sample_rng, {out}[:, -1, :] / temperature)"], "next_token", [
                Arg("sample_rng", PRNG_KEY, Domain("prng_key"))]  # fmt: skip
        if kind == "log_probs":
            return [f"log_probs = jax.nn.log_softmax({out}.astype(jnp.float32), axis=-1)"], "log_probs", []
        return [], out, []
    return [], out, []


def entry(d: Draw, model: LinenModel) -> tuple[str, list[Arg], bool]:
    """The apply wrapper's source, its arguments, and whether it draws a `temperature` static argument."""
    args = [*model.variables(), *(i.arg() for i in model.inputs)]
    train = model.train_arg and d.chance(0.5)
    kwargs = []
    lines = []
    if model.train_arg:
        kwargs.append(f"train={train}")
    if train and model.dropout:
        kwargs.append("rngs={'dropout': dropout_rng}")
        args.append(Arg("dropout_rng", PRNG_KEY, Domain("prng_key")))
    call = f"model.apply({variables_expr(model)}, {call_args(model)}{''.join(', ' + k for k in kwargs)}"
    if train and model.batch_stats is not None:
        lines.append(f"logits, updates = {call}, mutable=['batch_stats'])")
        ret = "logits, updates['batch_stats']"
    elif model.output == "vae":
        lines.append(f"recon_logits, mean, logvar = {call})")
        ret = d.pick(("jax.nn.sigmoid(recon_logits), mean, logvar", "recon_logits, mean, logvar"))
    elif model.output == "moe":
        lines.append(f"outputs, aux_loss = {call})")
        ret = "outputs, aux_loss"
    else:
        out = "logits" if model.output in ("classify", "lm") else d.pick(("outputs", "y", "predictions"))
        lines.append(f"{out} = {call})")
        more, ret, extra = postprocess(d, model, out)
        lines += more
        args += extra
    temperature = "temperature" in "\n".join(lines)
    names = ", ".join(a.name for a in args) + (", temperature: float = 1.0" if temperature else "")
    if d.chance(0.4):
        names = ", ".join(f"{a.name}: {_annotation(a)}" for a in args) + (", temperature: float = 1.0" if temperature else "")
    decorator = d.pick(DECORATORS)
    if temperature:
        decorator = "@functools.partial(jax.jit, static_argnames=('temperature',))"
    elif "static_argnames" in decorator:
        decorator = "@jax.jit"
    name = d.pick(("apply_model", "predict", "forward", "infer", "apply_fn", "predict_fn")) if not train else d.pick(("forward_train", "apply_train", "train_forward"))
    doc = f'    """{_doc(model, train)}"""\n' if d.chance(0.5) else ""
    body = "\n".join("    " + line for line in lines)
    src = (decorator + "\n" if decorator else "") + f"def {name}({names}):\n{doc}{body}\n    return {ret}\n"
    return src, args, temperature


def _annotation(a: Arg) -> str:
    return "jax.Array" if a.name not in ("params", "batch_stats") else "dict"


def _doc(model: LinenModel, train: bool) -> str:
    mode = "in training mode" if train else "for inference"
    return f"Applies the {model.family} model {mode}."


def generate(seed: int, max_args: int = 5) -> StyledProgram:
    d = Draw(seed)
    for _ in range(100):  # a model whose apply wrapper takes more than max_args arguments is drawn again
        model = draw_model(d, FAMILIES)
        src, args, _ = entry(d, model)
        if len(args) <= max_args:
            break
    else:
        raise RuntimeError(f"{CATEGORY} seed {seed}: no program took at most {max_args} arguments")
    imports = set(model.imports) | {"import functools", "import jax", "import jax.numpy as jnp", "import flax.linen as nn"}
    name = src.split("def ", 1)[1].split("(", 1)[0]
    source = module(sorted(imports), model.source, f"model = {model.construct}", src)  # keeps the imports it reads
    return StyledProgram(CATEGORY, name, source, args, model.nodes, libraries=("flax",), loop_trip_counts=list(model.loops))
