"""The generator's tells in a row's Python (issue 16): numbered placeholder names, sinks that keep
values alive, weights built from `linspace` / `arange % k`, `abs` guards, epsilons as ordinary
operands, unused imports, dead statements, PRNG key reuse. Pure `ast`, so the card reports them for
every published build (`stats.collect`) and `benchmarks/realism.py` for any build or draw."""

from __future__ import annotations

import ast
import math
import re
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

# h, h2, v3, branch7, state3; not an L1 / L2 norm's name (weight_l2, grad_l1), where the digit is no number
NUMBERED = re.compile(r"^(?:h|(?![A-Za-z_]*_l[12]$)[A-Za-z_]*[A-Za-z]\d+)$")
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
    """The tells over many rows: rows showing each, calls, names, and size distributions."""

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


def summary(fig: Figures, top: int = 12) -> dict[str, Any]:
    """What a card keeps of the figures: rows, rows per tell, numbered names of all assigned, top calls."""
    return {
        "rows": fig.rows,
        "tells": {key: fig.tells[key] for key, _ in TELLS},
        "numbered_names": fig.numbered_names,
        "assigned_names": fig.assigned,
        "top_calls": [[name, n] for name, n in fig.calls.most_common(top)],
    }
