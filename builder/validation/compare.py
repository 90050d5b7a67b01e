"""Output comparison with dtype-aware tolerances: what "the IR computes what the Python computes" means.

Two executors agree on an array when the shapes and dtypes are equal, NaN, +Inf and -Inf sit
in the same places, and every finite pair is within `atol * scale + rtol * |want|` (`scale`
is the largest finite magnitude of the reference, at least 1: a chain of ops that cancels
large terms is judged against the size of what it computed). Integers and booleans must be
equal. The tolerance depends on how independent the executors are: XLA running the IR text
and XLA running the traced Python compile the same ops, so they must agree almost to the
bit; the reference interpreter implements every op (exp, tanh, ...) on its own.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

import ml_dtypes
import numpy as np


@dataclass(frozen=True)
class Tolerance:
    rtol: float
    atol: float


# (same compiler, independent executor), per floating dtype.
SAME_COMPILER = {
    "float32": Tolerance(1e-5, 1e-6),
    "complex64": Tolerance(1e-5, 1e-6),
    "float16": Tolerance(1e-3, 1e-3),
    "bfloat16": Tolerance(1e-2, 1e-2),
}
INDEPENDENT = {
    "float32": Tolerance(2e-3, 2e-4),
    "complex64": Tolerance(2e-3, 2e-4),
    "float16": Tolerance(2e-2, 1e-2),
    "bfloat16": Tolerance(8e-2, 5e-2),
}


PRECISION = ("bfloat16", "float16", "float32")  # least precise first


def lowest_precision(text: str) -> str:
    """The least precise float type a module computes in (its intermediates set its accuracy)."""
    if re.search(r"[x<]bf16>", text):
        return "bfloat16"
    if re.search(r"[x<]f16>", text):
        return "float16"
    return "float32"


def narrowest_range(text: str) -> str | None:
    """The float type of a module with the smallest range ("float16" before "bfloat16"), None for f32 only."""
    if re.search(r"[x<]f16>", text):
        return "float16"
    return "bfloat16" if re.search(r"[x<]bf16>", text) else None


def widened(tolerances: dict[str, Tolerance], lowest: str) -> dict[str, Tolerance]:
    """`tolerances` loosened so no float output is held to more precision than the module computed in."""
    floor = tolerances[lowest]
    return {k: Tolerance(max(t.rtol, floor.rtol), max(t.atol, floor.atol)) for k, t in tolerances.items()}


def _float_view(a: np.ndarray) -> np.ndarray:
    if a.dtype.kind == "c":
        return a.astype(np.complex128)
    return a.astype(np.float64)


def compare_array(
    got: np.ndarray,
    want: np.ndarray,
    tolerances: dict[str, Tolerance],
    independent: bool = False,
    low_precision: str | None = None,
    slack: np.ndarray | None = None,
) -> str | None:
    """None when `got` agrees with `want` (the reference); else a one-line description of the difference.

    Between independent executors (`independent`), IEEE overflow is order-dependent: once the
    reference itself holds Inf or NaN, which later values turn NaN, Inf or stay finite depends
    on how each executor arranged the arithmetic (XLA's simplifier reorders it), so only the
    elements finite on both sides are compared. With `low_precision` intermediates (the least
    precise float type the module computes in: "float16" or "bfloat16") an executor that rounds
    after every op overflows where one that keeps f32 inside a fusion or accumulator does not:
    NaN and +-Inf may stand for each other, and where the reference exceeds that type's range
    the other may hold an Inf of the same sign. `slack`: an extra allowance per element (see
    `sensitivity`)."""
    got, want = np.asarray(got), np.asarray(want)
    if got.shape != want.shape:
        return f"shape {got.shape} vs {want.shape}"
    if got.dtype != want.dtype:
        return f"dtype {got.dtype} vs {want.dtype}"
    if want.dtype.name not in tolerances:
        bad = got != want
        if not bad.any():
            return None
        where = tuple(int(i) for i in np.argwhere(bad)[0])
        return f"{int(bad.sum())} of {want.size} elements differ; first at {list(where)}: {got[where]} vs {want[where]}"
    g, w = _float_view(got), _float_view(want)
    overflowed = independent and not np.isfinite(w).all()
    kinds = (("NaN", np.isnan), ("+Inf", lambda x: np.isinf(x) & (x.real > 0)), ("-Inf", lambda x: np.isinf(x) & (x.real < 0)))
    if low_precision:
        limit = float(ml_dtypes.finfo(low_precision).max)
        beyond = np.isinf(g) & np.isfinite(w) & (np.abs(w) > limit) & (np.sign(g.real) == np.sign(w.real))
        w = np.where(beyond, g, w)  # the narrow type's overflow: count the Inf as agreeing
        kinds = (("non-finite", lambda x: ~np.isfinite(x)),)
    for name, test in () if overflowed else kinds:
        if (test(g) != test(w)).any():
            where = tuple(int(i) for i in np.argwhere(test(g) != test(w))[0])
            return f"{name} in different places: {int((test(g) != test(w)).sum())} elements; first at {list(where)}: {got[where]} vs {want[where]}"
    finite = np.isfinite(g) & np.isfinite(w)
    if not finite.any():
        return None
    tol = tolerances[want.dtype.name]
    scale = max(1.0, float(np.abs(w[finite]).max()))
    with np.errstate(invalid="ignore", over="ignore"):
        err = np.where(finite, np.abs(g - w), 0.0)
    allowed = tol.atol * scale + tol.rtol * np.abs(w)
    if slack is not None:
        allowed = allowed + np.where(np.isfinite(slack), slack, 0.0)
    bad = err > allowed
    if not bad.any():
        return None
    where = tuple(int(i) for i in np.unravel_index(np.argmax(np.where(bad, err, -1.0)), err.shape))
    return (
        f"{int(bad.sum())} of {want.size} elements beyond rtol {tol.rtol:g} / atol {tol.atol:g}x{scale:.3g}; "
        f"worst at {list(where)}: {got[where]} vs {want[where]} (|diff| {float(err[where]):.3g})"
    )


def compare_outputs(
    got: Sequence[np.ndarray],
    want: Sequence[np.ndarray],
    tolerances: dict[str, Tolerance],
    labels: Sequence[str] = (),
    independent: bool = False,
    low_precision: str | None = None,
    slack: Sequence[np.ndarray] | None = None,
) -> list[str]:
    """Every disagreement between two flat output lists, labelled by output."""
    if len(got) != len(want):
        return [f"{len(got)} outputs vs {len(want)}"]
    problems = []
    for i, (g, w) in enumerate(zip(got, want, strict=True)):
        problem = compare_array(g, w, tolerances, independent, low_precision, None if slack is None else slack[i])
        if problem:
            label = labels[i] if i < len(labels) and labels[i] else f"output {i}"
            problems.append(f"{label}: {problem}")
    return problems


PERTURBATION = 2.0**-20  # relative: ~8 ulps of float32


def perturbation(lowest: str) -> float:
    """How far to move the inputs: 8 ulps of f32, or 2 ulps of the module's least precise type
    (an executor's f16 / bf16 rounding differs by an ulp, which no f32-sized nudge imitates)."""
    return max(PERTURBATION, 2 * float(ml_dtypes.finfo(lowest).eps))


def perturbed(inputs: Sequence[np.ndarray], seed: int, relative: float = PERTURBATION, direction: float | None = None) -> list[np.ndarray]:
    """The inputs with every float element moved by `relative` (random sign, or all by `direction`'s);
    f16 / bf16 inputs by at least one ulp."""
    rng = np.random.default_rng(seed)
    out = []
    for x in inputs:
        x = np.asarray(x)
        if x.dtype.kind == "f" or x.dtype.name == "bfloat16":
            step = max(relative, float(ml_dtypes.finfo(x.dtype).eps))
            signs = rng.choice([-1.0, 1.0], x.shape) if direction is None else np.sign(direction)
            x = (x.astype(np.float64) * (1 + step * signs)).astype(x.dtype)
        out.append(x)
    return out


DIRECTIONS = (None, 1.0, -1.0)  # random signs, every input up, every input down


def sensitivity(reference: Sequence[np.ndarray], *moved: Sequence[np.ndarray], factor: float = 4.0) -> list[np.ndarray]:
    """Per element, `factor` times the most the outputs moved when the inputs moved by a few ulps
    (each of `moved` is one such move): how much an ill-conditioned program (tan near a pole, a
    long chain of cancellations) amplifies rounding. Two executors that round differently may
    differ by that much. Several moves: where the program is chaotic (`sin` of an argument whose
    ulp exceeds 2π) a single move can land near where it started."""
    out = []
    for i, a in enumerate(reference):
        a = np.asarray(a)
        if a.dtype.kind in "fc" or a.dtype.name == "bfloat16":
            with np.errstate(invalid="ignore", over="ignore"):
                moves = [np.abs(_float_view(a) - _float_view(np.asarray(m[i]))) for m in moved]
                out.append(factor * np.fmax.reduce(moves) if moves else np.zeros(a.shape))
        else:
            out.append(np.zeros(a.shape))
    return out
