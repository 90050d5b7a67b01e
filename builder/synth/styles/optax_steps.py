"""Two more ways real code writes a train step over a linen model: big_vision's `update_fn`, whose
state is a plain dict `{'params': ..., 'opt': ...}` and whose metrics are `measurements`, and
maxtext's gradient accumulation, which sums the gradients of microbatches under `jax.lax.scan`
before one optimizer update."""

from __future__ import annotations

from ..domains import Domain
from .base import Arg, Draw, Leaf
from .linen_model import PRNG_KEY, LinenModel
from .optimizers import DrawnOptimizer
from .training_losses import LossCode


def _call(model: LinenModel, inputs: list[str], dropout_key: str = "dropout_rng") -> str:
    kwargs = ["train=True"] if model.train_arg else []
    if model.dropout:
        kwargs.append(f"rngs={{'dropout': {dropout_key}}}")
    return f"model.apply({{'params': params}}, {', '.join([*inputs, *kwargs])})"


def _function(decorator: str, name: str, params: list[str], doc: str | None, lines: list[str], returns: str) -> str:
    body = "\n".join(("    " + line) if line else "" for line in lines)
    text = f'    """{doc}"""\n' if doc else ""
    return (decorator + "\n" if decorator else "") + f"def {name}({', '.join(params)}):\n{text}{body}\n    return {returns}\n"


def update_fn_fits(model: LinenModel, loss: LossCode) -> bool:
    """big_vision's step takes one `rng`: not for losses that draw their own keys, nor for BatchNorm models."""
    return model.batch_stats is None and not loss.keys


def update_fn(d: Draw, model: LinenModel, loss: LossCode, opt: DrawnOptimizer) -> tuple[str, list[Arg]]:
    """`update_fn(train_state, batch, rng)` as big_vision's trainers write it."""
    lines = ['params, opt = train_state["params"], train_state["opt"]']
    if model.dropout:
        lines.append("rng, dropout_rng = jax.random.split(rng)")
    calls = [f"{t} = {_call(model, inputs)}" for t, inputs in loss.calls]
    lines += [*loss.setup, "def loss_fn(params):", *("    " + b for b in [*calls, *loss.lines, "return loss"]), ""]
    lines += ["loss, grads = jax.value_and_grad(loss_fn)(params)", "updates, opt = tx.update(grads, opt, params)", "params = optax.apply_updates(params, updates)",
              "", 'measurements = {"training_loss": loss}']  # fmt: skip
    if d.chance(0.5):
        lines += ['measurements["l2_grads"] = optax.global_norm(grads)', 'measurements["l2_params"] = optax.global_norm(params)']
    if d.chance(0.3):
        lines.append('measurements["l2_updates"] = optax.global_norm(updates)')
    args = [Arg("train_state", {"params": model.params, "opt": opt.state(model.params)}), *loss.batch, Arg("rng", PRNG_KEY, Domain("prng_key"))]
    decorator = d.pick(("@functools.partial(jax.jit, donate_argnums=(0,))", "@jax.jit"))
    doc = ("One optimizer step; the old state's buffers are donated." if "donate" in decorator else "One optimizer step.") if d.chance(0.5) else None
    return _function(decorator, "update_fn", [a.name for a in args], doc, lines, '{"params": params, "opt": opt}, measurements'), args


def accumulation_fits(model: LinenModel, loss: LossCode) -> bool:
    """Microbatches split one `batch` dict on its leading axis: every entry must have the model's batch there."""
    if model.batch_stats is not None or model.loops or loss.keys or len(loss.batch) != 1 or loss.batch[0].name != "batch" or model.batch < 2:
        return False
    entries = loss.batch[0].tree
    return isinstance(entries, dict) and all(isinstance(v, Leaf) and v.spec.shape[:1] == (model.batch,) for v in entries.values())


def accumulation_step(d: Draw, model: LinenModel, loss: LossCode, opt: DrawnOptimizer) -> tuple[str, list[Arg], int]:
    """maxtext's gradient accumulation: gradients of `steps` microbatches summed under `jax.lax.scan`, then averaged."""
    steps = d.pick(tuple(k for k in (2, 4, 8) if model.batch % k == 0))
    rewrite = lambda line: line.replace("batch[", "microbatch[")  # noqa: E731
    calls = [f"{t} = {rewrite(_call(model, inputs))}" for t, inputs in loss.calls]
    aux = loss.aux
    body = [*map(rewrite, loss.setup), *calls, *map(rewrite, loss.lines), f"return loss, {aux}" if aux else "return loss"]
    grad = "jax.value_and_grad(loss_fn, has_aux=True)" if aux else "jax.value_and_grad(loss_fn)"
    value = "(loss, _)" if aux else "loss"
    lines = [
        "microbatches = jax.tree.map(lambda x: x.reshape((num_microbatches, -1) + x.shape[1:]), batch)", "",
        "def loss_fn(params, microbatch):", *("    " + b for b in body), "",
        "def accumulate(carry, microbatch):", "    grad_sum, loss_sum = carry",
        f"    {value}, grads = {grad}(params, microbatch)",
        "    return (jax.tree.map(jnp.add, grad_sum, grads), loss_sum + loss), None", "",
        "init = (jax.tree.map(jnp.zeros_like, params), jnp.zeros((), jnp.float32))",
        "(grad_sum, loss_sum), _ = jax.lax.scan(accumulate, init, microbatches)",
        "grads = jax.tree.map(lambda g: g / num_microbatches, grad_sum)",
        "updates, opt_state = tx.update(grads, opt_state, params)", "params = optax.apply_updates(params, updates)",
    ]  # fmt: skip
    args = [Arg("params", model.params), Arg("opt_state", opt.state(model.params)), *loss.args(True)]
    doc = f"One optimizer step on the gradients of {steps} microbatches, accumulated with lax.scan." if d.chance(0.6) else None
    params = [a.name for a in args] + [f"num_microbatches: int = {steps}"]
    src = _function("@functools.partial(jax.jit, static_argnames=('num_microbatches',))", "train_step", params, doc, lines,
                    "params, opt_state, {'loss': loss_sum / num_microbatches}")  # fmt: skip
    return src, args, steps
