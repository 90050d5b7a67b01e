"""Near-tied picks that XLA's compile takes its own way: rounding a program magnifies, not a miscompile.

When XLA's compile of a module and its run of the localization probe (every intermediate returned,
so nothing is fused away) differ, and the interpreter agrees with the probe, XLA disagrees with
itself. That is a miscompile only if no rounding the spec allows explains it. One thing that does:
an argmax / argmin (a reduce of values with their indices) whose entries lie within `ULPS` ulps of
the one it picks. A fusion that sums a mean in another order (the spec fixes no order of a reduce)
moves those entries by an ulp and the pick with them, and a branch chosen by the pick can change
the outputs by any amount (control_flow seed 2984184272105099083 picks a `lax.switch` branch by
`argmax([min(v), mean(v), max(v)])` of a constant vector).

`broken_ties` splices other picks among such rivals into the probe, fewest first, and looks for a
combination with which XLA's unfused run gives XLA's compile of the module, and the interpreter
agrees with that run: the two executors then differ only in how rounding broke the ties.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from .localize import ULPS, Node, Run, prepare, probe, splice, top_level_ops

RUNS = 24  # probe runs tried at most: only rows whose XLA disagrees with itself get here (1 in ~20,000)


@dataclass(frozen=True)
class Pick:
    """One other outcome of an arg-reduce: its results (probe indices) given `values` instead."""

    results: tuple[int, ...]
    values: tuple[np.ndarray, ...]
    what: str


def rivals(ctx: Any, text: str, nodes: list[Node], values: Sequence[np.ndarray], inputs: Sequence[np.ndarray]) -> list[list[Pick]]:
    """For each arg-reduce of floats with a pick that has rivals within `ULPS` ulps: its other outcomes."""
    from jaxlib.mlir import ir

    def operand(ref: tuple[str, int]) -> np.ndarray:
        return np.asarray(inputs[ref[1]] if ref[0] == "arg" else values[ref[1]])

    found: list[list[Pick]] = []
    with ctx, ir.Location.unknown():
        ops = top_level_ops(ir.Module.parse(text))  # kept alive with its module
        for i, node in enumerate(nodes):
            if node.name != "stablehlo.reduce" or len(node.results) != 2 or any(r[0] == "opaque" for r in node.operands[:2]):
                continue
            entries, indices = (operand(r) for r in node.operands[:2])
            if entries.dtype.kind != "f" or indices.dtype.kind not in "iu":
                continue
            dims = list(ir.DenseI64ArrayAttr(ops[i].attributes["dimensions"]))
            if len(dims) != 1:
                continue
            entries, indices = (np.moveaxis(a, dims[0], -1).reshape(-1, a.shape[dims[0]]) for a in (entries, indices))
            picked, at = (np.asarray(values[k]) for k in node.results)
            flat_picked, flat_at = picked.reshape(-1), at.reshape(-1)
            picks = []
            for e in range(flat_picked.size):
                near = np.abs(entries[e].astype(np.float64) - float(flat_picked[e])) <= ULPS * np.spacing(np.abs(flat_picked[e]))
                for j in np.flatnonzero(near & (indices[e] != flat_at[e])):
                    value, index = flat_picked.copy(), flat_at.copy()
                    value[e], index[e] = entries[e, j], indices[e, j]
                    what = f"the argmax / argmin at op {i} picks {int(indices[e, j])}, not {int(flat_at[e])}, of {np.array2string(entries[e], precision=9)}"
                    picks.append(Pick(node.results, (value.reshape(picked.shape), index.reshape(at.shape)), what))
            if picks:
                found.append(picks)
    return found


def broken_ties(
    ctx: Any,
    text: str,
    inputs: Sequence[np.ndarray],
    xla: Run,
    interpreter: Run,
    agree: Callable[[list[np.ndarray], list[np.ndarray]], bool],
    runs: int = RUNS,
) -> str | None:
    """How XLA's compile of `text` is its unfused run with near-tied picks taken another way, which the
    interpreter agrees with; None when no such combination is found within `runs` probe runs."""
    whole = xla(text, list(inputs))
    current = prepare(ctx, text)
    probe_text, n_out, nodes = probe(ctx, current)
    probed = xla(probe_text, list(inputs))
    if whole is None or probed is None:
        return None
    choices = rivals(ctx, current, nodes, probed[n_out:], inputs)
    for count in range(1, len(choices) + 1):
        for reduces in itertools.combinations(choices, count):
            for combo in itertools.product(*reduces):
                if runs == 0:
                    return None
                runs -= 1
                spliced = splice(ctx, current, [k for pick in combo for k in pick.results])
                extra = [*inputs, *(v for pick in combo for v in pick.values)]
                ours = xla(probe(ctx, spliced)[0], extra)  # every intermediate returned: nothing fused away
                if ours is None or not agree(whole, ours[:n_out]):
                    continue
                theirs = interpreter(spliced, extra)
                if theirs is not None and agree(ours[:n_out], theirs):
                    return "; ".join(pick.what for pick in combo)
    return None
