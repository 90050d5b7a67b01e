"""How much of the generator shows in the rows (issue 16): the share of rows with each tell.

A model trained on the rows learns whatever they share; this prints what they share that real
JAX code does not: numbered placeholder names, sinks that keep values alive, weights built from
`linspace` / `arange % k`, `abs` guards, `1e-6` as an ordinary operand, unused imports, dead
statements and PRNG key reuse; then the most frequent calls and names and the distributions of
statements, arguments and element counts.

    python benchmarks/realism.py --config balanced --rows 3000 --seed 11   # drawn, no lowering
    python benchmarks/realism.py --build-dir out/ [--split train]          # a `build --output-dir`
    ... --ruff   # also count ruff's pyflakes (F) findings on the sources
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from collections import Counter
from collections.abc import Iterable, Iterator
from pathlib import Path

from builder.pipeline.realism import TELLS, Figures, Source, analyse


def drawn(config_name: str, rows: int, seed: int) -> Iterator[Source]:
    """Programs of the config's category mix, drawn as a build draws its first seeds (no lowering)."""
    from builder.config import resolve  # lazy: the package is only needed for drawn programs
    from builder.pipeline.seeds import category_plan, example_seed, limits_of
    from builder.synth.generator import generate

    config = resolve(config_name, {"seed": seed, "train_size": rows})
    for index, category in enumerate(category_plan(config, "train")):
        program = generate(category, example_seed(config.seed, "train", index), limits_of(config))
        args = [{"shape": list(v.spec.shape)} for v in program.leaves]
        yield Source(program.render(), args)


def built(directory: Path, split: str | None) -> Iterator[Source]:
    import datasets  # lazy: heavy, and only needed for a build directory

    loaded = datasets.load_from_disk(str(directory))
    splits = [loaded[split]] if split else list(loaded.values()) if isinstance(loaded, datasets.DatasetDict) else [loaded]
    for ds in splits:
        for row in ds.select_columns(["python", "args"]):
            yield Source(row["python"], row["args"])


def ruff_findings(sources: Iterable[Source]) -> Counter:
    """ruff's pyflakes (F) findings by code, over the sources written to a scratch directory."""
    with tempfile.TemporaryDirectory() as tmp:
        for i, src in enumerate(sources):
            Path(tmp, f"row_{i:06d}.py").write_text(src.python)
        out = subprocess.run([str(Path(sys.executable).parent / "ruff"), "check", "--select", "F", "--output-format", "json",
                              "--no-cache", "--isolated", tmp], capture_output=True, text=True)
        return Counter(f["code"] for f in json.loads(out.stdout or "[]"))


def quantiles(values: list[int]) -> str:
    s = sorted(values)
    if not s:
        return "-"
    q = [s[min(len(s) - 1, int(p * len(s)))] for p in (0.0, 0.25, 0.5, 0.75, 0.95)]
    return f"min {q[0]}, p25 {q[1]}, median {q[2]}, p75 {q[3]}, p95 {q[4]}, max {s[-1]}, mean {sum(s) / len(s):.1f}"


def report(fig: Figures, ruff: Counter | None, top: int) -> str:
    lines = [f"rows: {fig.rows:,}", "", "| tell | rows | share |", "|---|---:|---:|"]
    for key, label in TELLS:
        lines.append(f"| {label} | {fig.tells[key]:,} | {fig.tells[key] / max(fig.rows, 1):.1%} |")
    lines.append(f"\nnumbered names: {fig.numbered_names:,} of {fig.assigned:,} assigned names ({fig.numbered_names / max(fig.assigned, 1):.1%})")
    if ruff is not None:
        lines.append("ruff F findings: " + (", ".join(f"{k} {v:,}" for k, v in ruff.most_common()) or "none"))
    lines.append(f"\ncalls ({sum(fig.calls.values()):,}, {len(fig.calls)} distinct), top {top}: "
                 + ", ".join(f"{k} {v:,}" for k, v in fig.calls.most_common(top)))
    lines.append(f"\nnames ({len(fig.names)} distinct), top {top}: " + ", ".join(f"{k} {v:,}" for k, v in fig.names.most_common(top)))
    lines.append(f"\nstatements per program: {quantiles(fig.statements)}")
    lines.append(f"argument leaves per program: {quantiles(fig.leaves)}")
    lines.append(f"elements per argument leaf: {quantiles(fig.elements)}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--build-dir", type=Path, help="a directory written by `build --output-dir`")
    parser.add_argument("--split", help="one split of the build (default: all)")
    parser.add_argument("--config", default="balanced", help="draw programs of this config's category mix (no lowering)")
    parser.add_argument("--rows", type=int, default=3000)
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--top", type=int, default=25)
    parser.add_argument("--ruff", action="store_true", help="also run ruff --select F over the sources")
    args = parser.parse_args(argv)
    sources = list(built(args.build_dir, args.split) if args.build_dir else drawn(args.config, args.rows, args.seed))
    fig = Figures()
    for src in sources:
        analyse(src, fig)
    what = f"build {args.build_dir}" if args.build_dir else f"{args.rows:,} programs drawn for config {args.config!r}, seed {args.seed}"
    print(f"# realism of {what}\n")
    print(report(fig, ruff_findings(sources) if args.ruff else None, args.top))
    return 0


if __name__ == "__main__":
    sys.exit(main())
