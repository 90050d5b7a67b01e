"""Difficulty tiers by IR length: what `evaluate` reports by and `bench` is spread over (`strata`)."""

from __future__ import annotations

# Difficulty tiers by the length of the row's forward StableHLO in lines, fixed here so that
# scores are comparable between submissions: round figures near the quartiles of `balanced`
# (125 / 272 / 502 lines over 250 rows, jax 0.10.2).
TIERS = ((100, "1: <=100 lines"), (250, "2: 101-250 lines"), (500, "3: 251-500 lines"), (None, "4: >500 lines"))
TIER_NAMES = tuple(name for _, name in TIERS)


def ir_lines(stablehlo: str) -> int:
    return stablehlo.count("\n") + 1


def tier_of(stablehlo: str) -> str:
    """The tier of a program by the lines of its forward StableHLO."""
    lines = ir_lines(stablehlo)
    return next(name for bound, name in TIERS if bound is None or lines <= bound)
