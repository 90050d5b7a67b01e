"""Source + argument specs -> the IR texts and cost figures of one row.

The extractor trusts nothing but the source: it execs it in a fresh namespace,
traces once (the jaxpr), lowers that trace (StableHLO), and lowers the gradient of
a scalar reduction of the outputs where the program is differentiable.
"""

from __future__ import annotations

import ast
import re
import sys
import types
import weakref
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from functools import cache
from importlib import metadata
from typing import Any

import jax
import jax.numpy as jnp
import jaxlib
import numpy as np
from jax._src import util as jax_util
from jax._src.interpreters import partial_eval

from ..synth.specs import FLOAT, TensorSpec
from .argtree import LIBRARIES, fill
from .loops import loop_trip_counts

# An op at statement position: `%x = stablehlo.add ...`, `"stablehlo.case"(...)`, `stablehlo.return ...`.
_OP = re.compile(r'^\s*(?:%[^=]*=\s*)?"?([a-z_]+\.[a-z_0-9.]+)', re.MULTILINE)
_NOT_OPS = frozenset({"func.func", "module"})


@dataclass(frozen=True)
class Extracted:
    """What JAX produced for one program."""

    jaxpr: str
    stablehlo: str
    stablehlo_grad: str | None
    hlo_optimized: str | None
    flops: float
    transcendentals: float
    bytes_accessed: float
    loop_trip_counts: list[int]  # of the stablehlo's loops, as `loops.loop_trip_counts` reads them
    ops: list[str]
    outputs: list[TensorSpec]


@cache
def _base_version() -> str:
    return f"jax {jax.__version__}; jaxlib {jaxlib.__version__}; platform {jax.default_backend()}"


def jax_version(source: str | None = None) -> str:
    """The JAX and jaxlib versions and the lowering platform, which together fix the IR, plus the version
    of every library beside JAX that `source` imports (flax, optax): their code is traced into it too."""
    libraries = imported_libraries(source) if source else ()
    return "; ".join([_base_version(), *(f"{name} {metadata.version(name)}" for name in libraries)])


def imported_libraries(source: str) -> tuple[str, ...]:
    """The libraries of `argtree.LIBRARIES` that a module's top-level imports name, sorted."""
    names = set()
    for node in ast.parse(source).body:
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module.split(".")[0])
    return tuple(sorted(names & set(LIBRARIES)))


def load_module(source: str, entry_point: str, on_devices: bool = False) -> dict[str, Any]:
    """Exec `source` in a fresh namespace and return it (its globals name a TrainState's `tx`, `model.apply`).

    `on_devices`: every module-level `AbstractMesh` (a `parallel` program's mesh, which lowers
    without devices but cannot compile) is replaced by a `Mesh` of the same axes over this
    process's first devices, so the program can run (validation, with `HOST_DEVICES` host devices)."""
    program = types.ModuleType(f"program_{entry_point}")
    namespace: dict[str, Any] = program.__dict__
    # Registered while it runs: dataclasses (and so flax modules) look their defining module up in sys.modules.
    sys.modules[program.__name__] = program
    try:
        exec(compile(source, f"<{entry_point}>", "exec"), namespace)
    finally:
        sys.modules.pop(program.__name__, None)
    if on_devices:
        for name, value in list(namespace.items()):
            if isinstance(value, jax.sharding.AbstractMesh):
                devices = jax.devices()[: value.size]
                if len(devices) < value.size:
                    raise ValueError(f"{name} spans {value.size} devices and this process has {len(devices)}")
                grid = np.array(devices, dtype=object).reshape(value.axis_sizes)
                namespace[name] = jax.sharding.Mesh(grid, value.axis_names, axis_types=value.axis_types)
    return namespace


def abstract_args(leaves: Sequence[TensorSpec], args_tree: str, namespace: dict[str, Any] | None = None) -> tuple[Any, ...]:
    """`ShapeDtypeStruct`s arranged as the function's positional arguments (a Python scalar
    argument as a weakly typed scalar: the same trace as passing a Python float or int)."""
    structs = [jax.ShapeDtypeStruct(s.shape, jnp.dtype(s.dtype), weak_type=s.weak_type) for s in leaves]
    return fill(ast.literal_eval(args_tree), structs, namespace)


def distinct_ops(text: str) -> list[str]:
    """The distinct op names at statement position in an MLIR text (`func.func` excluded)."""
    return sorted({m for m in _OP.findall(text) if m not in _NOT_OPS})


def counted_ops(ops: Iterable[str]) -> list[str]:
    """The ops that count toward coverage: the StableHLO and CHLO dialects."""
    return sorted(o for o in set(ops) if o.startswith(("stablehlo.", "chlo.")))


def scalar_loss(fn: Callable[..., Any], treedef: Any) -> Callable[..., Any]:
    """f(*leaves) -> sum of the real parts of every float output, summed in float32."""

    def loss(*leaves: Any) -> Any:
        outputs = fn(*jax.tree_util.tree_unflatten(treedef, leaves))
        terms = [
            jnp.sum(jnp.real(o).astype(jnp.float32))
            for o in jax.tree_util.tree_leaves(outputs)
            if jnp.issubdtype(o.dtype, jnp.inexact)
        ]
        return sum(terms, jnp.float32(0.0))

    return loss


def release_traces() -> None:
    """Drop what JAX kept from earlier programs, so memory stays flat over a long build.

    JAX's Python-level caches fill with every program's traces and lowerings: one is
    unbounded (`partial_eval.trace_to_jaxpr`, which keeps jnp's jitted helpers traced at
    every shape seen), and the bounded ones hold thousands of whole-program jaxprs. Programs
    with random shapes almost never hit them, so clearing them before each program costs
    nothing measurable (benchmarks/README.md) and every row is lowered from the same state.
    JAX's C++ executable caches are left alone: a user who streams rows while running their
    own jitted code does not recompile it. Also drops the trace cycles JAX 0.10 leaks
    (`_drop_dead_trace_finalizers`).
    """
    clear = getattr(jax_util, "clear_all_caches", None)
    if callable(clear):
        clear()
    else:  # another JAX version: the public, wider reset (also drops compiled executables)
        jax.clear_caches()
    _drop_dead_trace_finalizers()


def _drop_dead_trace_finalizers() -> None:
    """Detach the finalizers JAX left on the constants of traces that have ended.

    For each constant a trace captures, JAX registers `weakref.finalize(tracer,
    trace.finalize_const, ...)`; the trace's frame holds that tracer, so when the frame is
    not released (a constant inside a `shard_map` body, jax 0.10) the finalizer keeps
    trace, frame and tracers alive for good, a cycle rooted in weakref's registry. Between
    programs no trace of ours is running, and a detached finalizer only skips popping a
    constant from a dead trace's table.
    """
    registry = getattr(weakref.finalize, "_registry", None)
    target = getattr(getattr(partial_eval, "DynamicJaxprTrace", None), "finalize_const", None)
    if not registry or target is None:
        return
    for finalizer, info in list(registry.items()):
        if getattr(getattr(info, "func", None), "__func__", None) is target:
            finalizer.detach()


@dataclass(frozen=True)
class Lowering:
    """One program traced and lowered by JAX: the objects behind a row's IR texts, which
    validation also compiles and runs, so the module it executes is the one the texts print."""

    traced: Any  # jax.stages.Traced of the program
    forward: Any  # jax.stages.Lowered of the program
    gradient: Any | None  # jax.stages.Lowered of the scalar loss's gradient, where the row has one
    namespace: dict[str, Any] = field(default_factory=dict)  # the program's module: `argtree.fill` resolves a TrainState's `tx` there

    def texts(self) -> tuple[str, str | None, str]:
        """stablehlo, stablehlo_grad and jaxpr, as a row holds them."""
        grad = self.gradient.as_text() if self.gradient is not None else None
        return self.forward.as_text(), grad, str(self.traced.jaxpr)


def lower(
    source: str, entry_point: str, leaves: Sequence[TensorSpec], args_tree: str, differentiable: bool = True, on_devices: bool = False
) -> Lowering:
    """Trace and lower the program and, where it is differentiable, the gradient of `scalar_loss`
    (`on_devices`: over concrete meshes, see `load_module`)."""
    release_traces()
    namespace = load_module(source, entry_point, on_devices)
    fn = namespace[entry_point]
    args = abstract_args(leaves, args_tree, namespace)
    # keep_unused: the IR takes every argument leaf, so its signature is the row's `args` (jit would
    # otherwise drop a leaf the program never reads, and a consumer could not tell which one).
    traced = jax.jit(fn, keep_unused=True).trace(*args)
    forward = traced.lower()
    gradient = None
    float_leaves = [i for i, s in enumerate(leaves) if s.dtype in FLOAT]
    outputs = jax.tree_util.tree_leaves(traced.out_info)
    if differentiable and float_leaves and any(str(o.dtype) in FLOAT or str(o.dtype) == "complex64" for o in outputs):
        flat, treedef = jax.tree_util.tree_flatten(args)
        grad = jax.grad(scalar_loss(fn, treedef), argnums=tuple(float_leaves))
        gradient = jax.jit(grad, keep_unused=True).lower(*flat)
    return Lowering(traced, forward, gradient, namespace)


def extract(
    source: str,
    entry_point: str,
    leaves: Sequence[TensorSpec],
    args_tree: str,
    differentiable: bool = True,
    optimized_hlo: bool = False,
) -> Extracted:
    lowering = lower(source, entry_point, leaves, args_tree, differentiable)
    stablehlo, grad_text, jaxpr = lowering.texts()
    cost = lowering.forward.cost_analysis() or {}
    outputs = [TensorSpec(tuple(o.shape), str(o.dtype)) for o in jax.tree_util.tree_leaves(lowering.traced.out_info)]
    hlo = lowering.forward.compile().as_text() if optimized_hlo else None
    return Extracted(
        jaxpr=jaxpr,
        stablehlo=stablehlo,
        stablehlo_grad=grad_text,
        hlo_optimized=hlo,
        flops=float(cost.get("flops", 0.0)),
        transcendentals=float(cost.get("transcendentals", 0.0)),
        bytes_accessed=float(cost.get("bytes accessed", 0.0)),
        loop_trip_counts=loop_trip_counts(stablehlo),
        ops=distinct_ops(stablehlo),
        outputs=outputs,
    )
