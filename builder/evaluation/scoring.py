"""One prediction against one reference row: the verdicts a report adds up.

An IR prediction (python-to-stablehlo, forward-to-gradient) is parsed and verified with jaxlib's
MLIR bindings, compared with the reference after canonicalization (`irhash.canonical_hash`), and
compiled and run by XLA beside the reference on inputs drawn from the row's recorded domains.
A Python prediction (stablehlo-to-python) runs contained (`containment`): it must run, lower to
the reference's canonical IR (exact match) and compute what the reference computes. A cost
prediction is three numbers, kept for the report's error and rank figures.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..lowering.extractor import counted_ops, distinct_ops
from ..lowering.irhash import canonical_hash, custom_call_targets
from ..pipeline.seeds import derive_seed
from ..synth.domains import Domain
from ..synth.specs import spec_of
from ..validation import runners
from ..validation.compare import INDEPENDENT, compare_outputs, lowest_precision, narrowest_range, widened
from ..validation.validate import NONDETERMINISTIC, NONDETERMINISTIC_WHY
from ..validation.worker import Worker
from . import executor
from .containment import Limits, run_contained
from .reference_cache import ReferenceCache, key
from .tasks import COST_FIGURES, Task, tier

# What became of a row. "scored": the prediction was judged (it may still be wrong).
SCORED, MISSING, MALFORMED, TIMED_OUT, CRASHED = "scored", "missing", "malformed", "timed_out", "crashed"
STATUSES = (SCORED, MISSING, MALFORMED, TIMED_OUT, CRASHED)


@dataclass
class RowScore:
    """The verdicts on one row. `valid`: the IR parses and verifies / the Python runs and lowers."""

    id: str
    category: str
    tier: str
    status: str = SCORED
    valid: bool = False
    exact: bool = False
    executed: bool = False
    agreed: bool = False
    signature: bool = False  # takes and returns the reference's types
    op_f1: float = 0.0  # partial credit: F1 of the distinct StableHLO / CHLO ops against the reference's
    reason: str = ""
    cost: dict[str, float] | None = None  # the predicted figures (cost)
    reference_cost: dict[str, float] = field(default_factory=dict)


def draw_inputs(row: dict[str, Any], input_seed: int) -> list[np.ndarray]:
    """Inputs from each argument leaf's recorded domain, seeded by the row and `input_seed`."""
    rng = np.random.default_rng(derive_seed("evaluate", input_seed, row["id"], row["seed"]))
    return [Domain.parse(a.get("domain") or "real").sample(spec_of(a), rng) for a in row["args"]]


def op_f1(text: str, reference: str) -> float:
    """F1 of the distinct StableHLO / CHLO ops of `text` against `reference`'s (1.0 when both have none)."""
    got, want = set(counted_ops(distinct_ops(text))), set(counted_ops(distinct_ops(reference)))
    if not got and not want:
        return 1.0
    return 2 * len(got & want) / (len(got) + len(want))


def compare_text(text: str, reference: str, out: RowScore) -> tuple[bool, bool]:
    """Parse `text` and fill the verdicts that need no execution. Returns whether it parses and verifies,
    and whether it takes the reference's argument types (so that both run on the same inputs); the reason when not."""
    try:
        signature = runners.parse(text)
    except ValueError as err:
        out.reason = f"does not parse or verify: {err}"[:400]
        return False, False
    expected = runners.parse(reference)
    out.exact = canonical_hash(text) == canonical_hash(reference)
    out.signature = (signature.inputs, signature.outputs) == (expected.inputs, expected.outputs)
    out.op_f1 = op_f1(text, reference)
    if signature.inputs != expected.inputs:
        out.reason = f"takes {signature.inputs} where the reference takes {expected.inputs}"[:400]
        return True, False
    return True, True


def agreement(got: Sequence[np.ndarray], want: Sequence[np.ndarray], reference: str) -> list[str]:
    """How the prediction's outputs differ from the reference's (tolerances between independent executors)."""
    if NONDETERMINISTIC.search(reference):  # fresh random numbers on every run: shapes and dtypes only
        if [(np.shape(g), np.asarray(g).dtype) for g in got] == [(np.shape(w), np.asarray(w).dtype) for w in want]:
            return []
        return [f"output shapes or dtypes differ ({NONDETERMINISTIC_WHY})"]
    tolerances = widened(INDEPENDENT, lowest_precision(reference))
    return compare_outputs(got, want, tolerances, independent=True, low_precision=narrowest_range(reference))


class Scorer:
    """Scores rows of one task; holds an XLA child (`executor`) for the IR both sides run."""

    def __init__(
        self,
        task: Task,
        input_seed: int = 0,
        timeout: float = 120.0,
        limits: Limits | None = None,
        shortcut: bool = True,
        cache: ReferenceCache | None = None,
    ) -> None:
        self.task = task
        self.cache = cache  # the reference's outputs kept across runs (None: computed every time)
        self.shortcut = shortcut  # an IR in the reference's canonical form is the same module: not run again
        self.input_seed = input_seed
        self.limits = limits or Limits()
        self.xla = Worker(executor.__name__, timeout)

    def close(self) -> None:
        self.xla.close()

    def __enter__(self) -> Scorer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def score(self, row: dict[str, Any], prediction: Any, present: bool) -> RowScore:
        out = RowScore(row["id"], row["category"], tier(row))
        out.reference_cost = {k: float(row[k]) for k in COST_FIGURES}
        if not present:
            out.status, out.reason = MISSING, "no prediction for this id"
        elif self.task.kind == "cost":
            self._cost(prediction, out)
        elif not isinstance(prediction, str):
            out.status, out.reason = MALFORMED, f"the prediction is a {type(prediction).__name__}; expected a string ({self.task.prediction})"
        elif self.task.kind == "ir":
            self._ir(row, prediction, out)
        else:
            self._python(row, prediction, out)
        return out

    def _run(self, text: str, inputs: list[np.ndarray]) -> tuple[str, Any]:
        """("ok", outputs), ("error", why): XLA refused or failed; (TIMED_OUT / CRASHED, why)."""
        reply = self.xla.call(("xla", text, inputs))
        if reply.failed:
            return (TIMED_OUT if "time limit" in reply.failed else CRASHED), reply.failed
        return reply.value

    def _reference(self, row: dict[str, Any], inputs: list[np.ndarray], out: RowScore) -> list[np.ndarray] | None:
        digest = key(row[self.task.reference], inputs) if self.cache is not None else ""
        if self.cache is not None and (kept := self.cache.get(digest)) is not None:
            return kept
        kind, value = self._run(row[self.task.reference], inputs)
        if kind == "ok":
            if self.cache is not None:
                self.cache.put(digest, value)
            return value
        out.agreed = out.exact  # the reference itself cannot run here: only an exact match agrees
        out.reason = f"the reference did not run ({value}); judged by exact match"[:400]
        return None

    def _ir(self, row: dict[str, Any], text: str, out: RowScore) -> None:
        reference = row[self.task.reference]
        out.valid, runs = compare_text(text, reference, out)
        if not out.valid:
            return
        if out.exact and self.shortcut:  # names aside, the reference module itself: it computes what the reference computes
            out.executed = out.agreed = True
            return
        if not runs:
            return
        unsafe = [t for t in custom_call_targets(text) if not runners.SAFE_CUSTOM_CALLS.match(t) and t not in custom_call_targets(reference)]
        if unsafe:
            out.reason = f"custom_call targets not run here: {', '.join(unsafe)}"
            return
        inputs = draw_inputs(row, self.input_seed)
        want = self._reference(row, inputs, out)
        if want is None:
            return
        kind, got = self._run(text, inputs)
        if kind in (TIMED_OUT, CRASHED):
            out.status, out.reason = kind, got
        elif kind == "error":
            out.reason = f"XLA: {got}"[:400]
        else:
            out.executed = True
            problems = agreement(got, want, reference)
            out.agreed, out.reason = not problems, "; ".join(problems[:2])[:400]

    def _python(self, row: dict[str, Any], source: str, out: RowScore) -> None:
        mesh = "\n".join(line for line in row["stablehlo"].splitlines() if "sdy.mesh" in line)  # all the child needs of the IR
        fields = {k: row[k] for k in ("entry_point", "args", "args_tree")} | {"python": source, "stablehlo": mesh, "stablehlo_grad": None}
        inputs = draw_inputs(row, self.input_seed)
        status, side = run_contained(fields, inputs, self.limits)
        if status != "ok":
            out.status, out.reason = status, side.error or status
            return
        if side.stablehlo is not None:  # what JAX lowered the prediction to (it may still have failed to run)
            compare_text(side.stablehlo, row["stablehlo"], out)
        if side.error:
            out.reason = f"the prediction failed: {side.error}"[:400]
            return
        out.valid = out.executed = True
        if out.exact and self.shortcut:  # it ran, and what ran is the reference's module (names aside): no second run
            out.agreed = True
            return
        want = self._reference(row, inputs, out)
        if want is not None:
            problems = agreement(side.outputs, want, row["stablehlo"])
            out.agreed, out.reason = not problems, "; ".join(problems[:2])[:400]

    def _cost(self, prediction: Any, out: RowScore) -> None:
        if not isinstance(prediction, dict) or set(COST_FIGURES) - set(prediction):
            out.status, out.reason = MALFORMED, f"expected an object with {', '.join(COST_FIGURES)}"
            return
        values = {k: prediction[k] for k in COST_FIGURES}
        bad = [k for k, v in values.items() if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v) or v < 0]
        if bad:
            out.status, out.reason = MALFORMED, f"{', '.join(bad)} must be finite numbers >= 0"
            return
        out.cost = {k: float(v) for k, v in values.items()}
        out.valid = True

