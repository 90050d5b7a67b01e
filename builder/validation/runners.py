"""The executors validation compares: the IR text parsed back with MLIR and compiled by XLA,
and the row's Python traced and run by JAX; plus the seeded inputs they all get.

Nothing here uses the extractor's IR: the IR is the row's text, read by jaxlib's MLIR
bindings and compiled by the XLA client (`compile_and_load` of the text), and the Python
side rebuilds the call from the row's `args` / `args_tree` as the README tells consumers to.
"""

from __future__ import annotations

import ast
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..lowering import argtree
from ..lowering.irhash import custom_call_targets
from ..lowering.loops import module_trip_counts
from ..lowering.mlir import mlir_context
from ..synth.domains import Domain, DomainError, default_domain
from ..synth.specs import spec_of
from .interpreter import entry_function

# MLIR element types -> numpy dtype names (the row's `dtype` vocabulary).
ELEMENT_TYPES = {
    "f32": "float32", "f16": "float16", "bf16": "bfloat16", "f64": "float64",
    "i1": "bool", "i8": "int8", "i16": "int16", "i32": "int32", "i64": "int64",
    "ui8": "uint8", "ui16": "uint16", "ui32": "uint32", "ui64": "uint64",
    "complex<f32>": "complex64", "complex<f64>": "complex128",
}  # fmt: skip
MAX_INPUT_ELEMENTS = 1 << 20
# XLA's LLVM backend dominates validation time; both XLA executors (the IR text and the jitted
# Python) compile with the same cheaper settings, which halve compile time without touching
# the HLO-level semantics either side computes.
# No excess precision: an f16 / bf16 value is rounded where the IR says, as the spec and the
# reference interpreter do (XLA otherwise keeps f32 through a fusion).
COMPILER_OPTIONS = {
    "xla_backend_optimization_level": 0,
    "xla_llvm_disable_expensive_passes": True,
    "xla_allow_excess_precision": False,
}
# XLA's algebraic simplifier rewrites, e.g., `x * convert(mask)` into `select(mask, x, 0)`, which turns
# IEEE's `inf * 0 = NaN` into 0. Without it XLA evaluates the IR as written: the judge when XLA and
# the interpreter disagree on NaN.
LITERAL = {**COMPILER_OPTIONS, "xla_disable_hlo_passes": "algsimp"}
# jaxlib 0.10.2's XLA:CPU fails to run some modules through YNNPACK ("YNNPACK operation failed") that it
# runs without its YNNPACK fusions: seen on an optax training step's gradient with every convolution's
# padding written out as a `stablehlo.pad` (optax_training seed of campaign row train-0000010).
NO_YNN_FUSIONS = {**COMPILER_OPTIONS, "xla_cpu_experimental_ynn_fusion_type": ""}
# XLA:CPU computes a convolution with input or kernel dilation (a strided convolution's gradient) in a
# loop it emits itself, not in Eigen; built at optimization level 0 that loop runs hundreds of times
# slower: a ViT's patch-embedding gradient (flax_linen seed 270447123839203693) ran 414 s at level 0
# and 0.7 s with XLA's own optimization settings (6.5 s at level 1 or 2 without its expensive passes).
# A module with such a convolution of real size (result elements times kernel elements, a bound on the
# loop's multiply-adds, past `HEAVY`) is compiled with XLA's own settings for those two options, on both
# sides. Small ones (the op-level categories) keep the cheaper settings: there compile time dominates.
DILATED_CONVOLUTION = re.compile(
    r"stablehlo\.convolution\(.*\b[lr]hs_dilate = \[[^\]]*\b(?:[2-9]|[1-9]\d+)\b.*: \(tensor<[^>]*>, tensor<([^>]*)>\) -> tensor<([^>]*)>"
)
HEAVY = 1 << 27
CHEAPER = ("xla_backend_optimization_level", "xla_llvm_disable_expensive_passes")


def _elements(tensor_type: str) -> int:
    return int(np.prod([int(d) for d in tensor_type.split("x")[:-1]], dtype=np.int64))  # `4x224x224x3xf32`: the dims before the type


def options_for(text: str, options: dict[str, Any] | None = None) -> dict[str, Any]:
    """The compile options to run `text` with: `options` (default `COMPILER_OPTIONS`), but without the
    cheaper settings for a module whose large dilated convolutions they make run for minutes."""
    options = options or COMPILER_OPTIONS
    heavy = any(_elements(m.group(1)) * _elements(m.group(2)) > HEAVY for m in DILATED_CONVOLUTION.finditer(text))
    return {k: v for k, v in options.items() if k not in CHEAPER} if heavy else options


# Host CPU devices an executor process asks XLA for: the largest mesh the generator draws (`parallel`),
# so a module partitioned by `shard_map` runs here, one partition a device, collectives included.
HOST_DEVICES = 8
# Custom-call targets XLA's CPU client is known to implement without Python callbacks.
SAFE_CUSTOM_CALLS = re.compile(r"^(lapack_|ducc_|Sharding$|SPMD|annotate_device_placement$|xla\.sdy\.)")


@dataclass(frozen=True)
class Signature:
    """The entry point of a parsed module: argument and result types, result labels (pytree paths),
    and the trip counts of its loops (`lowering.loops`: what the row's `loop_trip_counts` must say)."""

    inputs: list[tuple[tuple[int, ...], str]]
    outputs: list[tuple[tuple[int, ...], str]]
    result_info: list[str]
    loop_trip_counts: list[int] = field(default_factory=list)


def _tensor(t: Any) -> tuple[tuple[int, ...], str]:
    from jaxlib.mlir import ir

    ranked = ir.RankedTensorType(t)
    element = str(ranked.element_type)
    return tuple(int(d) for d in ranked.shape), ELEMENT_TYPES.get(element, element)


def parse(text: str) -> Signature:
    """Parse and verify a module; raise ValueError naming what is wrong."""
    from jaxlib.mlir import ir

    with mlir_context(), ir.Location.unknown():
        try:
            module = ir.Module.parse(text)
            module.operation.verify()
        except Exception as err:  # MLIRError: the diagnostics say where
            raise ValueError(" ".join(str(err).split())[:400]) from None
        main = entry_function(module)
        ftype = ir.FunctionType(ir.TypeAttr(main.attributes["function_type"]).value)
        labels: list[str] = []
        if "res_attrs" in main.attributes:
            for attrs in ir.ArrayAttr(main.attributes["res_attrs"]):
                d = ir.DictAttr(attrs)
                labels.append(ir.StringAttr(d["jax.result_info"]).value if "jax.result_info" in d else "")
        return Signature([_tensor(t) for t in ftype.inputs], [_tensor(t) for t in ftype.results], labels, module_trip_counts(module))


_MESH = re.compile(r"sdy\.mesh @[\w.$-]+ = <\[([^\]]*)\]")


def mesh_devices(text: str) -> int:
    """The most devices any `sdy.mesh` of the module spans (1 when it declares none)."""
    sizes = [int(np.prod([int(n) for n in re.findall(r"=\s*(\d+)", axes)] or [1])) for axes in _MESH.findall(text)]
    return max(sizes, default=1)


_BITCAST = r"^\s*{name} = stablehlo\.bitcast_convert %[\w#]+ : \(tensor<(?:\d+x)*(f32|f16|bf16)>\) -> tensor<(?:\d+x)*u?i(\d+)>"
_WIDTH = {"f32": 32, "f16": 16, "bf16": 16}


def float_bit_patterns(text: str) -> dict[int, str]:
    """The results of @main that are a float's bits (`stablehlo.bitcast_convert` of an f32 / f16 /
    bf16 value to an integer of its width, or split into narrower integers along a new last axis,
    returned as is): result index -> the float's dtype name."""
    start = text.find("func.func public @main(")
    ret = re.compile(r"^    return (.*?) : ", re.MULTILINE).search(text, start) if start >= 0 else None
    if ret is None:
        return {}
    out = {}
    for i, name in enumerate(v.strip() for v in ret.group(1).split(",")):
        m = re.search(_BITCAST.format(name=re.escape(name)), text[start : ret.start()], re.MULTILINE)
        if m and _WIDTH[m.group(1)] % int(m.group(2)) == 0:
            out[i] = ELEMENT_TYPES[m.group(1)]
    return out


# --- inputs ----------------------------------------------------------------------------


def make_inputs(args: Sequence[dict[str, Any]], seed: int, text: str) -> list[np.ndarray]:
    """Seeded inputs for the row's argument leaves, drawn from each leaf's recorded domain
    (`args[i].domain`; a row from before domains were recorded gets `default_domain`). `text`
    (the IR) is not read: what a program is defined on is the row's to say, not guessed from it."""
    rng = np.random.default_rng(seed)
    out = []
    for a in args:
        spec = spec_of(a)
        if spec.size > MAX_INPUT_ELEMENTS:
            raise ValueError(f"argument {a['name']} has {spec.size:,} elements (over {MAX_INPUT_ELEMENTS:,})")
        try:
            domain = Domain.parse(a["domain"]) if a.get("domain") else default_domain(spec)
            out.append(domain.sample(spec, rng))
        except DomainError as err:
            raise ValueError(f"argument {a['name']} ({spec}): {err}") from err
    return out


def python_values(args: Sequence[dict[str, Any]], inputs: Sequence[np.ndarray]) -> list[Any]:
    """The leaves as the Python call takes them: a Python scalar for a weakly typed (Python scalar) argument."""
    return [x.item() if a.get("weak_type") else x for a, x in zip(args, inputs, strict=True)]


fill = argtree.fill  # rebuild positional arguments from an `args_tree` literal (README, Columns)


# --- XLA on the IR text ----------------------------------------------------------------


def ask_for_host_devices() -> None:
    """Before JAX starts in this process: have XLA's CPU client present `HOST_DEVICES` devices."""
    flags = os.environ.get("XLA_FLAGS", "")
    if "xla_force_host_platform_device_count" not in flags:
        os.environ["XLA_FLAGS"] = f"{flags} --xla_force_host_platform_device_count={HOST_DEVICES}".strip()


def replicated_boundary(text: str) -> str:
    """A partitioned module (`sdy.mesh`, `shard_map`) with every argument and result of @main
    sharded as replicated over its mesh: each device gets and returns the whole array. JAX leaves
    them unannotated (the partitioner then picks), which fixes nothing a caller could place
    inputs by; the computation inside is untouched."""
    from jaxlib.mlir import ir

    with mlir_context(), ir.Location.unknown():
        module = ir.Module.parse(text)
        mesh = next(ir.StringAttr(op.attributes["sym_name"]).value for op in module.body.operations if op.name == "sdy.mesh")
        main = entry_function(module)
        ftype = ir.FunctionType(ir.TypeAttr(main.attributes["function_type"]).value)

        def annotated(kind: str, types: Sequence[Any]) -> Any:
            old = list(ir.ArrayAttr(main.attributes[kind])) if kind in main.attributes else [ir.DictAttr.get({})] * len(types)
            new = []
            for attrs, t in zip(old, types, strict=True):
                entries = {a.name: a.attr for a in ir.DictAttr(attrs)}
                dims = ", ".join(["{}"] * ir.RankedTensorType(t).rank)
                entries["sdy.sharding"] = ir.Attribute.parse(f"#sdy.sharding<@{mesh}, [{dims}]>")
                new.append(ir.DictAttr.get(entries))
            return ir.ArrayAttr.get(new)

        main.attributes["arg_attrs"] = annotated("arg_attrs", list(ftype.inputs))
        main.attributes["res_attrs"] = annotated("res_attrs", list(ftype.results))
        return str(module)


def _run_partitioned(text: str, inputs: Sequence[np.ndarray], options: dict[str, Any], partitions: int) -> list[np.ndarray]:
    """`run_xla` of a module partitioned over `partitions` devices: XLA's SPMD partitioner splits it,
    one partition a host device, and every device returns the whole (replicated) result."""
    import jax
    import jax.extend.backend as jeb

    backend = jeb.get_backend("cpu")
    devices = backend.devices()[:partitions]
    if len(devices) < partitions:
        raise ValueError(f"the module is partitioned over {partitions} devices and this process has {len(devices)}")
    text = replicated_boundary(text).replace("mhlo.num_partitions = 1 : i32", f"mhlo.num_partitions = {partitions} : i32", 1)
    compile_options = jeb.get_compile_options(1, partitions, device_assignment=np.arange(partitions).reshape(1, partitions), env_options_overrides=options)
    compile_options.executable_build_options.use_spmd_partitioning = True
    executable = backend.compile_and_load(text, executable_devices=devices, compile_options=compile_options)
    mesh = jax.sharding.Mesh(np.array(devices), ("partitions",))
    whole = jax.sharding.NamedSharding(mesh, jax.sharding.PartitionSpec())
    results = executable.execute_sharded([jax.device_put(np.asarray(x), whole) for x in inputs])
    return [np.asarray(per_device[0]) for per_device in results.disassemble_into_single_device_arrays()]


def run_xla(text: str, inputs: Sequence[np.ndarray], options: dict[str, Any] | None = None) -> list[np.ndarray]:
    """Compile the StableHLO text with XLA's CPU client (`COMPILER_OPTIONS`, or `options`; see `options_for`) and run it on `inputs`."""
    import jax
    import jax.extend.backend as jeb

    if any(t.startswith("lapack_") for t in custom_call_targets(text)):
        # jaxlib binds its LAPACK kernels (scipy's) on first use by JAX's own lowering; a module
        # compiled from text gets there first, and an unbound kernel is a null pointer.
        from jaxlib import lapack

        lapack._lapack.initialize()
    partitions = mesh_devices(text)
    if partitions > 1:
        return _run_partitioned(text, inputs, options_for(text, options), partitions)
    backend = jeb.get_backend("cpu")
    device = backend.devices()[0]
    compile_options = jeb.get_compile_options(1, 1, env_options_overrides=options_for(text, options))
    executable = backend.compile_and_load(text, executable_devices=[device], compile_options=compile_options)
    arrays = [np.asarray(x) for x in inputs]
    wide = any(a.dtype in (np.float64, np.int64, np.uint64, np.complex128) for a in arrays)
    with jax.enable_x64(wide):  # else device_put narrows f64 / i64 inputs (an f64 module: `oracle.to_f64`)
        results = executable.execute([jax.device_put(a, device) for a in arrays])
    return [np.asarray(r) for r in results]


# --- the Python side -------------------------------------------------------------------


@dataclass
class PythonSide:
    """What JAX makes of the row's Python on the inputs: outputs with their pytree paths, the
    gradient, and the IR texts lowered again. Plain data, so it crosses a process boundary."""

    outputs: list[np.ndarray] = field(default_factory=list)
    paths: list[str] = field(default_factory=list)
    grads: list[np.ndarray] | None = None
    stablehlo: str | None = None
    stablehlo_grad: str | None = None
    jaxpr: str | None = None
    error: str | None = None


def python_fields(row: dict[str, Any]) -> dict[str, Any]:
    """The columns `python_side` reads: all a child process running the row's Python is sent."""
    return {k: row.get(k) for k in ("python", "entry_point", "args", "args_tree", "stablehlo", "stablehlo_grad")}


def python_side(row: dict[str, Any], inputs: Sequence[np.ndarray], relower: bool, execute: bool = True) -> PythonSide:
    """Lower the row's Python with JAX as the extractor does (the texts, when `relower`) and run
    that lowering, program and gradient of the documented scalar loss, on `inputs` (unless not
    `execute`): the modules executed are the ones the relowered texts print."""
    import jax  # JAX loads in the executor child only, after `ask_for_host_devices`

    from ..lowering.extractor import lower
    from ..synth.specs import spec_of

    side = PythonSide()
    try:
        specs = [spec_of(a) for a in row["args"]]
        grad = row.get("stablehlo_grad") is not None
        # an abstract mesh lowers (the texts) but cannot run: execution lowers the same program over host devices
        partitioned = mesh_devices(row.get("stablehlo") or "") > 1
        if relower or not (execute and partitioned):
            lowering = lower(row["python"], row["entry_point"], specs, row["args_tree"], grad)
        if relower:
            side.stablehlo, side.stablehlo_grad, side.jaxpr = lowering.texts()
        if not execute:
            return side
        if partitioned:
            lowering = lower(row["python"], row["entry_point"], specs, row["args_tree"], grad, on_devices=True)
        leaves = python_values(row["args"], inputs)
        call = fill(ast.literal_eval(row["args_tree"]), leaves, lowering.namespace)
        out = lowering.forward.compile(options_for(row.get("stablehlo") or ""))(*call)  # as XLA compiles the row's text
        flat = jax.tree_util.tree_flatten_with_path(out)[0]
        side.outputs = [np.asarray(v) for _, v in flat]
        side.paths = ["result" + jax.tree_util.keystr(p) for p, _ in flat]
        if lowering.gradient is not None:
            grads = lowering.gradient.compile(options_for(row.get("stablehlo_grad") or ""))(*leaves)
            side.grads = [np.asarray(g) for g in grads]
    except Exception as err:
        side.error = f"{type(err).__name__}: {err}"[:500]
    return side


# --- in a child process (`worker.Worker`): a program that loops for hours or crashes XLA costs one row ---


def _handle(request: tuple[Any, ...]) -> tuple[str, Any]:
    kind, *args = request
    try:
        if kind == "xla":
            return "ok", run_xla(*args)
        return "ok", python_side(*args)
    except Exception as err:
        return "error", f"{type(err).__name__}: {' '.join(str(err).split())}"[:600]


if __name__ == "__main__":
    from .runners import _handle as handle  # the package's module, so replies unpickle as its types
    from .runners import ask_for_host_devices
    from .worker import serve

    ask_for_host_devices()  # before anything starts JAX
    serve(handle)
