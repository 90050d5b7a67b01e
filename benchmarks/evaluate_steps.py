"""Where a scored row's time goes: CPU seconds per step of `evaluate`, for the reference's own answer
and for a near miss (a realistic imperfect prediction), per task.

    .venv/bin/python benchmarks/evaluate_steps.py --reference out/small --n 20

The steps run in this process, one at a time, as the scorer's children run them: parse and verify
both modules, canonical hashes, op F1 (the text checks); compile and run the reference and the
prediction with XLA (`runners.run_xla`, as the executor child does); start a contained child and
lower and run a Python prediction in it (`containment.run_contained`, whose CPU is the child's:
counted through RUSAGE_CHILDREN, which bubblewrap's PID namespace hides: so the same child runs
once more under the limits only, a line of its own, to count its CPU; it is not in the total).
A near miss: for IR, the first `stablehlo.add` / `multiply` swapped (parses, same signature, not
exact, so both modules run); for Python, the first ` + ` made ` - `. Figures are
printed with the load average: under load the wall seconds mean little, the CPU seconds less so.
"""

from __future__ import annotations

import argparse
import os
import random
import re
import resource
import time
from collections import defaultdict
from collections.abc import Callable
from typing import Any

from builder.evaluation import containment
from builder.evaluation.containment import protection, run_contained
from builder.evaluation.reference import load_reference
from builder.evaluation.scoring import draw_inputs, op_f1
from builder.lowering.irhash import canonical_hash
from builder.validation import runners

SWAP = re.compile(r"= stablehlo\.(add|multiply) ")


def cpu() -> float:
    me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


def near_miss_ir(text: str) -> str | None:
    m = SWAP.search(text)
    return None if m is None else text[: m.start(1)] + ("multiply" if m.group(1) == "add" else "add") + text[m.end(1) :]


def near_miss_python(source: str) -> str | None:
    return source.replace(" + ", " - ", 1) if " + " in source else None


class Steps:
    """CPU and wall seconds per named step, summed over rows."""

    def __init__(self) -> None:
        self.cpu: dict[str, float] = defaultdict(float)
        self.wall: dict[str, float] = defaultdict(float)

    def time(self, name: str, fn: Callable[[], Any]) -> Any:
        c, w = cpu(), time.perf_counter()
        try:
            return fn()
        finally:
            self.cpu[name] += cpu() - c
            self.wall[name] += time.perf_counter() - w


def ir_row(steps: Steps, text: str, reference: str, inputs: list) -> None:
    steps.time("parse + verify (2 modules)", lambda: (runners.parse(text), runners.parse(reference)))
    steps.time("canonical hash (2 modules)", lambda: (canonical_hash(text), canonical_hash(reference)))
    steps.time("op F1", lambda: op_f1(text, reference))
    steps.time("XLA compile + run: reference", lambda: runners.run_xla(reference, inputs))
    steps.time("XLA compile + run: prediction", lambda: runners.run_xla(text, inputs))


def python_row(steps: Steps, source: str, row: dict[str, Any], inputs: list) -> None:
    fields = {k: row[k] for k in ("entry_point", "args", "args_tree")} | {"python": source, "stablehlo": "", "stablehlo_grad": None}
    steps.time("contained child: start, lower, run", lambda: run_contained(fields, inputs))
    sandboxed = containment.protection
    containment.protection = lambda: containment.Protection(None, "benchmark: to count the child's CPU")
    try:  # the same child under the limits only: bubblewrap's PID namespace hides its CPU from RUSAGE_CHILDREN
        steps.time("  the same child, limits only (its CPU)", lambda: run_contained(fields, inputs))
    finally:
        containment.protection = sandboxed
    steps.time("XLA compile + run: reference", lambda: runners.run_xla(row["stablehlo"], inputs))


def report(title: str, steps: Steps, n: int) -> None:
    print(f"\n{title} ({n} rows)", flush=True)
    for name in steps.cpu:  # the "limits only" line repeats the child's work: not in the total
        print(f"  {name:40} CPU {steps.cpu[name] / max(n, 1):6.3f} s/row   wall {steps.wall[name] / max(n, 1):6.3f} s/row")
    cpu_total = sum(v for k, v in steps.cpu.items() if not k.startswith("  "))
    wall_total = sum(v for k, v in steps.wall.items() if not k.startswith("  "))
    print(f"  {'total':40} CPU {cpu_total / max(n, 1):6.3f} s/row   wall {wall_total / max(n, 1):6.3f} s/row", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--reference", required=True)
    parser.add_argument("--split", default="test")
    parser.add_argument("--n", type=int, default=20)
    parser.add_argument("--tasks", default="ir,python", help="ir, python or both")
    args = parser.parse_args()
    runners.ask_for_host_devices()
    rows = load_reference(args.reference, args.split)
    rows = sorted(random.Random(0).sample(rows, min(args.n, len(rows))), key=lambda r: r["id"])
    lines = sorted(r["stablehlo"].count("\n") for r in rows)
    print(f"{len(rows)} rows of {args.reference} (stablehlo lines: median {lines[len(lines) // 2]}, max {lines[-1]}); containment: {protection().describe()}")
    runners.run_xla(rows[0]["stablehlo"], draw_inputs(rows[0], 0))  # JAX's start-up, once, outside the figures
    for grad in (False, True) if "ir" in args.tasks else ():
        column = "stablehlo_grad" if grad else "stablehlo"
        gold, miss, missed = Steps(), Steps(), 0
        usable = [r for r in rows if r.get(column)]
        for row in usable:
            inputs = draw_inputs(row, 0)  # the gradient module takes the forward's arguments
            ir_row(gold, row[column], row[column], inputs)
            if (text := near_miss_ir(row[column])) is not None:
                missed += 1
                ir_row(miss, text, row[column], inputs)
        task = "forward-to-gradient" if grad else "python-to-stablehlo"
        report(f"{task}: the reference's own answer, shortcut off", gold, len(usable))
        report(f"{task}: a near miss (an add / multiply swapped)", miss, missed)
    gold, miss, missed = Steps(), Steps(), 0
    for row in rows if "python" in args.tasks else []:
        inputs = draw_inputs(row, 0)
        python_row(gold, row["python"], row, inputs)
        if (source := near_miss_python(row["python"])) is not None:
            missed += 1
            python_row(miss, source, row, inputs)
    report("stablehlo-to-python: the reference's own answer", gold, len(rows))
    report("stablehlo-to-python: a near miss (the first ' + ' made ' - ')", miss, missed)
    print("\nload (1/5/15 min): " + " / ".join(f"{x:.1f}" for x in os.getloadavg()))


if __name__ == "__main__":
    main()
