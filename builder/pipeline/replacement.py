"""A new row for an index after the map: the first of a sequence of seeds whose program repeats no row
kept so far. The dedup pass (a repeat's replacement) and the tier stage (a row over its tier's quota)
both draw rows this way, under the same rules as the plan and the map."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from ..config import SPLITS, PairsConfig
from ..synth.generator import generate
from ..synth.program import Program
from .failures import Failure
from .plan import program_structure_key, python_key, train_structures
from .rows import make_row, rejection
from .seeds import limits_of


@dataclass
class Kept:
    """What the rows kept so far hold, so a new row can be checked against all of them."""

    pythons: set[str] = field(default_factory=set)  # `python_key`s: a renamed copy is a repeat
    irs: set[str] = field(default_factory=set)
    structures: dict[str, set[str]] = field(default_factory=lambda: {s: set() for s in SPLITS})

    def add(self, split: str, python: str, canonical: str, structure: str, key: str | None = None) -> None:
        """`key`: the row's `python_key` when it is known (computed in parallel), else computed here."""
        self.pythons.add(key if key is not None else python_key(python))
        self.irs.add(canonical)
        self.structures[split].add(structure)

    def crosses(self, split: str, structure: str) -> bool:
        """Whether an IR structure of `split` is held by a row on the other side of the train line."""
        return any(structure in self.structures[s] for s in SPLITS if (s == "train") != (split == "train"))


# Each split's `python_key`s in row order, computed where the rows are (Ray tasks): parsing every
# kept row's Python on the driver would cost 3 ms a row, serial, in every build with a repeat.
PythonKeys = Mapping[str, Sequence[str]]


@dataclass(frozen=True)
class Attempt:
    """One replacement seed drawn and lowered without looking at the kept rows (in a Ray task, beside
    the other repeats'), so that `first_new_row` decides from it as it would from drawing it there."""

    seed: int
    key: str | None = None  # the program's `python_key`; None when it did not draw
    excluded: bool = False  # its structure is held out (`excluded_structures`)
    row: dict[str, Any] | None = None  # None when it did not draw or lower
    error: str | None = None  # why it did not draw or lower: a generator bug (`Failure`)


def draw_attempt(config: PairsConfig, split: str, index: int, category: str, seed: int) -> Attempt:
    """`seed`'s program for the replacement of `split[index]`, drawn, keyed and lowered: the work of one
    turn of `first_new_row`'s loop that does not depend on the kept rows."""
    try:
        program = generate(category, seed, limits_of(config))
        key = python_key(program.render())
        excluded = excluded_structures(config)
        held_out = bool(excluded) and program_structure_key(program) in excluded
    except Exception as err:
        return Attempt(seed, error=f"{type(err).__name__}: {err}"[:2000])
    try:
        return Attempt(seed, key, held_out, row=make_row(config, split, index, category, seed))
    except Exception as err:
        return Attempt(seed, key, held_out, error=f"{type(err).__name__}: {err}"[:2000])


@lru_cache(maxsize=8)
def excluded_structures(config: PairsConfig) -> frozenset[str]:
    """The program structures of the held-out-from configs' train splits (what the plan rejects too)."""
    return frozenset().union(*(train_structures(name) for name in config.held_out_from))


def first_new_row(
    config: PairsConfig,
    split: str,
    index: int,
    category: str,
    seeds: Iterable[int],
    kept: Kept,
    failures: list[Failure] | None = None,
    probe: Callable[[Program, str], bool] | None = None,
    drawn: Sequence[Attempt] = (),
) -> dict[str, Any] | None:
    """The row of the first seed whose program repeats no kept Python or IR, takes no held-out structure,
    crosses the train line with no structure in `structural` mode, fits the budget and passes `probe`
    (a cheaper test run before the row is lowered whole); None when no seed does. A program that fails
    to draw or lower is a generator bug: it goes to `failures`, and the next seed is tried.
    `drawn`: the first seeds' `Attempt`s, computed elsewhere (without `probe`), decided on the same way."""
    excluded = excluded_structures(config)
    structural = config.split_mode == "structural"
    limits = limits_of(config)
    seeds = iter(seeds)

    def fits(row: dict[str, Any]) -> bool:
        return not (rejection(config, row) or row["canonical_hash"] in kept.irs or (structural and kept.crosses(split, row["structure_hash"])))

    if drawn and probe is not None:
        raise ValueError("attempts drawn elsewhere are not probed: pass one or the other")
    for attempt in drawn:
        seed = next(seeds)
        if attempt.seed != seed:
            raise ValueError(f"{split}-{index}: attempt for seed {attempt.seed} where seed {seed} comes next")
        if attempt.key is not None and (attempt.key in kept.pythons or attempt.excluded):
            continue  # a repeat, skipped before it is lowered: a lowering error of it is no finding
        if attempt.row is None:
            if failures is not None:
                failures.append(Failure(split, index, category, seed, attempt.error or "no row"))
            continue
        if fits(attempt.row):
            return attempt.row
    for seed in seeds:
        try:
            program = generate(category, seed, limits)
            source = program.render()
            if python_key(source) in kept.pythons or (excluded and program_structure_key(program) in excluded):
                continue
            if probe is not None and not probe(program, source):
                continue
            row = make_row(config, split, index, category, seed)
        except Exception as err:  # a generator bug, as in the map
            if failures is not None:
                failures.append(Failure(split, index, category, seed, f"{type(err).__name__}: {err}"[:2000]))
            continue
        if fits(row):
            return row
    return None
