"""Is a row's "XLA disagrees with itself" a tie XLA breaks its own way? Flip near-tied argmax picks and see.

The validator's rule for XLA disagreeing with itself: XLA's compile of the module and its run of
the same module with every intermediate returned (the localization probe, where nothing is fused
away) differ, and the interpreter agrees with the latter. Validation searches near-tied picks itself
before it names XLA (`builder/validation/ties.py`, at most 24 probe runs, the first combination that
agrees); this script runs every combination and says which outputs each reproduces bit for bit. A program that picks a branch by
`argmax([min(v), mean(v), max(v)])` of a vector whose entries are equal differs that way without any
miscompile: a mean rounded an ulp apart decides the argmax. This script regenerates one row, finds
every argmax / argmin (a reduce of values with their indices) whose pick has rivals within `ULPS`
ulps in the probe, and runs the probe with each combination of other picks spliced in. A combination
whose outputs agree with XLA's compile of the whole module (within the validator's tolerance; the
outputs equal bit for bit are named) shows where XLA's compile broke the ties. XLA runs without
its algebraic simplifier on both sides (`runners.LITERAL`, as localization does), so that rewrites
of the mean do not move the values compared.

Usage: .venv/bin/python benchmarks/tie_flips.py control_flow 2984184272105099083
(the `control_flow` campaign row train-0000807: 2 of its 4 argmax picks flipped reproduce XLA's values)
"""

from __future__ import annotations

import argparse
import itertools

import numpy as np

from builder.config import resolve
from builder.pipeline.rows import make_row
from builder.pipeline.seeds import derive_seed
from builder.validation import runners
from builder.validation.compare import INDEPENDENT, compare_outputs
from builder.validation.localize import ULPS, prepare, probe, splice
from builder.validation.ties import rivals

MAX_RUNS = 256


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("category")
    parser.add_argument("seed", type=int, help="the row's program seed (its `seed` column)")
    parser.add_argument("--input-seed", type=int, default=0, help="validate's --input-seed")
    args = parser.parse_args()
    row = make_row(resolve(args.category), "train", 0, args.category, args.seed)
    text = row["stablehlo"]
    inputs = runners.make_inputs(row["args"], derive_seed("inputs", args.input_seed, args.seed), text)
    ctx = runners.mlir_context()
    whole = runners.run_xla(text, inputs, runners.LITERAL)
    prepared = prepare(ctx, text)
    probe_text, n_out, nodes = probe(ctx, prepared)
    probed = runners.run_xla(probe_text, inputs, runners.LITERAL)
    values = probed[n_out:]

    def same(outputs: list[np.ndarray]) -> bool:  # within the validator's tolerance of XLA's compile
        return not compare_outputs(list(outputs), whole, INDEPENDENT, [], independent=True)

    def identical(outputs: list[np.ndarray]) -> str:
        return ", ".join(str(i) for i, (a, b) in enumerate(zip(outputs, whole, strict=True)) if np.array_equal(a, b, equal_nan=True))

    print(f"{args.category} seed {args.seed}: {len(nodes):,} ops probed; XLA's compile and its probe "
          f"{'agree' if same(probed[:n_out]) else 'differ'} (outputs alike bit for bit: {identical(probed[:n_out]) or 'none'})")  # fmt: skip
    choices = rivals(ctx, prepared, nodes, values, inputs)
    for n, picks in enumerate(choices):
        print(f"  arg-reduce #{n + 1}, other picks within {ULPS} ulps: " + "; ".join(pick.what for pick in picks))
    combos = list(itertools.product(*([None, *picks] for picks in choices)))[1 : MAX_RUNS + 1]  # the first: no flip
    found = 0
    for combo in combos:
        flips = [pick for pick in combo if pick is not None]
        results = [k for pick in flips for k in pick.results]
        extra = [np.asarray(v) for pick in flips for v in pick.values]
        outputs = runners.run_xla(splice(ctx, prepared, results), [*inputs, *extra], runners.LITERAL)
        if same(outputs):
            found += 1
            shown = ", ".join(f"#{n + 1}: {pick.what}" for n, pick in enumerate(combo) if pick is not None)
            print(f"  XLA's values with these picks: {shown} (outputs alike bit for bit: {identical(outputs) or 'none'})")
    print(f"{len(combos)} combinations of other picks run; {found} reproduce XLA's compile of the module")


if __name__ == "__main__":
    main()
