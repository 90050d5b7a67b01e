"""`optax_training`: train and eval steps as flax's examples and big_vision write them: a linen model
at module level, `tx` built from optax (optionally chained with clipping, with a schedule), a
`loss_fn` under `jax.value_and_grad(..., has_aux=True)`, `tx.update` and `optax.apply_updates`,
and metrics (accuracy, top-k, perplexity, gradient norm). The loss follows what the model predicts."""

from __future__ import annotations

from ..domains import Domain
from ..specs import python_scalar
from .base import Arg, Draw, Leaf, Struct, StyledProgram, differentiated, fits, layer, module
from .linen_dense import mlp, moe, vae
from .linen_graph import gnn
from .linen_model import LinenModel, draw_model
from .linen_sequence import decoder, encoder, rnn
from .linen_vision import cnn, resnet, unet
from .optax_steps import accumulation_fits, accumulation_step, update_fn, update_fn_fits
from .optimizers import DrawnOptimizer, draw_optimizer
from .training_losses import LossCode, loss_for

CATEGORY = "optax_training"
FAMILIES = {mlp: 2.0, cnn: 1.5, resnet: 1.0, encoder: 1.0, decoder: 2.0, rnn: 1.0, vae: 1.0, moe: 0.7, unet: 0.8, gnn: 0.8}
TRAIN_DECORATORS = ("@jax.jit", "@jax.jit", "", "@functools.partial(jax.jit, donate_argnums=(0, 1))")


def _apply(model: LinenModel, variables: str, inputs: list[str], train: bool, mutable: bool) -> str:
    kwargs = [f"train={train}"] if model.train_arg else []
    if train and model.dropout:
        kwargs.append("rngs={'dropout': dropout_rng}")
    if mutable:
        kwargs.append("mutable=['batch_stats']")
    return f"model.apply({variables}, {', '.join([*inputs, *kwargs])})"


def train_step(d: Draw, model: LinenModel, loss: LossCode) -> tuple[str, list[Arg]]:
    stats = model.batch_stats is not None
    variables = "{'params': params, 'batch_stats': batch_stats}" if stats else "{'params': params}"
    aux = loss.aux if not stats else f"({loss.aux}, new_model_state)" if loss.aux else "new_model_state"
    calls = [f"{target}, new_model_state" if stats else target for target, _ in loss.calls]
    body = [f"{t} = {_apply(model, variables, inputs, True, stats)}" for t, (_, inputs) in zip(calls, loss.calls, strict=True)] + loss.lines
    value = f"(loss, {aux})" if aux else "loss"
    ret = f"loss, {aux}" if aux else "loss"
    grad_call = "jax.value_and_grad(loss_fn, has_aux=True)(params)" if aux else "jax.value_and_grad(loss_fn)(params)"
    lines = [*loss.setup, "def loss_fn(params):", *("    " + b for b in body), f"    return {ret}", "", f"{value}, grads = {grad_call}"]
    if d.chance(0.2):
        lines.insert(len(loss.setup), "# gradients of the loss w.r.t. params only; the batch and keys are closed over")
    lines += ["updates, opt_state = tx.update(grads, opt_state, params)", "params = optax.apply_updates(params, updates)"]
    metrics = dict(loss.metrics)
    if d.chance(0.35):
        metrics["grad_norm"] = "optax.tree.norm(grads)"
    lines.append("metrics = {" + ", ".join(f"'{k}': {v}" for k, v in metrics.items()) + "}")
    returns = "params, new_model_state['batch_stats'], opt_state, metrics" if stats else "params, opt_state, metrics"
    args = [Arg("params", model.params)]
    if stats:
        args.append(Arg("batch_stats", model.batch_stats))
    return _function(d, "train_step", lines, returns, args, loss), args


def state_arg(model: LinenModel, opt: DrawnOptimizer) -> Arg:
    """flax's `TrainState` as a pytree argument: `step` (a Python int after `TrainState.create`, so weakly
    typed), params and opt_state; `apply_fn` and `tx` are static, the module's `model.apply` and `tx`."""
    fields = (("step", Leaf(python_scalar("int32"), Domain("int", 0, 100_000))), ("params", model.params), ("opt_state", opt.state(model.params)))
    return Arg("state", Struct("flax.training.train_state.TrainState", fields, (("apply_fn", "model.apply"), ("tx", "tx"))))


def train_state_step(d: Draw, model: LinenModel, loss: LossCode, opt: DrawnOptimizer) -> tuple[str, list[Arg]]:
    """A train step over flax's `TrainState`, as flax's examples (lm1b, wmt, sst2, nlp_seq, vae, ogbg_molpcba)
    write it: `state.apply_fn`, the dropout key folded with `state.step`, `state.apply_gradients`."""
    lines = []
    if model.dropout and d.chance(0.7):
        lines.append("dropout_rng = jax.random.fold_in(dropout_rng, state.step)")
    variables = "{'params': params}"
    calls = [f"{t} = " + _apply(model, variables, inputs, True, False).replace("model.apply", "state.apply_fn", 1) for t, inputs in loss.calls]
    aux = loss.aux
    body = [*calls, *loss.lines, f"return loss, {aux}" if aux else "return loss"]
    lines += [*loss.setup, "def loss_fn(params):", *("    " + b for b in body), ""]
    if aux:
        lines += ["grad_fn = jax.value_and_grad(loss_fn, has_aux=True)", f"(loss, {aux}), grads = grad_fn(state.params)"]
    else:
        lines += ["loss, grads = jax.value_and_grad(loss_fn)(state.params)"]
    lines.append(d.pick(("state = state.apply_gradients(grads=grads)", "new_state = state.apply_gradients(grads=grads)")))
    metrics = dict(loss.metrics)
    if opt.scheduled and d.chance(0.5):
        metrics["learning_rate"] = "learning_rate_fn(state.step)"
    lines.append("metrics = {" + ", ".join(f"'{k}': {v}" for k, v in metrics.items()) + "}")
    returns = "new_state, metrics" if "new_state" in lines[-2] else "state, metrics"
    params = ["state", *(a.name for a in loss.args(True))]
    annotated = d.chance(0.5)
    sig = ", ".join(f"{p}: train_state.TrainState" if annotated and p == "state" else p for p in params)
    decorator = d.pick(("@jax.jit", "@jax.jit", "@functools.partial(jax.jit, donate_argnums=(0,))"))
    doc = f'    """{loss.doc}"""\n' if d.chance(0.6) else ""
    text = "\n".join(("    " + line) if line else "" for line in lines)
    return f"{decorator}\ndef train_step({sig}):\n{doc}{text}\n    return {returns}\n", [state_arg(model, opt)]


def eval_step(d: Draw, model: LinenModel, loss: LossCode) -> tuple[str, list[Arg]]:
    stats = model.batch_stats is not None
    variables = "{'params': params, 'batch_stats': batch_stats}" if stats else "{'params': params}"
    lines = [*loss.setup, *(f"{t} = {_apply(model, variables, inputs, False, False)}" for t, inputs in loss.calls), *loss.lines]
    metrics = "{" + ", ".join(f"'{k}': {v}" for k, v in {"loss": "loss", **loss.metrics}.items()) + "}"
    args = [Arg("params", model.params)] + ([Arg("batch_stats", model.batch_stats)] if stats else [])
    return _function(d, d.pick(("eval_step", "evaluate", "eval_fn")), lines, metrics, args, loss, train=False), args


def _function(d: Draw, name: str, lines: list[str], returns: str, args: list[Arg], loss: LossCode, train: bool = True) -> str:
    params = [a.name for a in args] + (["opt_state"] if train else []) + [a.name for a in loss.args(train)]
    decorator = d.pick(TRAIN_DECORATORS if train else ("@jax.jit", ""))
    doc = f'    """{loss.doc}"""\n' if d.chance(0.6) else ""
    body = "\n".join(("    " + line) if line else "" for line in lines)
    return (decorator + "\n" if decorator else "") + f"def {name}({', '.join(params)}):\n{doc}{body}\n    return {returns}\n"


def draw_step(d: Draw, model: LinenModel, loss: LossCode, opt: DrawnOptimizer, train: bool) -> tuple[str, str, list[Arg], list[int]]:
    """The step's kind, source, arguments and loop trip counts: an eval step, or a train step written as flax's
    examples (explicit params and opt_state, or a TrainState), big_vision (`update_fn`) or maxtext (accumulation) do."""
    forward = [t for _ in loss.calls for t in model.loops]  # one forward pass per model call in the step
    if not train:
        src, args = eval_step(d, model, loss)
        return "eval", src, [*args, *loss.args(False)], forward
    kinds = {"explicit": 4.0, "state": 3.0 if model.batch_stats is None else 0.0, "update_fn": 1.5 if update_fn_fits(model, loss) else 0.0,
             "accumulate": 3.0 if accumulation_fits(model, loss) else 0.0}  # fmt: skip
    kind = d.weighted(kinds)
    if kind == "update_fn":
        src, args = update_fn(d, model, loss, opt)
        return kind, src, args, differentiated(forward)
    if kind == "accumulate":  # the model has no loops of its own: the scan over microbatches is the only one
        src, args, steps = accumulation_step(d, model, loss, opt)
        return kind, src, args, [steps]
    if kind == "state":
        src, args = train_state_step(d, model, loss, opt)
    else:
        src, args = train_step(d, model, loss)
        args.append(Arg("opt_state", opt.state(model.params)))
    return kind, src, [*args, *loss.args(True)], differentiated(forward)


def generate(seed: int, max_args: int = 5) -> StyledProgram:
    d = Draw(seed)
    for _ in range(100):
        model = draw_model(d, FAMILIES)
        opt = draw_optimizer(d)
        train = model.output in ("vae", "noise", "moe", "regress") or d.chance(0.8)
        loss = loss_for(d, model, train)
        kind, src, args, loops = draw_step(d, model, loss, opt, train)
        if len(args) <= max_args and fits(args, model.activations, model.forward_work()):
            break
    else:
        raise RuntimeError(f"{CATEGORY} seed {seed}: no program fitted the size budget and {max_args} arguments")
    name = src.split("def ", 1)[1].split("(", 1)[0]
    imports = set(model.imports) | {"import functools", "import jax", "import jax.numpy as jnp", "import flax.linen as nn", "import optax"}
    if kind == "state":  # by name alone it cannot tell: big_vision's update_fn takes a `train_state` dict argument
        imports.add("from flax.training import train_state")
    blocks = [model.source, *loss.helpers, f"model = {model.construct}"] + ([opt.code] if train else []) + [src]
    source = module(sorted(imports), *blocks)
    nodes = [*model.nodes, layer(f"optax.{opt.optimizer.name}" if train else "eval", [], []), layer(loss.name, [], [])]
    if kind in ("update_fn", "accumulate"):
        nodes.append(layer(f"step[{kind}]", [], []))
    return StyledProgram(CATEGORY, name, source, args, nodes, libraries=("flax", "optax"), loop_trip_counts=loops)
