"""optax_training: the analytic optimizer state is what `tx.init(params)` returns, class by class."""

from __future__ import annotations

import ast

import jax
import jax.numpy as jnp
import optax
import pytest

from builder.lowering.argtree import fill
from builder.synth.specs import TensorSpec
from builder.synth.styles import optax_training
from builder.synth.styles.base import Struct, StyledProgram
from builder.synth.styles.optimizers import OPTIMIZERS


def _struct_of(tree):
    """A spec tree as (class path or container, children) with (shape, dtype) leaves."""
    if isinstance(tree, TensorSpec):
        return (tuple(tree.shape), tree.dtype)
    if isinstance(tree, Struct):
        return (tree.cls.split(".")[-1], tuple(_struct_of(s) for _, s in tree.fields))
    if isinstance(tree, tuple):
        return ("tuple", tuple(_struct_of(s) for s in tree))
    return {k: _struct_of(v) for k, v in tree.items()}


def _struct_of_jax(tree):
    if hasattr(tree, "_fields"):
        return (type(tree).__name__, tuple(_struct_of_jax(getattr(tree, f)) for f in tree._fields))
    if isinstance(tree, tuple):
        return ("tuple", tuple(_struct_of_jax(s) for s in tree))
    if isinstance(tree, dict):
        return {k: _struct_of_jax(v) for k, v in tree.items()}
    return (tuple(tree.shape), str(tree.dtype))


def _abstract(tree):
    if isinstance(tree, TensorSpec):
        return jax.ShapeDtypeStruct(tree.shape, jnp.dtype(tree.dtype))
    return {k: _abstract(v) for k, v in tree.items()}


def _namespace(program: StyledProgram) -> dict:
    namespace: dict = {}
    exec(compile(program.render(), "<program>", "exec"), namespace)
    return namespace


@pytest.mark.parametrize("seed", range(40))
def test_opt_state_is_what_tx_init_returns(seed):
    program = optax_training.generate(seed)
    args = {a.name: a.tree for a in program.args}
    if "state" in args:  # flax's TrainState: params and opt_state are its fields
        args.update(dict(args["state"].fields))
    if "opt_state" not in args:
        pytest.skip("an eval step takes no optimizer state")
    got = jax.eval_shape(_namespace(program)["tx"].init, _abstract(args["params"]))
    assert _struct_of_jax(got) == _struct_of(args["opt_state"]), program.render()[-1500:]


@pytest.mark.parametrize("name", sorted(OPTIMIZERS))
@pytest.mark.parametrize("scheduled", [False, True])
def test_every_optimizer_state_template(name, scheduled):
    """Including adafactor's factored moments: 2-D leaves with both large axes, ties, 3-D and 1-D leaves."""
    params = {"a": TensorSpec((256, 130), "bfloat16"), "b": TensorSpec((130,), "float32"), "c": TensorSpec((3, 200, 300), "float32"),
              "d": TensorSpec((128, 128), "float32"), "e": TensorSpec((64, 512), "float32")}  # fmt: skip
    opt = OPTIMIZERS[name]
    lr = optax.cosine_decay_schedule(1e-3, 100) if scheduled else 1e-3
    tx = eval(opt.template.format(lr="lr", b1=0.9, b2=0.99, wd=0.1, momentum=0.9, nesterov=False, decay=0.9), {"optax": optax, "lr": lr})
    assert _struct_of_jax(jax.eval_shape(tx.init, _abstract(params))) == _struct_of(opt.state(params, scheduled))


def test_args_tree_rebuilds_optax_states():
    """The args_tree literal names optax's namedtuples; `fill` rebuilds them, so `tx.update` accepts the state."""
    program = next(p for p in map(optax_training.generate, range(50)) if any(a.name == "opt_state" for a in p.args))
    leaves = [jnp.zeros(v.spec.shape, v.spec.dtype) for v in program.leaves]
    call = fill(ast.literal_eval(program.args_tree()), leaves)
    names = [a.name for a in program.args]
    opt_state = call[names.index("opt_state")]
    tx = _namespace(program)["tx"]
    assert jax.tree.structure(opt_state) == jax.tree.structure(tx.init(call[0]))


def test_fill_refuses_what_is_not_an_optax_or_flax_namedtuple():
    with pytest.raises(ValueError, match="only namedtuple and struct classes"):
        fill(("os.system", 0), ["echo"])
    with pytest.raises(ValueError, match="not a namedtuple"):
        fill(("optax.adam", 0), [1e-3])


def test_args_tree_rebuilds_a_train_state_from_the_programs_globals():
    """A TrainState's static fields name the program's `tx` and `model.apply`; one apply_gradients step runs
    on the rebuilt state, and a string that is no public global of the program is refused."""
    program = next(p for p in map(optax_training.generate, range(50)) if "TrainState" in p.args_tree())
    namespace = _namespace(program)
    leaves = [jnp.zeros(v.spec.shape, v.spec.dtype) for v in program.leaves]
    state = fill(ast.literal_eval(program.args_tree()), leaves, namespace)[0]
    assert state.tx is namespace["tx"] and state.apply_fn == namespace["model"].apply
    assert int(state.apply_gradients(grads=state.params).step) == 1
    tree = ("flax.training.train_state.TrainState", {"step": 0, "params": {}, "opt_state": (), "apply_fn": "model.apply", "tx": "tx"})
    with pytest.raises(ValueError, match="with the program's namespace"):
        fill(tree, [0])
    for name in ("__builtins__", "os.system", "model._state"):
        with pytest.raises(ValueError, match="not a public global"):
            fill((tree[0], {**tree[1], "tx": name}), [0], namespace)


def test_same_seed_same_program_and_seeds_differ():
    assert optax_training.generate(3).render() == optax_training.generate(3).render()
    assert len({optax_training.generate(s).render() for s in range(20)}) == 20


def test_every_step_kind_real_code_uses_is_drawn():
    """flax's examples train through a TrainState, big_vision through update_fn over a dict, maxtext accumulates
    microbatch gradients under lax.scan; the explicit params / opt_state step and eval steps stay."""
    sources = [optax_training.generate(s).render() for s in range(60)]
    markers = {"TrainState": "state.apply_gradients(grads=grads)", "update_fn": 'return {"params": params, "opt": opt}, measurements',
               "accumulate": "jax.lax.scan(accumulate, init, microbatches)", "explicit": "params = optax.apply_updates(params, updates)\n    metrics",
               "eval": "def eval"}  # fmt: skip
    counts = {kind: sum(marker in s for s in sources) for kind, marker in markers.items()}
    assert all(n >= 3 for n in counts.values()), counts
