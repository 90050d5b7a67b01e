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
import ast
import json
import math
import re
import subprocess
import sys
import tempfile
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

NUMBERED = re.compile(r"^(?:h|[A-Za-z_]*[A-Za-z]\d+)$")  # h, h2, v3, branch7, state3
ONE_LETTER = re.compile(r"^[A-Za-z]$")  # q, k, v in attention and i, j in loops are idiom; others are a tell
SINK = re.compile(r"^\s*\w+ = jnp\.mean\(.*\) \+ jnp\.mean\(", re.M)
CONSTANT = re.compile(r"^\s*\w+ = jnp\.linspace\(|jnp\.arange\(\d+\) %", re.M)  # a linspace bound as a value; iota mod k
ABS_GUARD = re.compile(r"(?:log|log1p|log2|sqrt|rsqrt)\(jnp\.abs\(")
SMALL = 1e-5  # a literal this small is an epsilon: fine inside a norm, a tell as an operand
KEY_SOURCES = ("jax.random.PRNGKey", "jax.random.key")
TELLS = (
    ("numbered", "numbered names (h, h2, v3, branch7)"),
    ("one_letter", "one-letter names other than i, j, k, q, v (u, z, s, ...)"),
    ("sink", "a sum-of-means sink (aux = jnp.mean(..) + jnp.mean(..))"),
    ("constant", "linspace / arange % k constants as weights"),
    ("abs_guard", "abs guards (jnp.log(jnp.abs(x) + 1e-6), jnp.sqrt(jnp.abs(x)))"),
    ("eps_operand", "an epsilon (<= 1e-5) as an ordinary operand (y / 1e-6, 1e-6 - h)"),
    ("unused_import", "an unused import"),
    ("dead", "a dead statement (assigned, never read)"),
    ("key_reuse", "a PRNG key used twice"),
    ("literal_key", "a PRNG key seeded from a literal"),
)


@dataclass
class Source:
    """What the analysis needs of a row: its Python and its argument leaves."""

    python: str
    args: list[dict]


@dataclass
class Figures:
    rows: int = 0
    tells: Counter = field(default_factory=Counter)
    calls: Counter = field(default_factory=Counter)
    names: Counter = field(default_factory=Counter)
    assigned: int = 0
    numbered_names: int = 0
    statements: list[int] = field(default_factory=list)
    leaves: list[int] = field(default_factory=list)
    elements: list[int] = field(default_factory=list)


def dotted(node: ast.AST) -> str | None:
    """`jax.random.split` for an attribute chain on a name, else None."""
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name):
        return ".".join([node.id, *reversed(parts)])
    return None


def stored(target: ast.AST) -> list[str]:
    if isinstance(target, ast.Name):
        return [target.id]
    if isinstance(target, (ast.Tuple, ast.List)):
        return [n for t in target.elts for n in stored(t)]
    if isinstance(target, ast.Starred):
        return stored(target.value)
    return []


def loads(node: ast.AST) -> set[str]:
    return {n.id for n in ast.walk(node) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)}


def dead_statements(body: list[ast.stmt]) -> int:
    """Assignments in `body` none of whose names is read before it is bound again (or at all)."""
    dead = 0
    for i, stmt in enumerate(body):
        if not isinstance(stmt, ast.Assign):
            continue
        names = {n for t in stmt.targets for n in stored(t) if not n.startswith("_")}
        if names and not any(_read_later(n, body[i + 1:]) for n in names):
            dead += 1
    for stmt in body:  # nested functions and loop bodies: the same rule inside
        for child in ast.iter_child_nodes(stmt):
            if isinstance(child, ast.FunctionDef):
                dead += dead_statements(child.body)
        if isinstance(stmt, ast.FunctionDef):
            dead += dead_statements(stmt.body)
    return dead


def _read_later(name: str, rest: list[ast.stmt]) -> bool:
    for stmt in rest:
        if name in loads(stmt):
            return True
        if isinstance(stmt, ast.Assign) and name in {n for t in stmt.targets for n in stored(t)}:
            return False  # rebound without being read: the earlier value is dead
    return False


def unused_imports(tree: ast.Module) -> int:
    bound = {}
    for node in tree.body:
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            for alias in node.names:
                bound[alias.asname or alias.name.split(".")[0]] = node
    used = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name)}
    return sum(1 for name in bound if name not in used)


def eps_operands(tree: ast.Module) -> int:
    """Small literals in arithmetic other than `+ eps` inside a call (a norm's, a log's guard)."""
    parents = {child: node for node in ast.walk(tree) for child in ast.iter_child_nodes(node)}
    count = 0
    for node in ast.walk(tree):
        if not isinstance(node, ast.BinOp):
            continue
        small = [s for s in (node.left, node.right) if isinstance(s, ast.Constant) and isinstance(s.value, float) and 0 < abs(s.value) <= SMALL]
        if not small:
            continue
        inside_call = isinstance(parents.get(node), ast.Call) or (isinstance(parents.get(node), ast.BinOp) and isinstance(parents[node].op, ast.Div))
        if not (isinstance(node.op, ast.Add) and inside_call):
            count += 1
    return count


def key_figures(tree: ast.Module) -> tuple[bool, bool]:
    """(a key binding passed to two jax.random calls, a key made from a literal seed)."""
    reuse = literal = False
    for fn in [n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef)]:
        uses: Counter = Counter()
        for stmt in fn.body:
            for call in [n for n in ast.walk(stmt) if isinstance(n, ast.Call)]:
                name = dotted(call.func) or ""
                if name in KEY_SOURCES and call.args and isinstance(call.args[0], ast.Constant):
                    literal = True
                elif name.startswith("jax.random.") and call.args and isinstance(call.args[0], ast.Name):
                    uses[call.args[0].id] += 1
            if isinstance(stmt, ast.Assign):
                for n in (n for t in stmt.targets for n in stored(t)):
                    if uses[n] > 1:
                        reuse = True
                    uses[n] = 0  # rebound: a fresh key
        reuse = reuse or any(c > 1 for c in uses.values())
    return reuse, literal


def analyse(src: Source, fig: Figures) -> None:
    tree = ast.parse(src.python)
    text = src.python
    entry = [n for n in tree.body if isinstance(n, ast.FunctionDef)][-1]  # the entry point comes after any helper
    argnames = {a.arg for a in entry.args.args}
    names = [n for node in ast.walk(entry) if isinstance(node, ast.Assign) for t in node.targets for n in stored(t)]
    names = [n for n in names if n != "_" and n not in argnames]
    numbered = [n for n in names if NUMBERED.match(n)]
    reuse, literal = key_figures(tree)
    tells = {
        "numbered": bool(numbered),
        "one_letter": any(ONE_LETTER.match(n) and n not in "ijkqv" for n in names),
        "sink": bool(SINK.search(text)),
        "constant": bool(CONSTANT.search(text)),
        "abs_guard": bool(ABS_GUARD.search(text)),
        "eps_operand": eps_operands(tree) > 0,
        "unused_import": unused_imports(tree) > 0,
        "dead": dead_statements(entry.body) > 0,
        "key_reuse": reuse,
        "literal_key": literal,
    }
    fig.rows += 1
    fig.tells.update(k for k, v in tells.items() if v)
    fig.calls.update(d for n in ast.walk(entry) if isinstance(n, ast.Call) and (d := dotted(n.func)))
    fig.names.update(names)
    fig.assigned += len(names)
    fig.numbered_names += len(numbered)
    fig.statements.append(sum(1 for n in ast.walk(entry) if isinstance(n, ast.stmt)) - 1)
    fig.leaves.append(len(src.args))
    fig.elements.extend(math.prod(a["shape"]) for a in src.args)


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
