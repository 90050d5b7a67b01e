"""Prove every row: the IR parses, computes what the Python computes, and is what JAX lowers it to.

For each row, trusting nothing the extractor wrote:

0. regenerate the program from the row's `seed`, `category` and the build's size limits and
   compare it with the stored `python` (and entry point and args): a row that differs is
   foreign code and its Python is run only with `trust_code`, in a limited child process;
1. parse `stablehlo` and `stablehlo_grad` back with jaxlib's MLIR bindings and verify them;
   their signatures must match `args` and `outputs`;
2. compile the IR text with XLA and run it on seeded inputs that fit `args`;
3. run it with the StableHLO reference interpreter too, where that can (no custom calls,
   within a time limit): an executor that shares no code with XLA; a difference is re-judged
   by measurements (the program's sensitivity to its inputs; both executors on the module
   rewritten to f64, where rounding shrinks and a wrong op does not: `oracle`; XLA without
   its algebraic simplifier);
   without the interpreter, a module whose convolution padding crops its input runs in XLA
   again with that padding written out (XLA:CPU miscompiles such convolutions; the interpreter
   would show it, and JAX's run in step 4 is the same compile);
4. run the Python through `jax.jit` on the same inputs and compare pytree paths, shapes,
   dtypes and values (dtype-aware tolerances, NaN/Inf in the same places); the same for the
   gradient IR against `jax.grad` of the documented scalar loss;
5. lower the Python again and compare `stablehlo`, `stablehlo_grad` and `jaxpr` byte for byte
   (when the row's JAX version is ours).
"""

from __future__ import annotations

import difflib
import queue
import random
import re
import threading
from collections import Counter
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import ml_dtypes
import numpy as np
from tqdm.auto import tqdm

from ..lowering.extractor import jax_version
from ..lowering.irhash import canonical_hash, custom_call_targets, structure_hash
from ..pipeline.seeds import derive_seed, limits_of
from ..synth.generator import SizeLimits, generate
from . import oracle, runners
from .compare import (
    DIRECTIONS,
    INDEPENDENT,
    SAME_COMPILER,
    compare_outputs,
    lowest_precision,
    narrowest_range,
    perturbation,
    perturbed,
    sensitivity,
    widened,
)
from .interpreter import Interpreter
from .journal import Journal
from .localize import NEGATIVE_CONV_PADDING, PADDING_MISCOMPILED, explicit_padding, localize
from .row_report import FAIL, OK, SKIP, RowReport
from .sandbox import Limits, run_untrusted
from .ties import broken_ties
from .worker import Worker

# `lax.rng_uniform` lowers to `stablehlo.rng`, which XLA implements with a hidden state that advances
# on every run: two runs of one program draw different numbers, so only shapes and dtypes can agree.
NONDETERMINISTIC = re.compile(r"stablehlo\.rng(?![_\w])")
NONDETERMINISTIC_WHY = "stablehlo.rng (lax.rng_uniform) draws fresh numbers on every run"
CHECKS = ("regenerate", "parse", "custom_call", "xla", "interpreter", "padding", "python", "grad", "relower", "identity")
# An interpreter difference that XLA shows against itself: the module's outputs change when every
# intermediate is returned too (nothing fused away), and the interpreter agrees with those.
MISCOMPILED = "XLA miscompiles this module"
UNFUSED = "the interpreter agrees with XLA's values when nothing is fused away"
# The same shape of difference from rounding alone: an argmax whose entries lie within ulps of its pick, which
# a reduce summed in another order (the spec fixes no order) moves (control_flow seed 2984184272105099083).
TIES_BROKEN = (
    "not a miscompile: XLA's compile breaks near-tied picks its own way (with these picks, XLA without its algebraic "
    "simplifier gives its compile's values when nothing is fused away, and the interpreter agrees)"
)
PADDING_WRITTEN_OUT = "the interpreter agrees with XLA's values when every convolution's padding is a stablehlo.pad"
# Without the interpreter: the same module with every convolution's padding written out is the same
# computation by the spec, so two XLA runs that differ show XLA wrong, whichever of the two it is.
PADDING_DIFFERS = "XLA's values change when every convolution's padding is a stablehlo.pad (the spec's definition)"
# JAX's run of the Python is XLA's compile of the same IR (`relower` shows it is the same text): where XLA
# miscompiles the module, the two can differ (convolution seed 2171026884518766101: XLA:CPU reads
# memory past the input, whose contents vary from process to process), and comparing them proves nothing.
BOTH_MISCOMPILED = f"{MISCOMPILED} (the interpreter or padding check), and JAX runs XLA's compile of the same IR"
MISCOMPILE_CHECKS = ("interpreter", "padding")  # the checks that can find XLA wrong, never the IR


@dataclass(frozen=True)
class Options:
    trust_code: bool = False
    interpreter: bool = True
    interpreter_timeout: float = 20.0
    execution_timeout: float = 180.0  # XLA and JAX on one row's IR or Python (compile included)
    sandbox: Limits = field(default_factory=Limits)
    input_seed: int = 0

    def __post_init__(self) -> None:
        for name in ("interpreter_timeout", "execution_timeout"):
            if not getattr(self, name) > 0:
                raise ValueError(f"{name} must be more than 0 seconds, got {getattr(self, name)!r}")


def short_diff(got: str, want: str, lines: int = 6) -> str:
    """The first changed lines of a unified diff, stored (-) vs regenerated (+)."""
    diff = [d for d in difflib.unified_diff(want.splitlines(), got.splitlines(), "stored", "regenerated", n=0, lineterm="")]
    changed = [d for d in diff[2:] if not d.startswith("@@")]
    more = f" (+{len(changed) - lines} more lines)" if len(changed) > lines else ""
    return " | ".join(d[:160] for d in changed[:lines]) + more


class Validator:
    """Validates rows one by one; holds the interpreter child and the options."""

    def __init__(self, limits: SizeLimits | None, options: Options = Options()) -> None:
        self.limits = limits
        self.options = options
        self.interpreter = Interpreter(options.interpreter_timeout) if options.interpreter else None
        self.executor = Worker(runners.__name__, options.execution_timeout)

    def close(self) -> None:
        if self.interpreter is not None:
            self.interpreter.close()
        self.executor.close()

    def __enter__(self) -> Validator:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- step 0 --------------------------------------------------------------------
    def _regenerate(self, row: dict[str, Any], report: RowReport) -> bool:
        """True when the row's Python is what our generator draws for its seed."""
        if self.limits is None:
            report.add("regenerate", SKIP, "no build config to regenerate from (no build.json; pass --config)")
            return False
        try:
            program = generate(row["category"], row["seed"], self.limits)
        except Exception as err:
            report.add("regenerate", FAIL, f"the generator cannot draw this row: {type(err).__name__}: {err}"[:300])
            return False
        source = program.render()
        if source != row["python"]:
            report.add("regenerate", FAIL, "python differs from the regenerated program (-stored +regenerated): " + short_diff(source, row["python"]))
            return False
        args = [{"name": leaf.name, "shape": list(leaf.spec.shape), "dtype": leaf.spec.dtype} for leaf in program.leaves]
        stored = [{k: a[k] for k in ("name", "shape", "dtype")} for a in row["args"]]
        if (program.entry_point, program.args_tree(), args) != (row["entry_point"], row["args_tree"], stored):
            report.add("regenerate", FAIL, "entry_point, args_tree or args differ from the regenerated program")
            return False
        report.add("regenerate", OK)
        return True

    # --- steps 1-5 -----------------------------------------------------------------
    def validate(self, row: dict[str, Any]) -> RowReport:
        input_seed = derive_seed("inputs", self.options.input_seed, row["seed"])
        report = RowReport(row["id"], row["category"], row["seed"], input_seed)
        ours = self._regenerate(row, report)
        trusted = ours or self.options.trust_code
        texts = {"stablehlo": row["stablehlo"], "stablehlo_grad": row.get("stablehlo_grad")}
        signatures: dict[str, runners.Signature] = {}
        for name, text in texts.items():
            if text is None:
                continue
            try:
                signatures[name] = runners.parse(text)
            except ValueError as err:
                report.add("parse", FAIL, f"{name}: {err}")
        if "stablehlo" not in signatures or (texts["stablehlo_grad"] is not None and "stablehlo_grad" not in signatures):
            return report
        report.add("parse", OK)
        self._check_signature(row, signatures["stablehlo"], report)
        produced = self._check_custom_calls(row, texts, ours, report)
        if produced is None:
            return report

        try:
            inputs = runners.make_inputs(row["args"], input_seed, row["stablehlo"])
        except ValueError as err:
            report.add("xla", SKIP, str(err))
            return report
        devices = runners.mesh_devices(row["stablehlo"])
        execute = devices <= runners.HOST_DEVICES
        xla = xla_grad = None
        grad_inputs = inputs
        if not execute:  # a shard_map over a mesh larger than the executors' host devices
            report.add("xla", SKIP, f"partitioned over a {devices}-device mesh (shard_map); the executors have {runners.HOST_DEVICES}")
        else:
            xla = self._run_xla("stablehlo", row["stablehlo"], inputs, report, self.options.trust_code or produced)
            if texts["stablehlo_grad"]:
                xla_grad = self._run_xla("stablehlo_grad", texts["stablehlo_grad"], grad_inputs, report, self.options.trust_code or produced)

        if self.interpreter is not None and xla is not None:
            self._interpret("stablehlo", row["stablehlo"], inputs, xla, signatures["stablehlo"].result_info, report)
            if texts["stablehlo_grad"] and xla_grad is not None:
                self._interpret("stablehlo_grad", texts["stablehlo_grad"], grad_inputs, xla_grad, [], report)
        elif xla is not None:  # no interpreter: XLA's one known miscompile would pass unseen, so XLA checks it against itself
            self._cross_check_padding("stablehlo", row["stablehlo"], inputs, xla, report)
            if texts["stablehlo_grad"] and xla_grad is not None:
                self._cross_check_padding("stablehlo_grad", texts["stablehlo_grad"], grad_inputs, xla_grad, report)

        if not trusted:
            report.add("python", SKIP, "not our generator's code: pass --trust-code to run it (in a limited child process)")
            return report
        ours_version = jax_version(row["python"])  # the libraries a row's program imports are part of its version
        relower = row.get("jax_version") == ours_version
        if ours:
            reply = self.executor.call(("python", runners.python_fields(row), inputs, relower, execute))
            if reply.failed:
                report.add("python", SKIP if "time limit" in reply.failed else FAIL, f"JAX on the Python: {reply.failed}")
                return report
            status, side = reply.value
            if status != "ok":
                side = runners.PythonSide(error=side)
        else:
            side = run_untrusted(row, inputs, relower, self.options.sandbox, execute)
        if side.error:
            report.add("python", FAIL, f"the Python did not run: {side.error}")
            return report
        if execute:
            self._compare_python(row, signatures["stablehlo"], inputs, xla, side, report)
        else:
            report.add("python", SKIP, f"not run: partitioned over a {devices}-device mesh, more than the executors' {runners.HOST_DEVICES}")
        if xla_grad is not None and side.grads is not None and NONDETERMINISTIC.search(texts["stablehlo_grad"] or ""):
            report.add("grad", SKIP, f"values not compared: {NONDETERMINISTIC_WHY}")
        elif xla_grad is not None and side.grads is not None:
            labels = [f"d/d leaf {i}" for i in range(len(side.grads))]
            problems, note = self._same_compiler(texts["stablehlo_grad"], grad_inputs, xla_grad, side.grads, labels, report)
            if problems and miscompiled(report, "stablehlo_grad"):
                report.add("grad", SKIP, f"values not compared: {BOTH_MISCOMPILED}")
            else:
                report.add("grad", FAIL if problems else OK, "; ".join(problems[:3]) or note)
        if not relower:
            report.add("relower", SKIP, f"the row was lowered by {row.get('jax_version')!r}, this is {ours_version!r}")
        else:
            for name, text in (("stablehlo", side.stablehlo), ("stablehlo_grad", side.stablehlo_grad), ("jaxpr", side.jaxpr)):
                if text != row.get(name):
                    report.add("relower", FAIL, f"{name} differs from a fresh lowering: " + short_diff(text or "", row.get(name) or ""))
            if report.status("relower") is None:
                report.add("relower", OK)
        return report

    def _check_custom_calls(self, row: dict[str, Any], texts: dict[str, str | None], ours: bool, report: RowReport) -> bool | None:
        """Custom calls outside `SAFE_CUSTOM_CALLS` run arbitrary native code, so XLA runs them only when the
        row's own program produces them: lowered afresh (our JAX) from the regenerated program. A target the
        program does not produce is a finding (FAIL, returns None); True: every such target is the program's."""
        unsafe = sorted({t for text in texts.values() if text for t in custom_call_targets(text) if not runners.SAFE_CUSTOM_CALLS.match(t)})
        if not unsafe or not ours:
            return False  # none, or foreign code: XLA skips them unless --trust-code (`_run_xla`)
        reply = self.executor.call(("python", runners.python_fields(row), [], True, False))
        side = reply.value[1] if not reply.failed and reply.value[0] == "ok" else None
        if side is None or side.error:
            report.add("custom_call", FAIL, f"the row's program did not lower: {reply.failed or (side.error if side else reply.value[1])}"[:300])
            return None
        fresh = {t for text in (side.stablehlo, side.stablehlo_grad) if text for t in custom_call_targets(text)}
        foreign = [t for t in unsafe if t not in fresh]
        if foreign:
            report.add("custom_call", FAIL, f"custom_call {', '.join(foreign)} is in the IR but the row's program does not produce it")
            return None
        report.add("custom_call", OK)
        return True

    def _check_signature(self, row: dict[str, Any], sig: runners.Signature, report: RowReport) -> None:
        declared_in = [(tuple(a["shape"]), a["dtype"]) for a in row["args"]]
        declared_out = [(tuple(o["shape"]), o["dtype"]) for o in row["outputs"]]
        if sig.inputs != declared_in:
            report.add("parse", FAIL, f"@main takes {_types(sig.inputs)}, args say {_types(declared_in)}")
        if sig.outputs != declared_out:
            report.add("parse", FAIL, f"@main returns {_types(sig.outputs)}, outputs say {_types(declared_out)}")
        recorded = row.get("loop_trip_counts")
        if recorded is not None and list(recorded) != sig.loop_trip_counts:  # cost users scale by it: it must name the module's loops
            report.add("parse", FAIL, f"the stablehlo's loops run {sig.loop_trip_counts} times, loop_trip_counts says {list(recorded)}")

    def _run_xla(self, name: str, text: str, inputs: Sequence[np.ndarray], report: RowReport, trusted: bool) -> list[np.ndarray] | None:
        unsafe = [t for t in custom_call_targets(text) if not runners.SAFE_CUSTOM_CALLS.match(t)]
        if unsafe and not trusted:
            report.add("xla", SKIP, f"{name}: custom_call {', '.join(unsafe)} is not known to be safe; pass --trust-code")
            return None
        reply = self.executor.call(("xla", text, list(inputs)))
        if reply.failed:  # a time limit: the program runs too long on these inputs; a crash: XLA died on the IR
            report.add("xla", SKIP if "time limit" in reply.failed else FAIL, f"{name}: XLA {reply.failed}")
            return None
        status, value = reply.value
        if status != "ok":
            if "devices" in value or "mesh" in value.lower():
                report.add("xla", SKIP, f"{name}: needs devices this host lacks: {value[:200]}")
            else:
                report.add("xla", FAIL, f"{name}: XLA could not run the IR: {value[:300]}")
            return None
        report.add("xla", OK)
        return value

    def _interpret(self, name: str, text: str, inputs: Sequence[np.ndarray], xla: list[np.ndarray], labels: list[str], report: RowReport) -> None:
        assert self.interpreter is not None
        outcome = self.interpreter.run(text, list(inputs))
        if outcome.skipped:
            report.add("interpreter", SKIP, f"{name}: {outcome.skipped}")
            return
        if outcome.error:
            report.add("interpreter", FAIL, f"{name}: the interpreter rejected the IR: {outcome.error}")
            return
        if NONDETERMINISTIC.search(text):
            report.add("interpreter", SKIP, f"{name}: values not compared: {NONDETERMINISTIC_WHY}")
            return
        assert outcome.outputs is not None
        lowest = lowest_precision(text)
        tolerances = widened(INDEPENDENT, lowest)
        narrow = narrowest_range(text)

        def disagreements(reference: Sequence[np.ndarray], slack: list[np.ndarray] | None = None, got: Sequence[np.ndarray] | None = None) -> list[str]:
            return compare_outputs(
                got if got is not None else outcome.outputs, reference, tolerances, labels, independent=True, low_precision=narrow, slack=slack
            )

        problems, note = disagreements(xla), name  # an agreement names its module too (`RowReport.compared`)
        slack: list[np.ndarray] | None = None
        padded, ynn = self._xla_padding_written_out(text, inputs) if problems else (None, "")
        if padded is not None and not disagreements(padded):
            # XLA's convolution with window padding and the same convolution after a `stablehlo.pad` differ,
            # and the interpreter agrees with the latter: XLA's compile is wrong (openxla/xla#48713)
            shown = "; ".join(disagreements(padded, got=xla)[:2])
            problems, note = [], f"{name}: {MISCOMPILED}: {PADDING_WRITTEN_OUT} (XLA vs XLA with the padding written out: {shown}{ynn})"
        if problems:  # ill-conditioned at these inputs? Allow what a few ulps of input noise move XLA's own result by.
            slack = self._sensitivity(text, inputs, xla, lowest, report)
            if slack is not None and not disagreements(xla, slack):
                problems, note = [], f"{name}: agreed within 4x the most a {_moved(lowest)} moves XLA's result"
        if problems:  # rounding in another order, amplified by an ill-conditioned program? Both executors again in f64
            rounding = self._rounding(text, inputs, xla, outcome.outputs)
            if rounding is not None:
                problems, note = [], f"{name}: {rounding}"
        if problems:  # XLA's algebraic simplifier does not keep IEEE NaN / Inf: judge against XLA without it
            literal = self._xla_quietly(text, inputs, runners.LITERAL)
            if literal is not None and not disagreements(literal, slack):
                problems, note = [], f"{name}: agreed with XLA run without its algebraic simplifier (whose rewrites need not keep IEEE NaN and inf)"
        patterns = runners.float_bit_patterns(text) if problems else {}
        if patterns:  # a result that is a float's bits: two executors' floats an ulp apart differ by 1 as integers
            def as_floats(outputs: Sequence[np.ndarray]) -> list[np.ndarray]:
                # an integer of the float's width holds one float; narrower ones (a new last axis) its bytes in order
                return [np.ascontiguousarray(o).view(ml_dtypes.finfo(patterns[i]).dtype) if i in patterns else o for i, o in enumerate(outputs)]

            if not disagreements(as_floats(xla), slack, got=as_floats(outcome.outputs)):
                shown = ", ".join(labels[i] if i < len(labels) and labels[i] else f"output {i}" for i in sorted(patterns))
                problems, note = [], f"{name}: agreed with {shown} (bitcast_convert of a float) compared as the float it holds"
        if problems:  # where do the two part ways, and is every such place one the spec allows? (`localize`)
            executors = (  # XLA as written (no algsimp), the interpreter, and when their outputs agree
                lambda t, i: self._xla_quietly(t, i, runners.LITERAL),
                lambda t, i: self.interpreter.run(t, list(i)).outputs,
                lambda x, got: not disagreements(x, got=got),
            )
            found = localize(runners.mlir_context(), text, inputs, *executors)
            if found.explained:
                padding_wrong = any(PADDING_MISCOMPILED in kinds for kinds in found.excused.values())
                problems, note = [], f"{name}: {MISCOMPILED + ': ' if padding_wrong else ''}{found.summary()}"
            elif found.unfused is not None and (self_differs := disagreements(found.unfused, got=xla)) and not disagreements(found.unfused):
                # XLA's own values move when its intermediates are also returned, and the interpreter agrees with
                # those: the IR is right. XLA's compile of the module is wrong, unless near-tied picks that
                # rounding breaks either way explain it (`ties`); a miscompile is reported apart, never hidden
                shown = "; ".join(self_differs[:2])
                ties = broken_ties(runners.mlir_context(), text, inputs, *executors)
                verdict = f"{TIES_BROKEN}: {ties}" if ties else f"{MISCOMPILED}: {UNFUSED}"
                problems, note = [], f"{name}: {verdict} (XLA vs XLA with every intermediate returned: {shown})"
            else:
                problems.append(f"where: {found.why}")
        detail = f"{name} (interpreter vs XLA): " + "; ".join(problems[:3] + problems[-1:] if len(problems) > 3 else problems) if problems else note
        report.add("interpreter", FAIL if problems else OK, detail)

    def _cross_check_padding(self, name: str, text: str, inputs: Sequence[np.ndarray], xla: list[np.ndarray], report: RowReport) -> None:
        """XLA:CPU computes convolutions whose padding crops the input wrongly (openxla/xla#48713). The interpreter
        catches that (`_interpret`); without it, XLA's run and JAX's are one compile and agree on the wrong values.
        So XLA also runs such a module with every convolution's padding written out as a `stablehlo.pad` (the form the
        interpreter showed it computing right): the two are one computation by the spec, so where they differ XLA is
        wrong in one of them (the IR is not), and the row is listed as XLA's miscompile."""
        if not NEGATIVE_CONV_PADDING.search(text):
            return
        padded, ynn = self._xla_padding_written_out(text, inputs)
        if padded is None:
            report.add("padding", SKIP, f"{name}: XLA did not run the module with its convolutions' padding written out")
            return
        tolerances = widened(INDEPENDENT, lowest_precision(text))
        differences = compare_outputs(xla, padded, tolerances, [], independent=True, low_precision=narrowest_range(text))
        if differences:
            report.add("padding", OK, f"{name}: {MISCOMPILED}: {PADDING_DIFFERS} ({'; '.join(differences[:2])}{ynn})")
        else:
            report.add("padding", OK, f"{name}: XLA's values are the same with every convolution's padding written out{ynn}")

    def _xla_padding_written_out(self, text: str, inputs: Sequence[np.ndarray]) -> tuple[list[np.ndarray] | None, str]:
        """XLA's outputs for `text` with every convolution's padding written out as a `stablehlo.pad` (None: no
        convolution pads, or XLA does not run it), without XLA's YNNPACK fusions where those fail on it (then
        said in the note, for the report: a valid module XLA cannot run is XLA's finding too)."""
        written_out = explicit_padding(runners.mlir_context(), text)
        if written_out is None:
            return None, ""
        padded = self._xla_quietly(written_out, inputs)
        if padded is not None:
            return padded, ""
        return self._xla_quietly(written_out, inputs, runners.NO_YNN_FUSIONS), "; run without XLA's YNNPACK fusions, which failed on it"

    def _rounding(self, text: str, inputs: Sequence[np.ndarray], xla: list[np.ndarray], interpreted: list[np.ndarray]) -> str | None:
        """Why the interpreter-vs-XLA difference is rounding, or None when it is not (or cannot be told):
        both executors run the module rewritten to f64 (`oracle`), where rounding shrinks and a wrong op does not."""
        assert self.interpreter is not None
        try:
            wide = oracle.to_f64(text)
        except oracle.NotRewritable:
            return None
        wide_inputs = oracle.upcast(inputs)
        exact = self._xla_quietly(wide, wide_inputs)
        if exact is None or len(exact) != len(xla):
            return None
        outcome = self.interpreter.run(wide, wide_inputs)
        if outcome.outputs is None or oracle.unexplained(interpreted, xla, outcome.outputs, exact):
            return None
        return (
            f"rounding: run in f64 the two agree (their difference shrinks at least {1 / oracle.SHRINK:g}-fold); "
            f"error against f64 up to {oracle.rounding_error(xla, exact):.3g} for XLA, "
            f"{oracle.rounding_error(interpreted, exact):.3g} for the interpreter"
        )

    def _xla_quietly(self, text: str, inputs: Sequence[np.ndarray], options: dict[str, Any] | None = None) -> list[np.ndarray] | None:
        """XLA's outputs for a second look, or None when it does not run."""
        reply = self.executor.call(("xla", text, list(inputs), options))
        return reply.value[1] if not reply.failed and reply.value[0] == "ok" else None

    def _compare_python(
        self,
        row: dict[str, Any],
        sig: runners.Signature,
        inputs: Sequence[np.ndarray],
        xla: list[np.ndarray] | None,
        side: runners.PythonSide,
        report: RowReport,
    ) -> None:
        problems = []
        if sig.result_info and side.paths != sig.result_info:
            problems.append(f"pytree paths {side.paths} vs the IR's {sig.result_info}")
        shapes = [(tuple(o.shape), o.dtype.name) for o in side.outputs]
        if shapes != sig.outputs:
            problems.append(f"Python returns {_types(shapes)}, the IR {_types(sig.outputs)}")
        if problems or xla is None:
            report.add("python", FAIL if problems else OK, "; ".join(problems[:3]))
        elif NONDETERMINISTIC.search(row["stablehlo"]):
            report.add("python", SKIP, f"paths, shapes and dtypes agree; values not compared: {NONDETERMINISTIC_WHY}")
        else:
            problems, note = self._same_compiler(row["stablehlo"], inputs, xla, side.outputs, side.paths, report)
            if problems and miscompiled(report, "stablehlo"):
                report.add("python", SKIP, f"values not compared: {BOTH_MISCOMPILED}")
            else:
                report.add("python", FAIL if problems else OK, "; ".join(problems[:3]) or note)

    def _same_compiler(
        self, text: str, inputs: Sequence[np.ndarray], xla: Sequence[np.ndarray], got: Sequence[np.ndarray], labels: Sequence[str], report: RowReport
    ) -> tuple[list[str], str]:
        """XLA on the IR text against JAX on the Python: one compile, so held to `SAME_COMPILER`. Not quite
        one for a partitioned module: the text is lowered on an abstract mesh and run over a line of host
        devices, JAX's own lowering over a concrete mesh, so XLA's partitioner may sum partial results in
        another order. There a difference within what a few ulps of input noise move XLA's own result by
        is rounding (a gradient that is zero in exact arithmetic is nothing else: the gradient of a
        softmax's sum, parallel seed 5899303346570970571), and is allowed, with a note that says so."""
        problems = compare_outputs(xla, got, SAME_COMPILER, labels)
        if not problems or runners.mesh_devices(text) <= 1:
            return problems, ""
        lowest = lowest_precision(text)
        slack = self._sensitivity(text, inputs, xla, lowest, report)
        if slack is None or compare_outputs(xla, got, SAME_COMPILER, labels, slack=slack):
            return problems, ""
        return [], f"partitioned: agreed within 4x the most a {_moved(lowest)} moves XLA's result, not to the last bit: {problems[0]}"

    def _sensitivity(self, text: str, inputs: Sequence[np.ndarray], xla: Sequence[np.ndarray], lowest: str, report: RowReport) -> list[np.ndarray] | None:
        """`compare.sensitivity` of XLA's result to a few ulps of input noise (3 directions); None when XLA runs none of them."""
        moves = [self._xla_quietly(text, perturbed(inputs, report.input_seed, perturbation(lowest), way)) for way in DIRECTIONS]
        moved = [m for m in moves if m is not None]
        return sensitivity(xla, *moved) if moved else None


def _moved(lowest: str) -> str:
    return f"{perturbation(lowest):.1e} relative input perturbation (3 directions)"


def miscompiled(report: RowReport, name: str) -> bool:
    """The interpreter or the padding check found XLA miscompiling the module `name` (`MISCOMPILED`)."""
    return any(f.check in MISCOMPILE_CHECKS and f.detail.startswith(f"{name}: {MISCOMPILED}") for f in report.findings)


def _types(types: Iterable[tuple[tuple[int, ...], str]]) -> str:
    return "(" + ", ".join(f"{d}[{','.join(map(str, s))}]" for s, d in types) + ")"


# --- many rows -------------------------------------------------------------------------


@dataclass
class Summary:
    """Counts per category and every failing row."""

    reports: list[RowReport] = field(default_factory=list)

    def table(self) -> str:
        columns = ("checked", "regenerated", "parsed", "executed", "interpreted", "agreed", "relowered", "unique", "verified", "unverified", "failed")
        cats = sorted({r.category for r in self.reports})
        rows = [[c, *self._counts([r for r in self.reports if r.category == c])] for c in cats]
        rows.append(["total", *self._counts(self.reports)])
        width = max([len(r[0]) for r in rows] + [8])
        lines = [f"{'category':<{width}} " + " ".join(f"{c:>11}" for c in columns)]
        lines += [f"{r[0]:<{width}} " + " ".join(f"{v:>11}" for v in r[1:]) for r in rows]
        return "\n".join(lines)

    @staticmethod
    def _counts(reports: Sequence[RowReport]) -> list[int]:
        return [
            len(reports),
            sum(r.status("regenerate") == OK for r in reports),
            sum(r.status("parse") == OK for r in reports),
            sum(r.executed for r in reports),
            sum(r.status("interpreter") == OK for r in reports),
            sum(r.agreed for r in reports),
            sum(r.status("relower") == OK for r in reports),
            sum(r.status("identity") == OK for r in reports),
            sum(r.verified for r in reports),
            sum(r.unverified for r in reports),
            sum(r.failed for r in reports),
        ]

    def skipped(self) -> Counter[str]:
        """Why checks were skipped, by check and reason (numbers and names folded)."""
        out: Counter[str] = Counter()
        for r in self.reports:
            for f in r.findings:
                if f.status == SKIP:
                    out[f"{f.check}: {_reason(f.detail)}"] += 1
        return out

    def failures(self) -> list[str]:
        lines = []
        for r in self.reports:
            for f in r.findings:
                if f.status == FAIL:
                    lines.append(f"{r.id} [{r.category}] seed {r.seed} inputs {r.input_seed}: {f.check}: {f.detail}")
        return lines

    @property
    def ok(self) -> bool:
        """Every row verified, none failed, and something was executed."""
        return not self.problems()

    def problems(self, allow_unverified: bool = False) -> list[str]:
        """Why validation does not pass (empty: it passes). `allow_unverified` lets unverified rows and a
        run that executed nothing pass; a failed row never does."""
        failed = sum(r.failed for r in self.reports)
        out = [f"{failed} rows failed"] if failed else []
        if allow_unverified:
            return out
        unverified = sum(r.unverified for r in self.reports)
        if unverified:
            out.append(f"{unverified} rows are unverified (see above; --allow-unverified accepts them)")
        if not self.reports:
            out.append("no row was checked")
        elif not any(r.executed for r in self.reports):
            out.append("no row was executed (--allow-unverified accepts that)")
        return out

    def unverified(self, limit: int = 20) -> list[str]:
        rows = [r for r in self.reports if r.unverified]
        lines = [f"{r.id} [{r.category}] seed {r.seed}: {r.why_unverified()[:300]}" for r in rows[:limit]]
        return lines + ([f"... and {len(rows) - limit} more"] if len(rows) > limit else [])

    def agreement(self) -> str:
        """Agreement under execution: of the rows whose IR XLA ran and whose values another executor
        compared, how many agreed with every one. Executed rows with nothing to compare (values of
        `stablehlo.rng`, which draws afresh on every run) can neither agree nor disagree: counted apart."""
        executed = [r for r in self.reports if r.executed]
        compared = [r for r in executed if r.compared]
        agreed = sum(r.agreed for r in compared)
        share = f"{agreed / len(compared):.2%}" if compared else "n/a"
        line = f"agreement under execution: {agreed} of {len(compared)} rows executed and compared ({share})"
        if len(executed) > len(compared):
            line += f"; {len(executed) - len(compared)} more executed rows had no values to compare (see skipped checks)"
        return line

    def verification(self) -> str:
        """Rows proven (executed and compared, or relowered byte for byte by their own JAX), and the rest."""
        verified = sum(r.verified for r in self.reports)
        unverified = sum(r.unverified for r in self.reports)
        share = f" ({verified / len(self.reports):.2%})" if self.reports else ""
        return f"verified: {verified} of {len(self.reports)} rows{share}; unverified: {unverified}; failed: {sum(r.failed for r in self.reports)}"

    def format(self) -> str:
        parts = [self.table(), self.agreement(), self.verification()]
        seconds: Counter[str] = sum((r.seconds for r in self.reports), Counter())
        parts.append("seconds per check: " + ", ".join(f"{c} {seconds[c]:.0f}" for c in CHECKS if c in seconds))
        skipped = self.skipped()
        if skipped:
            parts.append("skipped checks:\n" + "\n".join(f"  {n:>6}  {why}" for why, n in skipped.most_common()))
        miscompiled = self.miscompiled()
        if miscompiled:
            head = (f"XLA miscompiles found ({len(miscompiled)}; XLA computes the IR and the same computation written another way "
                    "differently, and the interpreter, where it ran, agrees with the other way):")
            parts.append(head + "".join(f"\n  {line}" for line in miscompiled))
        unverified = self.unverified()
        if unverified:
            parts.append(f"unverified rows (not checked, so not counted as agreeing; {sum(r.unverified for r in self.reports)}):"
                         + "".join(f"\n  {line}" for line in unverified))
        failures = self.failures()
        parts.append(f"disagreements and failures ({len(failures)}):" + ("".join(f"\n  {line}" for line in failures) or " none"))
        return "\n\n".join(parts)

    def miscompiled(self) -> list[str]:
        """The rows whose IR XLA computed wrongly (`MISCOMPILED`): never counted as a difference of the IR, never hidden."""
        return [
            f"{r.id} [{r.category}] seed {r.seed} inputs {r.input_seed}: {f.detail}"
            for r in self.reports
            for f in r.findings
            if f.check in MISCOMPILE_CHECKS and MISCOMPILED in f.detail
        ]


def _reason(detail: str) -> str:
    """A skip reason without the row-specific parts, so equal reasons count together."""
    detail = re.sub(r"\d+(\.\d+)?", "N", detail)
    return detail.split(": ", 2)[-1][:120] if detail.startswith(("stablehlo: ", "stablehlo_grad: ")) else detail[:120]


def sample_rows(sizes: dict[str, int], sample: int | None, seed: int) -> list[tuple[str, int]]:
    """(split, position) of the rows to check: all, or a seeded sample of `sample`, in split order."""
    everything = [(s, i) for s, n in sizes.items() for i in range(n)]
    if sample is None or sample >= len(everything):
        return everything
    order = {s: k for k, s in enumerate(sizes)}
    return sorted(random.Random(seed).sample(everything, sample), key=lambda p: (order[p[0]], p[1]))


# --- the command ---------------------------------------------------------------------


def run(
    splits: dict[str, Any],
    config: Any,
    options: Options,
    sample: int | None = None,
    progress: bool = True,
    num_proc: int = 1,
    journal: Journal | None = None,
) -> Summary:
    """Validate the rows of `splits` (all, or a seeded sample) and summarise; with a `journal`, each row's
    result is recorded as it comes, and a row the journal already holds a result for is not checked again.

    `num_proc` Validators (each with its own XLA / JAX and interpreter children, where the work
    is) take rows from a thread pool; the parent only waits on pipes and compares, so threads
    suffice. Reports come back in row order and the identity checks (first seen wins) run in that
    order, so the summary does not depend on `num_proc`."""
    if num_proc < 1:
        raise ValueError(f"num_proc must be at least 1, got {num_proc}")
    limits = limits_of(config) if config is not None else None
    positions = sample_rows({s: len(d) for s, d in splits.items()}, sample, options.input_seed)
    validators: queue.SimpleQueue[Validator] = queue.SimpleQueue()
    reading = threading.Lock()

    def check(position: tuple[str, int]) -> tuple[dict[str, Any], RowReport, bool]:
        with reading:
            row = splits[position[0]][position[1]]
        kept = journal.reuse(*position, row) if journal is not None else None
        if kept is not None:
            return row, kept, True
        validator = validators.get()
        try:
            return row, validator.validate(row), False
        finally:
            validators.put(validator)

    summary = Summary()
    seen: dict[str, dict[str, tuple[str, str]]] = {}
    started = [Validator(limits, options) for _ in range(min(num_proc, max(len(positions), 1)))]
    pool = None
    try:
        for validator in started:
            validators.put(validator)
        pool = ThreadPoolExecutor(len(started), thread_name_prefix="validate")
        with tqdm(total=len(positions), desc="validate", unit=" rows", disable=not progress) as bar:
            for (split, position), (row, report, reused) in zip(positions, pool.map(check, positions), strict=True):
                if journal is not None and not reused:  # before the identity check, which runs again on every row in order
                    journal.record(split, position, row, report)
                report.resume()
                check_identity(row, split, seen, config, report)
                summary.reports.append(report)
                bar.update()
                if progress and report.failed:  # a long run shows what failed as it goes
                    bar.write(Summary([report]).failures()[0][:400])
    finally:
        if pool is not None:  # on an error or Ctrl-C: drop the rows not yet started
            pool.shutdown(wait=False, cancel_futures=True)
        for validator in started:
            validator.close()
    return summary


def check_identity(row: dict[str, Any], split: str, seen: dict[str, dict[str, tuple[str, str]]], config: Any, report: RowReport) -> None:
    """The row's hash columns are the hashes of its IR, and no checked row repeats an earlier one's
    canonical IR or Python (in any split) or, in structural split mode, a train row's structure."""
    canon, structure = canonical_hash(row["stablehlo"]), structure_hash(row["stablehlo"])
    if "canonical_hash" in row and (row["canonical_hash"], row["structure_hash"]) != (canon, structure):
        report.add("identity", FAIL, "canonical_hash / structure_hash are not the hashes of this row's stablehlo")
    for kind, key in (("canonical StableHLO", canon), ("python", row["python"])):
        first = seen.setdefault(kind, {}).setdefault(key, (split, row["id"]))
        if first[1] != row["id"]:
            report.add("identity", FAIL, f"same {kind} as {first[1]}")
    structures = seen.setdefault("train structure", {})
    if split == "train":
        structures.setdefault(structure, (split, row["id"]))
    elif config is not None and config.split_mode == "structural" and structure in structures:
        report.add("identity", FAIL, f"structural split: same structure hash as {structures[structure][1]}")
    if report.status("identity") is None:
        report.add("identity", OK)
