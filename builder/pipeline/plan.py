"""The global plan of a build: which seed every (split, index) gets, drawn before any lowering.

Drawing and rendering a program costs ~2 ms; lowering it costs tens. So the one step that
must see every row runs here, before the parallel map: the plan walks the splits in order
(train, validation, test) and, for each index, draws seeds until one gives a program nobody
drew before. "Before" means its Python, with every name renumbered (so a renamed copy is
the same program), differs from every earlier row of every split. In `structural` split
mode a validation or test program is also rejected when its *program structure* (the op
sequence and the specs, attributes and names dropped) occurs in train.

The plan depends on the config alone, so every work unit of every process gets the same
one, whatever `num_proc`. What only the lowered IR can tell (two different programs that
lower to the same canonical StableHLO) is settled by `dedup` after the map.
"""

from __future__ import annotations

import ast
import builtins
import hashlib
import json
from collections import Counter
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from functools import lru_cache

from ..config import SPLITS, ConfigError, PairsConfig, resolve
from ..synth.generator import SizeLimits, generate
from ..synth.program import Program
from .budget import python_over_budget
from .failures import BUDGET, Failure
from .seeds import category_plan, example_seed, limits_of

MAX_PLAN_ATTEMPTS = 64
DUPLICATE_PYTHON = "same python as an earlier row"
RENAMED_PYTHON = "an earlier row renamed"
SEEN_STRUCTURE = "program structure seen in train"
HELD_OUT_STRUCTURE = "program structure in a held-out-from config's train split"
_KEPT_NAMES = frozenset(dir(builtins))


@dataclass
class Plan:
    """The seed of every row, and what the plan rejected on the way, per split."""

    seeds: dict[str, tuple[int, ...]]
    dropped: dict[str, Counter[str]] = field(default_factory=dict)
    failures: list[Failure] = field(default_factory=list)  # programs that failed to draw (generator bugs)

    def seed(self, split: str, index: int) -> int:
        return self.seeds[split][index]

    def shard(self, split: str, start: int, stop: int) -> ShardPlan:
        """What the work unit `split[start:stop]` needs of the plan (the plan must reach `stop`)."""
        failures = tuple(f for f in self.failures if f.split == split and start <= f.index < stop)
        return ShardPlan(self.seeds[split][start:stop], failures)

    def to_json(self) -> str:
        """The plan as JSON, so a resumed build need not draw it again (`from_json` reads it back)."""
        dropped = {s: dict(c) for s, c in self.dropped.items()}
        return json.dumps({"seeds": {s: list(v) for s, v in self.seeds.items()}, "dropped": dropped, "failures": [asdict(f) for f in self.failures]})

    @classmethod
    def from_json(cls, text: str) -> Plan:
        data = json.loads(text)
        return cls(
            seeds={s: tuple(v) for s, v in data["seeds"].items()},
            dropped={s: Counter(c) for s, c in data["dropped"].items()},
            failures=[Failure(**f) for f in data["failures"]],
        )


class _Renamer(ast.NodeTransformer):
    """Renumber every name a program chose (functions, parameters, variables, pytree keys) in order of first use."""

    def __init__(self, imported: set[str]) -> None:
        self.kept = _KEPT_NAMES | imported
        self.names: dict[str, str] = {}
        self.keys: dict[str, str] = {}

    def _name(self, name: str) -> str:
        return name if name in self.kept else self.names.setdefault(name, f"n{len(self.names)}")

    def _key(self, node: ast.expr) -> ast.expr:
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and node.value.isidentifier():
            return ast.Constant(self.keys.setdefault(node.value, f"k{len(self.keys)}"))
        return self.visit(node)

    def visit_Name(self, node: ast.Name) -> ast.Name:
        return ast.Name(self._name(node.id), node.ctx)

    def visit_arg(self, node: ast.arg) -> ast.arg:
        return ast.arg(self._name(node.arg))

    def visit_FunctionDef(self, node: ast.FunctionDef) -> ast.FunctionDef:
        node.name = self._name(node.name)
        return self.generic_visit(node)

    def visit_Dict(self, node: ast.Dict) -> ast.Dict:
        keys = [self._key(k) if k is not None else None for k in node.keys]
        return ast.Dict(keys, [self.visit(v) for v in node.values])

    def visit_Subscript(self, node: ast.Subscript) -> ast.Subscript:
        return ast.Subscript(self.visit(node.value), self._key(node.slice), node.ctx)


def python_key(source: str) -> str:
    """A hash of `source` with every chosen name renumbered: equal for copies that differ only in names."""
    tree = ast.parse(source)
    imported = {
        (alias.asname or alias.name).split(".")[0]
        for node in tree.body
        if isinstance(node, (ast.Import, ast.ImportFrom))
        for alias in node.names
    }
    normal = _Renamer(imported).visit(tree)
    return hashlib.blake2b(ast.dump(normal).encode(), digest_size=16).hexdigest()


def program_structure_key(program: Program) -> str:
    """The op sequence and specs of a program, names, constants and attributes dropped."""
    parts = [tuple(str(leaf.spec) for leaf in program.leaves)]
    parts += [(n.op.name, tuple(str(v.spec) for v in n.inputs), tuple(str(v.spec) for v in n.outputs)) for n in program.nodes]
    return hashlib.blake2b(repr(parts).encode(), digest_size=16).hexdigest()


@dataclass(frozen=True)
class Candidate:
    """What the plan must know of one drawn program: pure in (config, split, index, attempt), so
    any process can draw it (`draw_candidate`); only the walk that compares it with every earlier
    row (`_Planner`) is serial."""

    seed: int
    exact: str = ""  # hash of the Python as rendered
    key: str = ""  # `python_key`: the same for a renamed copy
    structure: str = ""  # `program_structure_key`, when the config needs it
    over_budget: str = ""  # why the Python is over the length budget
    error: str = ""  # the generator failed (a bug)


def needs_structure(config: PairsConfig) -> bool:
    return config.split_mode == "structural" or bool(config.held_out_from)


def draw_candidate(config: PairsConfig, limits: SizeLimits, split: str, index: int, attempt: int, category: str) -> Candidate:
    seed = example_seed(config.seed, split, index, attempt)
    try:
        program = generate(category, seed, limits)
        source = program.render()
    except Exception as err:  # a generator bug: reported with the build's failures
        return Candidate(seed, error=f"{type(err).__name__}: {err}"[:2000])
    over = python_over_budget(config, source)
    if over:
        return Candidate(seed, over_budget=over)
    exact = hashlib.blake2b(source.encode(), digest_size=16).hexdigest()
    structure = program_structure_key(program) if needs_structure(config) else ""
    return Candidate(seed, exact, python_key(source), structure)


def first_candidates(config: PairsConfig, split: str, start: int, stop: int) -> list[Candidate]:
    """Attempt 0 of every index of `split[start:stop]`: the parallel part of the plan (a Ray task's
    work in `build --engine ray`); `plan_from` walks them in order."""
    categories, limits = category_plan(config, split), limits_of(config)
    return [draw_candidate(config, limits, split, i, 0, categories[i]) for i in range(start, stop)]


class _Planner:
    """The plan of one config, drawn in global order (train, validation, test; by index) only as far
    as anyone has asked: a streaming reader of the first train rows draws only those. `first`, when
    given, supplies each index's attempt 0 drawn elsewhere; the rest are drawn here."""

    def __init__(self, config: PairsConfig, first: Callable[[str, int], Candidate] | None = None) -> None:
        self.config = config
        self.first = first
        self.limits = limits_of(config)
        self.structural = config.split_mode == "structural"
        self.seen: set[str] = set()
        self.seen_exact: set[str] = set()
        self.train_structures: set[str] = set()
        self.excluded = frozenset().union(*(train_structures(name) for name in config.held_out_from))
        self.plan = Plan(seeds={s: () for s in SPLITS}, dropped={s: Counter() for s in SPLITS})
        self._seeds: dict[str, list[int]] = {s: [] for s in SPLITS}

    def extend(self, split: str, stop: int) -> None:
        """Draw every row before `split[stop]` (all earlier splits whole)."""
        for s in SPLITS[: SPLITS.index(split) + 1]:
            categories = category_plan(self.config, s)
            end = stop if s == split else len(categories)
            for index in range(len(self._seeds[s]), end):
                self._seeds[s].append(self._draw(s, index, categories[index]))
            self.plan.seeds[s] = tuple(self._seeds[s])

    def _draw(self, split: str, index: int, category: str) -> int:
        dropped = self.plan.dropped[split]
        over_budget = 0
        for attempt in range(MAX_PLAN_ATTEMPTS):
            if attempt == 0 and self.first is not None:
                c = self.first(split, index)
            else:
                c = draw_candidate(self.config, self.limits, split, index, attempt, category)
            if c.error:
                self.plan.failures.append(Failure(split, index, category, c.seed, c.error))
                continue
            if c.over_budget:  # redrawn before any lowering, and counted with the build's replaced draws
                self.plan.failures.append(Failure(split, index, category, c.seed, c.over_budget, BUDGET))
                over_budget += 1
                continue
            if c.exact in self.seen_exact or c.key in self.seen:
                dropped[DUPLICATE_PYTHON if c.exact in self.seen_exact else RENAMED_PYTHON] += 1
                continue
            if c.structure in self.excluded:
                dropped[HELD_OUT_STRUCTURE] += 1
                continue
            if self.structural:
                if split != "train" and c.structure in self.train_structures:
                    dropped[SEEN_STRUCTURE] += 1
                    continue
                if split == "train":
                    self.train_structures.add(c.structure)
            self.seen.add(c.key)
            self.seen_exact.add(c.exact)
            return c.seed
        if over_budget > MAX_PLAN_ATTEMPTS // 2:
            raise ConfigError(
                f"{split}[{index}]: {over_budget} of {MAX_PLAN_ATTEMPTS} programs of category {category!r} were over "
                f"max_python_chars={self.config.max_python_chars:,}: raise it, or leave {category!r} out of categories"
            )
        # options that conflict: more rows than the size limits allow distinct programs
        raise ConfigError(
            f"{split}[{index}] ({category}): no new program in {MAX_PLAN_ATTEMPTS} draws; "
            "the size limits leave too few distinct programs: raise max_statements or shrink the split"
        )


@lru_cache(maxsize=8)
def train_structures(name: str) -> frozenset[str]:
    """The program structures of the named config's train split: its plan drawn and each program
    drawn again for its structure (no lowering; ~4 ms a row)."""
    config = resolve(name)
    seeds = plan_prefix(config, "train", config.train_size).seeds["train"]
    limits = limits_of(config)
    return frozenset(program_structure_key(generate(c, s, limits)) for c, s in zip(category_plan(config, "train"), seeds, strict=True))


@lru_cache(maxsize=8)
def _planner(config: PairsConfig) -> _Planner:
    return _Planner(config)


def plan_prefix(config: PairsConfig, split: str, stop: int) -> Plan:
    """The plan drawn at least up to `split[stop]` (what a reader of rows before it needs)."""
    planner = _planner(config)
    planner.extend(split, stop)
    return planner.plan


def build_plan(config: PairsConfig) -> Plan:
    """Draw every split's programs in order and keep, for each index, the first seed whose program is new."""
    return plan_prefix(config, SPLITS[-1], config.split_size(SPLITS[-1]))


def plan_from(config: PairsConfig, first: Callable[[str, int], Candidate]) -> Plan:
    """`build_plan`, with each index's attempt 0 drawn elsewhere (`first_candidates`, in parallel):
    the same plan, since a candidate is pure and the walk over them is the same."""
    planner = _Planner(config, first)
    planner.extend(SPLITS[-1], config.split_size(SPLITS[-1]))
    return planner.plan


@dataclass(frozen=True)
class ShardPlan:
    """What the global plan (`plan.build_plan`) hands one work unit: a seed per index, and the
    programs that failed to draw on the way to them (reported with this unit's failures)."""

    seeds: tuple[int, ...]
    failures: tuple[Failure, ...] = ()


def shard_plan(config: PairsConfig, split: str, start: int, stop: int) -> ShardPlan:
    return plan_prefix(config, split, stop).shard(split, start, stop)
