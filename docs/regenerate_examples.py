"""Regenerate the example rows in docs/configs.md from their seeds, after a change to how programs render.

Each `<details>` block names a category and a seed; this redraws that program with the config's size
limits, lowers it, and rewrites the block's source, arguments, StableHLO line count and op list
when the seed no longer draws the program the block shows.
The seeds stay: they are the rows a build of the config makes.

    python docs/regenerate_examples.py
"""

from __future__ import annotations

import re
from pathlib import Path

from builder.config import load_all
from builder.lowering.extractor import counted_ops, extract
from builder.pipeline.rows import limits_of
from builder.pipeline.stats import ir_line_count
from builder.synth.generator import generate

DOC = Path(__file__).with_name("configs.md")
BLOCK = re.compile(r"(<details><summary><code>(\w+)</code>: seed (\d+) \(([^)]*)\)), .*?</summary>\n\n```python\n.*?\n```\n\nargs: .*?\n\nops \(.*?\n", re.S)


def block(match: re.Match) -> str:
    """The block redrawn from its seed; left as it is while its seed still draws the program shown,
    so hand-summarised blocks (the framework-style categories' argument lists) stay."""
    head, category, seed = match.group(1), match.group(2), int(match.group(3))
    config = load_all()[category]
    program = generate(category, seed, limits_of(config))
    source = program.render()
    body = "\n".join(line for line in source.splitlines() if not line.startswith(("import ", "from "))).strip("\n")
    if f"```python\n{body}\n```" in match.group(0):
        return match.group(0)
    gradient = config.gradient and program.differentiable
    ir = extract(source, program.entry_point, [v.spec for v in program.leaves], program.args_tree(), gradient)
    args = ", ".join(f"`{leaf.name}: {leaf.spec.dtype}[{','.join(map(str, leaf.spec.shape))}]`" for leaf in program.leaves)
    ops = ", ".join(f"`{op}`" for op in sorted(op.removeprefix("stablehlo.") for op in counted_ops(ir.ops)))
    grad = ", gradient IR too" if ir.stablehlo_grad else ""
    return (f"{head}, {ir_line_count(ir.stablehlo)} lines of StableHLO{grad}</summary>\n\n```python\n{body}\n```\n\n"
            f"args: {args}\n\nops (`stablehlo.` omitted): {ops}\n")


def main() -> None:
    text = DOC.read_text()
    new, count = BLOCK.subn(block, text)
    DOC.write_text(new)
    print(f"regenerated {count} examples in {DOC}")


if __name__ == "__main__":
    main()
