"""optax optimizers as real code builds them, with the state `tx.init(params)` returns computed
analytically (`tests/synth/styles` checks it against `jax.eval_shape(tx.init, params)`)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from ..specs import TensorSpec
from .base import Draw, SpecTree, Struct, map_specs

COUNT = TensorSpec((), "int32")
EMPTY = Struct("optax.EmptyState", ())
MIN_DIM_SIZE_TO_FACTOR = 128  # optax.adafactor's default


def schedule_state(scheduled: bool) -> Struct:
    """`scale_by_learning_rate`'s state: a step count when the learning rate is a schedule."""
    return Struct("optax.ScaleByScheduleState", (("count", COUNT),)) if scheduled else EMPTY


def _adam(p: SpecTree, s: bool) -> tuple:
    return (Struct("optax.ScaleByAdamState", (("count", COUNT), ("mu", p), ("nu", p))), schedule_state(s))


def _adamw(p: SpecTree, s: bool) -> tuple:
    return (Struct("optax.ScaleByAdamState", (("count", COUNT), ("mu", p), ("nu", p))), EMPTY, schedule_state(s))


def _sgd(p: SpecTree, s: bool) -> tuple:
    return (Struct("optax.TraceState", (("trace", p),)), schedule_state(s))


def _lion(p: SpecTree, s: bool) -> tuple:
    return (Struct("optax.ScaleByLionState", (("count", COUNT), ("mu", p))), EMPTY, schedule_state(s))


def _rmsprop(p: SpecTree, s: bool) -> tuple:
    return (Struct("optax.ScaleByRmsState", (("nu", p),)), schedule_state(s), EMPTY)


def _factored(spec: TensorSpec) -> tuple[int, int] | None:
    """optax.factorized._factored_dims: the two largest axes, when the second is at least 128."""
    if len(spec.shape) < 2:
        return None
    order = np.argsort(spec.shape)
    if spec.shape[order[-2]] < MIN_DIM_SIZE_TO_FACTOR:
        return None
    return int(order[-2]), int(order[-1])


def _drop(spec: TensorSpec, axis: int) -> TensorSpec:
    return TensorSpec(tuple(n for i, n in enumerate(spec.shape) if i != axis), spec.dtype)


def _adafactor(p: SpecTree, s: bool) -> tuple:
    one = lambda spec: TensorSpec((1,), spec.dtype)  # noqa: E731
    v_row = map_specs(lambda spec: _drop(spec, _factored(spec)[1]) if _factored(spec) else one(spec), p)
    v_col = map_specs(lambda spec: _drop(spec, _factored(spec)[0]) if _factored(spec) else one(spec), p)
    v = map_specs(lambda spec: one(spec) if _factored(spec) else spec, p)
    state = Struct("optax.FactoredState", (("count", COUNT), ("v_row", v_row), ("v_col", v_col), ("v", v)))
    return (state, EMPTY, schedule_state(s), EMPTY, EMPTY)


@dataclass(frozen=True)
class Optimizer:
    """An optax optimizer: how it is written (with `{lr}` for the learning rate) and its state."""

    name: str
    template: str
    state: Callable[[SpecTree, bool], tuple]


OPTIMIZERS = {
    "adam": Optimizer("adam", "optax.adam({lr}, b1={b1}, b2={b2})", _adam),
    "adamw": Optimizer("adamw", "optax.adamw({lr}, b1={b1}, b2={b2}, weight_decay={wd})", _adamw),
    "sgd": Optimizer("sgd", "optax.sgd({lr}, momentum={momentum}, nesterov={nesterov})", _sgd),
    "lion": Optimizer("lion", "optax.lion({lr}, weight_decay={wd})", _lion),
    "adafactor": Optimizer("adafactor", "optax.adafactor({lr})", _adafactor),
    "rmsprop": Optimizer("rmsprop", "optax.rmsprop({lr}, decay={decay})", _rmsprop),
}
SCHEDULES = (
    "optax.warmup_cosine_decay_schedule(init_value=0.0, peak_value={peak}, warmup_steps={warmup}, decay_steps={steps}, end_value={end})",
    "optax.cosine_decay_schedule(init_value={peak}, decay_steps={steps})",
    "optax.linear_schedule(init_value={peak}, end_value={end}, transition_steps={steps})",
    "optax.exponential_decay(init_value={peak}, transition_steps={warmup}, decay_rate=0.96)",
    "optax.join_schedules([optax.linear_schedule(0.0, {peak}, {warmup}), optax.constant_schedule({peak})], [{warmup}])",
)


@dataclass(frozen=True)
class DrawnOptimizer:
    """The module-level code that builds `tx` (and its schedule), and the state it initializes."""

    code: str
    optimizer: Optimizer
    scheduled: bool
    clip: str | None

    def state(self, params: SpecTree) -> SpecTree:
        inner = self.optimizer.state(params, self.scheduled)
        return (EMPTY, inner) if self.clip else inner


def draw_optimizer(d: Draw) -> DrawnOptimizer:
    opt = OPTIMIZERS[d.weighted({"adam": 3, "adamw": 4, "sgd": 2, "lion": 1, "adafactor": 1, "rmsprop": 1})]
    peak = d.pick((1e-4, 3e-4, 5e-4, 1e-3, 2e-3, 1e-2, 0.1)) if opt.name != "sgd" else d.pick((0.01, 0.05, 0.1, 0.4))
    scheduled = d.chance(0.6)
    lines = []
    if scheduled:
        steps = d.pick((10_000, 50_000, 100_000, 500_000))
        warmup = d.pick(tuple(w for w in (500, 1000, 2000, 10_000) if w < steps))  # warmup-cosine decays over steps - warmup > 0
        sched = d.pick(SCHEDULES).format(peak=peak, warmup=warmup, steps=steps, end=peak / 100)
        lines.append(f"learning_rate_fn = {sched}")
        lr = "learning_rate_fn"
    else:
        lr = f"learning_rate={peak}" if d.chance(0.3) else str(peak)
    inner = opt.template.format(lr=lr, b1=d.pick((0.9, 0.9, 0.95)), b2=d.pick((0.999, 0.98, 0.95)), wd=d.pick((1e-4, 0.01, 0.05, 0.1)),
                                momentum=d.pick((0.9, 0.9, 0.95)), nesterov=d.chance(0.3), decay=d.pick((0.9, 0.99)))  # fmt: skip
    clip = d.pick(("optax.clip_by_global_norm({c})", "optax.clip({c})")).format(c=d.pick((0.5, 1.0, 1.0, 5.0))) if d.chance(0.45) else None
    if clip:
        lines.append(f"tx = optax.chain(\n    {clip},\n    {inner},\n)")
    else:
        lines.append(f"tx = {inner}")
    return DrawnOptimizer("\n".join(lines), opt, scheduled, clip)
