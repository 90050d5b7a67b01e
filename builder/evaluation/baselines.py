"""Baseline predictions that show what a score means: the reference itself (100%), the reference
of another row (near 0), the nearest train row's counterpart (retrieval) and, for cost, a
power law fitted on IR size.

    python -m builder.evaluation.baselines --task cost --reference out/small --kind retrieval --output p.jsonl
    python -m builder.evaluation.baselines --task cost --reference out/bench --kind retrieval \
        --train-reference out/balanced --output p.jsonl    # bench has no train split: look in balanced's
"""

from __future__ import annotations

import argparse
import json
import math
import random
import re
import sys
from collections import Counter
from collections.abc import Sequence
from typing import Any

import numpy as np

from ..config import ConfigError
from .reference import load_reference
from .tasks import COST_FIGURES, TASKS, Task, get_task

KINDS = ("gold", "shuffled", "retrieval", "size-fit")
# What a model is given for each task (the input a retrieval baseline matches on) and what it answers.
INPUT = {"python-to-stablehlo": "python", "stablehlo-to-python": "stablehlo", "forward-to-gradient": "stablehlo", "cost": "stablehlo"}
ANSWER = {"python-to-stablehlo": "stablehlo", "stablehlo-to-python": "python", "forward-to-gradient": "stablehlo_grad"}
_TOKEN = re.compile(r"[A-Za-z_][\w.]*|\d+|\S")


def answer(task: Task, row: dict[str, Any]) -> Any:
    if task.kind == "cost":
        return {k: row[k] for k in COST_FIGURES}
    return row[ANSWER[task.name]]


def gold(task: Task, rows: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """The reference itself: every task scores 100%."""
    return {r["id"]: answer(task, r) for r in rows if task.applies(r)}


def shuffled(task: Task, rows: Sequence[dict[str, Any]], seed: int = 0) -> dict[str, Any]:
    """Each row gets another row's reference (a derangement: never its own)."""
    kept = [r for r in rows if task.applies(r)]
    order = list(range(len(kept)))
    random.Random(seed).shuffle(order)
    shift = order[1:] + order[:1]  # a cycle through the shuffled order: nobody keeps their own
    return {kept[a]["id"]: answer(task, kept[b]) for a, b in zip(order, shift, strict=True)}


def _bag(text: str) -> Counter[str]:
    return Counter(_TOKEN.findall(text))


def retrieval(task: Task, rows: Sequence[dict[str, Any]], train: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """The answer of the train row whose input is nearest (cosine of token counts, tf-idf weighted)."""
    pool = [t for t in train if task.applies(t)]
    kept = [r for r in rows if task.applies(r)]
    bags = [_bag(t[INPUT[task.name]]) for t in pool]
    vocabulary = {tok: i for i, tok in enumerate(sorted(set().union(*bags)))}
    df = np.zeros(len(vocabulary))
    for bag in bags:
        df[[vocabulary[t] for t in bag]] += 1
    idf = np.log((1 + len(bags)) / (1 + df)) + 1

    def vector(bag: Counter[str]) -> np.ndarray:
        v = np.zeros(len(vocabulary))
        for tok, n in bag.items():
            if tok in vocabulary:
                v[vocabulary[tok]] = (1 + math.log(n)) * idf[vocabulary[tok]]
        return v / (np.linalg.norm(v) or 1.0)

    matrix = np.stack([vector(b) for b in bags])
    return {r["id"]: answer(task, pool[int(np.argmax(matrix @ vector(_bag(r[INPUT[task.name]]))))]) for r in kept}


def size_fit(rows: Sequence[dict[str, Any]], train: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Cost: log(1 + figure) fitted linearly on log(IR characters) over train, per figure. A negative
    figure (XLA's cost analysis gives -4 flops for some modules of collectives alone) counts as 0."""
    x = np.log([len(t["stablehlo"]) for t in train])
    design = np.stack([np.ones_like(x), x], axis=1)
    coef = {k: np.linalg.lstsq(design, np.log1p([max(t[k], 0.0) for t in train]), rcond=None)[0] for k in COST_FIGURES}
    out = {}
    for r in rows:
        size = math.log(len(r["stablehlo"]))
        out[r["id"]] = {k: float(max(math.expm1(c[0] + c[1] * size), 0.0)) for k, c in coef.items()}
    return out


def make(kind: str, task: Task, rows: Sequence[dict[str, Any]], train: Sequence[dict[str, Any]] = (), seed: int = 0) -> dict[str, Any]:
    if kind == "gold":
        return gold(task, rows)
    if kind == "shuffled":
        return shuffled(task, rows, seed)
    if not train:
        raise ValueError(f"the {kind} baseline needs train rows")
    if kind == "size-fit":
        if task.kind != "cost":
            raise ValueError("size-fit predicts cost figures only (--task cost)")
        return size_fit(rows, train)
    return retrieval(task, rows, train)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--task", required=True, choices=list(TASKS))
    parser.add_argument("--reference", required=True, help="a build directory or Hub repo id")
    parser.add_argument("--reference-config")
    parser.add_argument("--split", default="test")
    parser.add_argument("--train-reference", help="where retrieval and size-fit look (default: --reference)")
    parser.add_argument("--train-config", help="the config of --train-reference, when it is a Hub repo id")
    parser.add_argument("--train-split", default="train", help="the split of --train-reference they look in")
    parser.add_argument("--kind", required=True, choices=KINDS)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--output", required=True)
    args = parser.parse_args(argv)
    task = get_task(args.task)
    try:
        rows = load_reference(args.reference, args.split, args.reference_config)
        train: list[dict[str, Any]] = []
        if args.kind in ("retrieval", "size-fit"):
            train_config = args.train_config if args.train_reference else args.reference_config
            train = load_reference(args.train_reference or args.reference, args.train_split, train_config)
    except ConfigError as err:
        hint = "" if args.train_reference else "; bench has no train split: give --train-reference, a build with one (e.g. balanced)"
        print(f"error: {err}{hint if args.kind in ('retrieval', 'size-fit') else ''}", file=sys.stderr)
        return 2
    predictions = make(args.kind, task, rows, train, args.seed)
    with open(args.output, "w") as f:
        for row_id, prediction in predictions.items():
            f.write(json.dumps({"id": row_id, "prediction": prediction}) + "\n")
    print(f"{len(predictions)} {args.kind} predictions for {task.name} -> {args.output}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
