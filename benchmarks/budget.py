"""Print how many characters a statement of each category costs, in StableHLO (forward or gradient,
whichever is longer) and in Python: the table `builder/pipeline/budget.py` shapes programs by.

A length budget (`max_ir_chars`, `max_python_chars`) caps each category's statements at what the
budget affords by this table; a draw still over budget is redrawn. When the generator changes, run
this and paste the table into budget.py (a stale table costs redraws, never a wrong row).

    python benchmarks/budget.py [--rows 12] [--seed 7] [CATEGORY ...]
"""

from __future__ import annotations

import argparse
import os
import statistics

from builder.config import resolve
from builder.pipeline.rows import make_row
from builder.pipeline.seeds import example_seed
from builder.synth.generator import SizeLimits, generate
from builder.synth.ops import CATEGORIES
from builder.synth.program import Program, Tag


def statement_count(program: Program) -> int:
    """Statements as the generator counts them toward max_statements (a block by the lines it renders)."""
    return sum(len(node.render()) if Tag.BLOCK in node.op.tags else 1 for node in program.nodes)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("categories", nargs="*", default=list(CATEGORIES))
    parser.add_argument("--rows", type=int, default=12, help="programs lowered per category")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    config = resolve("balanced", {"max_ir_chars": 0, "max_python_chars": 0})
    limits = SizeLimits(config.min_statements, config.max_statements, config.max_args)
    print(f"load average: {os.getloadavg()[0]:.2f} (figures are lengths, not times)")
    print("IR_CHARS_PER_STATEMENT / PYTHON_CHARS_PER_STATEMENT (upper quartile over the rows):")
    for category in args.categories:
        ir, py = [], []
        for i in range(args.rows):
            seed = example_seed(args.seed, "train", i)
            statements = max(statement_count(generate(category, seed, limits)), 1)
            row = make_row(config, "train", i, category, seed)
            ir.append(max(len(row["stablehlo"]), len(row["stablehlo_grad"] or "")) / statements)
            py.append(len(row["python"]) / statements)
        q = lambda xs: round(statistics.quantiles(xs, n=4)[2])  # noqa: E731
        print(f'    "{category}": ({q(ir)}, {q(py)}),', flush=True)


if __name__ == "__main__":
    main()
