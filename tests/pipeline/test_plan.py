"""The global plan: no row repeats another's Python (renamed or not), in any split; deterministic."""

from __future__ import annotations

from dataclasses import replace

import pytest

from builder.config import SPLITS, PairsConfig
from builder.pipeline import plan as plan_module
from builder.pipeline.failures import Failure
from builder.pipeline.plan import (
    HELD_OUT_STRUCTURE,
    RENAMED_PYTHON,
    SEEN_STRUCTURE,
    Candidate,
    Plan,
    build_plan,
    first_candidates,
    plan_from,
    program_structure_key,
    python_key,
    shard_plan,
)
from builder.pipeline.seeds import limits_of
from builder.synth.generator import generate

# Programs of one or two elementwise statements: a small space, so repeats are common.
TINY = PairsConfig(
    name="tiny", seed=1, train_size=60, validation_size=20, test_size=20,
    categories=(("elementwise", 1.0),), min_statements=1, max_statements=2,
)  # fmt: skip


def programs(config: PairsConfig):
    plan = build_plan(config)
    from builder.pipeline.seeds import category_plan

    for split, seeds in plan.seeds.items():
        for category, seed in zip(category_plan(config, split), seeds, strict=True):
            yield split, generate(category, seed, limits_of(config))


def test_python_key_ignores_names_but_not_constants():
    a = "import jax\ndef f(x, params):\n    h = x * 2.0 + params['w']\n    return {'h': h}\n"
    b = "import jax\ndef forward(y, p):\n    out = y * 2.0 + p['b']\n    return {'out': out}\n"
    c = "import jax\ndef f(x, params):\n    h = x * 3.0 + params['w']\n    return {'h': h}\n"
    assert python_key(a) == python_key(b)
    assert python_key(a) != python_key(c)


def test_no_two_rows_share_python_or_a_renamed_copy():
    drawn = list(programs(TINY))
    assert len(drawn) == 100
    keys = [python_key(p.render()) for _, p in drawn]
    assert len(set(keys)) == len(keys)
    plan = build_plan(TINY)
    assert sum(plan.dropped["train"].values()) > 0 and plan.dropped["train"][RENAMED_PYTHON] > 0
    assert plan.failures == []


def test_the_plan_is_a_function_of_the_config():
    copy = replace(TINY, name="copy")  # an equal config built anew: no shared cache entry
    assert build_plan(copy).seeds == build_plan(TINY).seeds
    assert build_plan(replace(TINY, seed=2)).seeds != build_plan(TINY).seeds


def test_structural_mode_keeps_train_structures_out_of_validation_and_test():
    # One-statement conditionals: few structures, so held-out draws often repeat a train one.
    config = replace(TINY, categories=(("conditional", 1.0),), max_statements=1, train_size=100, test_size=30, split_mode="structural")
    train = {program_structure_key(p) for s, p in programs(config) if s == "train"}
    held_out = [program_structure_key(p) for s, p in programs(config) if s != "train"]
    assert len(held_out) == 50 and not train & set(held_out)
    dropped = build_plan(config).dropped
    assert dropped["validation"][SEEN_STRUCTURE] + dropped["test"][SEEN_STRUCTURE] > 0


def test_a_plan_read_back_from_json_hands_every_unit_the_same_slice():
    plan = build_plan(TINY)
    plan.failures.append(Failure("validation", 3, "elementwise", 9, "ValueError: a drawn program failed"))  # as a generator bug would
    again = Plan.from_json(plan.to_json())
    assert again == plan
    assert again.shard("validation", 2, 5) == plan.shard("validation", 2, 5)
    assert again.shard("validation", 2, 5).failures == (plan.failures[-1],)
    assert again.shard("train", 10, 20) == shard_plan(TINY, "train", 10, 20)


def test_held_out_from_keeps_another_configs_train_structures_out_of_every_split(monkeypatch):
    # bench's mechanism on a small space: one-statement conditionals, so collisions are common.
    training = replace(TINY, name="training", categories=(("conditional", 1.0),), max_statements=1, train_size=100, validation_size=0, test_size=0)
    monkeypatch.setattr(plan_module, "resolve", lambda name: {"training": training}[name])
    plan_module.train_structures.cache_clear()
    bench = replace(training, name="bench", seed=9, train_size=0, test_size=30, held_out_from=("training",))
    seen = {program_structure_key(p) for _, p in programs(training)}
    held_out = [program_structure_key(p) for _, p in programs(bench)]
    assert len(held_out) == 30 and not seen & set(held_out)
    assert build_plan(bench).dropped["test"][HELD_OUT_STRUCTURE] > 0
    plan_module.train_structures.cache_clear()


def test_held_out_from_must_name_another_config():
    from builder.config import ConfigError, check, known_categories

    values = {"name": "bench", "test_size": 3, "categories": {"arithmetic": 1.0}}
    assert check({**values, "held_out_from": ["balanced"]}, known_categories()).held_out_from == ("balanced",)
    for wrong, message in ((["balanced_x"], "did you mean 'balanced'"), (["bench"], "the config itself"), (3, "list of config names")):
        with pytest.raises(ConfigError, match=message):
            check({**values, "held_out_from": wrong}, known_categories())


@pytest.mark.parametrize("mode", ["random", "structural"])
def test_a_plan_from_candidates_drawn_elsewhere_is_the_same_plan(mode):
    # What `build --engine ray` does: attempt 0 of every index drawn in tasks, the walk on the driver.
    # TINY repeats programs (few statements), so the walk must redraw some indices itself.
    config = replace(TINY, split_mode=mode)
    first = {s: first_candidates(config, s, 0, config.split_size(s)) for s in SPLITS if config.split_size(s)}
    asked: list[tuple[str, int]] = []

    def lookup(split: str, index: int) -> Candidate:
        asked.append((split, index))
        return first[split][index]

    plan = plan_from(config, lookup)
    plan_module._planner.cache_clear()  # the serial plan drawn afresh (another test leaves a failure in the memo)
    assert plan.to_json() == build_plan(config).to_json()
    assert asked == [(s, i) for s in SPLITS for i in range(config.split_size(s))]  # each once, in order
    assert sum(plan.dropped[s].total() for s in SPLITS) > 0  # some indices needed more than attempt 0
