"""Named configs: `configs/*.yaml` -> checked `PairsConfig`s.

One vocabulary everywhere: the keys of a YAML file, the kwargs of `load_dataset`
and the flags of the CLI are the same names, checked by the same code, so a bad
value gets the same clear message whichever way it came in.
"""

from __future__ import annotations

import difflib
import math
import numbers
import operator
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

import yaml

SPLITS = ("train", "validation", "test")
SPLIT_MODES = ("random", "structural")
MAX_SPLIT_SIZE = 10_000_000
MAX_SEED = 2**63 - 1
MAX_STATEMENTS = 200
MAX_ARGS = 5
# The shortest budgets a program can meet: a one-statement module prints about this much.
MIN_IR_CHARS = 1_000
MIN_PYTHON_CHARS = 200
CONFIG_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*")
SUFFIXES = (".yaml", ".yml")


class ConfigError(ValueError):
    """A config value is wrong; the message names it and says how to fix it."""


@dataclass(frozen=True)
class PairsConfig:
    """Everything that decides the rows of a build."""

    name: str
    description: str = ""
    seed: int = 0
    train_size: int = 10_000
    validation_size: int = 1_000
    test_size: int = 1_000
    categories: tuple[tuple[str, float], ...] = ()
    min_statements: int = 3
    max_statements: int = 40
    max_args: int = 5
    hlo_optimized: bool = False
    gradient: bool = True  # false: no stablehlo_grad (about half a row's cost), for forward-only tasks
    shard_size: int = 100
    split_mode: str = "random"  # "structural": no validation/test row shares a structure hash with train
    portable_only: bool = False  # leave out programs whose StableHLO carries custom_calls or backend attributes
    max_ir_chars: int = 0  # a length budget for `stablehlo` and `stablehlo_grad` (0: none); longer programs are redrawn
    max_python_chars: int = 0  # a length budget for `python` (0: none)
    held_out_from: tuple[str, ...] = ()  # configs whose train programs' structures no row of this one shares (bench)
    stratify_ir_tiers: bool = False  # spread each category's rows evenly over the IR-length tiers it reaches (bench)

    def split_size(self, split: str) -> int:
        return {"train": self.train_size, "validation": self.validation_size, "test": self.test_size}[split]

    @property
    def weights(self) -> dict[str, float]:
        return dict(self.categories)

    def values(self) -> dict[str, Any]:
        """Every field as `check` takes it back (categories as a mapping): the one config -> values dict."""
        out = {f.name: getattr(self, f.name) for f in fields(self)}
        out["categories"] = dict(self.categories)
        out["held_out_from"] = list(self.held_out_from)
        return out


FIELDS = tuple(f.name for f in fields(PairsConfig))
REQUIRED = ("description", "seed", "train_size", "validation_size", "test_size", "categories")


def configs_dir() -> Path:
    """`builder/configs/`: package data in the wheel, a link to the top-level `configs/` in a checkout.

    Found by path, not through `importlib.resources`: `builder.configs` has no `__init__.py`,
    and for such a namespace package `resources.files` gives a `MultiplexedPath` (no `glob`)."""
    here = Path(__file__).resolve().parent
    shipped = here / "configs"
    return shipped if shipped.is_dir() else here.parent / "configs"


def _closest(key: str, known: tuple[str, ...]) -> str:
    match = difflib.get_close_matches(key, known, n=1)
    return f" (did you mean {match[0]!r}?)" if match else ""


def unknown_keys(unknown: list[str], known: tuple[str, ...], source: str) -> ConfigError:
    """Name every unknown key with the closest known one, and list the known keys."""
    hints = "; ".join(f"{k!r}{_closest(str(k), known)}" for k in unknown)
    return ConfigError(f"{source}: unknown key{'s' if len(unknown) > 1 else ''} {hints}. Known keys: {', '.join(known)}")


def _int(name: str, value: Any, lo: int, hi: int, why: str) -> int:
    if isinstance(value, bool):
        raise ConfigError(f"{name} must be a whole number, got {value!r}")
    try:
        value = operator.index(value)  # int and numpy integers
    except TypeError:
        if (isinstance(value, float) and value.is_integer()) or (isinstance(value, str) and value.strip().lstrip("-").isdigit()):
            value = int(value)
        else:
            raise ConfigError(f"{name} must be a whole number, got {value!r}") from None
    if not lo <= value <= hi:
        raise ConfigError(f"{name} must be between {lo:,} and {hi:,} ({why}), got {value:,}")
    return value


def check(values: Mapping[str, Any], known_categories: tuple[str, ...], source: str = "config") -> PairsConfig:
    """Check every value and return the config, or raise one `ConfigError` that names the problem."""
    unknown = sorted(set(values) - set(FIELDS), key=str)
    if unknown:
        raise unknown_keys(unknown, FIELDS, source)
    v = dict(values)
    out: dict[str, Any] = {"name": str(v.get("name", source))}
    out["description"] = str(v.get("description", ""))
    out["seed"] = _int("seed", v.get("seed", 0), 0, MAX_SEED, "a non-negative 64-bit integer")
    for split in SPLITS:
        key = f"{split}_size"
        out[key] = _int(key, v.get(key, 0), 0, MAX_SPLIT_SIZE, "rows to generate for that split")
    if not any(out[f"{s}_size"] for s in SPLITS):
        raise ConfigError("train_size, validation_size and test_size are all 0: ask for at least one row")
    out["categories"] = _categories(v.get("categories"), known_categories)
    out["min_statements"] = _int("min_statements", v.get("min_statements", 3), 1, MAX_STATEMENTS, "statements per program")
    out["max_statements"] = _int("max_statements", v.get("max_statements", 40), 1, MAX_STATEMENTS, "statements per program")
    if out["min_statements"] > out["max_statements"]:
        raise ConfigError(
            f"min_statements ({out['min_statements']}) is larger than max_statements ({out['max_statements']}): "
            "lower min_statements or raise max_statements"
        )
    out["max_args"] = _int("max_args", v.get("max_args", 5), 1, MAX_ARGS, "positional arguments per program; a pytree of weights counts as one")
    _check_styled_limits(out)
    out["hlo_optimized"] = _bool("hlo_optimized", v.get("hlo_optimized", False))
    out["gradient"] = _bool("gradient", v.get("gradient", True))
    out["shard_size"] = _int("shard_size", v.get("shard_size", 100), 1, 100_000, "rows per work unit")
    mode = v.get("split_mode", "random")
    if mode not in SPLIT_MODES:
        raise ConfigError(f"split_mode must be one of {', '.join(SPLIT_MODES)}, got {mode!r}")
    out["split_mode"] = mode
    out["portable_only"] = _bool("portable_only", v.get("portable_only", False))
    out["max_ir_chars"] = _budget("max_ir_chars", v.get("max_ir_chars", 0), MIN_IR_CHARS, "characters of StableHLO a program may print")
    out["max_python_chars"] = _budget("max_python_chars", v.get("max_python_chars", 0), MIN_PYTHON_CHARS, "characters of Python a program may have")
    out["held_out_from"] = _held_out_from(v.get("held_out_from", ()), out["name"])
    out["stratify_ir_tiers"] = _bool("stratify_ir_tiers", v.get("stratify_ir_tiers", False))
    return PairsConfig(**out)


def _check_styled_limits(out: Mapping[str, Any]) -> None:
    """Refuse the size limits a framework-style category in the config cannot honour. It honours
    `max_args` down to the parameters and one input. It has no statement count (a program's size is its
    model family's), so `min_statements` / `max_statements` shape only the op-level categories: a config
    whose drawn categories are all framework-style, where a statement limit would bind nothing, is refused."""
    from .synth.styles import MIN_ARGS, STYLES  # the styled families are heavy: import them only when asked

    drawn = [name for name, weight in out["categories"] if weight > 0]
    styled = [name for name in drawn if name in STYLES]
    if not styled:
        return
    names = ", ".join(styled)
    if out["max_args"] < MIN_ARGS:
        raise ConfigError(
            f"max_args is {out['max_args']}, but {names} programs take at least {MIN_ARGS} positional arguments "
            f"(the parameters and an input): raise max_args to {MIN_ARGS}, or give {names} weight 0"
        )
    if len(styled) < len(drawn):
        return  # the limits shape the op-level categories drawn beside them
    defaults = {"min_statements": PairsConfig.min_statements, "max_statements": PairsConfig.max_statements}
    for key, default in defaults.items():
        if out[key] != default:
            raise ConfigError(
                f"{key} is {out[key]}, but {names} cannot honour statement limits and no op-level category is drawn "
                f"beside them: a framework-style program's size is its model family's (layers, widths), not a statement "
                f"count. Leave {key} at {default} (its default), or bound sizes with max_python_chars / max_ir_chars"
            )


def _budget(name: str, value: Any, floor: int, what: str) -> int:
    """0 (no budget) or at least `floor`: a smaller budget no program meets, so say so before any work."""
    budget = _int(name, value, 0, 100_000_000, what)
    if 0 < budget < floor:
        raise ConfigError(f"{name} is {budget:,}, under {floor:,}, the least any program needs: raise it, or set 0 for no budget")
    return budget


def _held_out_from(value: Any, own: str) -> tuple[str, ...]:
    """Names of configs in configs/ (not this one), e.g. `held_out_from: [balanced]`."""
    names = [value] if isinstance(value, str) else value
    if not isinstance(names, (list, tuple)) or not all(isinstance(n, str) for n in names):
        raise ConfigError(f"held_out_from must be a list of config names, e.g. ['balanced']; got {value!r}")
    known = tuple(sorted(p.stem for p in configs_dir().glob("*.yaml")))
    for name in names:
        if name not in known:
            raise ConfigError(f"held_out_from names {name!r}, which is not a config{_closest(name, known)}. Known configs: {', '.join(known)}")
        if name == own:
            raise ConfigError(f"held_out_from names the config itself ({own!r}); name the training configs to hold out from")
    return tuple(sorted(set(names)))


def _bool(name: str, value: Any) -> bool:
    if not isinstance(value, bool):
        raise ConfigError(f"{name} must be true or false, got {value!r}")
    return value


def _categories(value: Any, known: tuple[str, ...]) -> tuple[tuple[str, float], ...]:
    if isinstance(value, (list, tuple)) and all(isinstance(c, str) for c in value):
        value = dict.fromkeys(value, 1.0)
    if not isinstance(value, Mapping) or not value:
        raise ConfigError(
            f"categories must map category names to weights, e.g. {{'{known[0]}': 1.0}}; got {value!r}. "
            f"Known categories: {', '.join(known)}"
        )
    out = []
    for name, weight in value.items():
        if name not in known:
            raise ConfigError(f"unknown category {name!r}{_closest(str(name), known)}. Known categories: {', '.join(known)}")
        if isinstance(weight, bool) or not isinstance(weight, numbers.Real) or not math.isfinite(weight):
            raise ConfigError(f"the weight of category {name!r} must be a finite number, got {weight!r}")
        if weight < 0:
            raise ConfigError(f"the weight of category {name!r} is negative ({weight}); weights must be >= 0")
        out.append((str(name), float(weight)))
    if not any(w > 0 for _, w in out):
        raise ConfigError("all category weights are 0: give at least one category a positive weight")
    return tuple(sorted(out))


class _UniqueKeyLoader(yaml.SafeLoader):
    """PyYAML keeps the last of two equal keys silently; a config with `seed` twice is a mistake."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            if not isinstance(key, (str, int, float, bool)) and key is not None:
                continue  # unhashable keys get PyYAML's own error below
            if key in seen:
                raise yaml.constructor.ConstructorError(None, None, f"duplicate key {key!r}", key_node.start_mark)
            seen.add(key)
        return super().construct_mapping(node, deep)


def load_yaml(path: Path, known_categories: tuple[str, ...]) -> PairsConfig:
    """Read and check one config file; errors name the file (and the line, for YAML syntax)."""
    text = read_text(path)
    if not CONFIG_NAME.fullmatch(path.stem):
        raise ConfigError(
            f"{path}: {path.stem!r} cannot be a config name (it is the file name): "
            "use letters, digits, '_', '-' and '.', starting with a letter or digit"
        )
    try:
        data = yaml.load(text, Loader=_UniqueKeyLoader)
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f" line {mark.line + 1}, column {mark.column + 1}:" if mark is not None else ""
        raise ConfigError(f"{path}:{where} is not valid YAML: {getattr(err, 'problem', err)}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping of config keys, got {type(data).__name__}")
    missing = [k for k in REQUIRED if k not in data]
    if missing:
        raise ConfigError(f"{path}: missing required keys {', '.join(missing)}")
    if "name" in data:
        raise ConfigError(f"{path}: 'name' comes from the file name; remove the key")
    try:
        return check({**data, "name": path.stem}, known_categories, source=str(path))
    except ConfigError as err:
        msg = str(err)
        raise ConfigError(msg if msg.startswith(str(path)) else f"{path}: {msg}") from None


def read_text(path: Path) -> str:
    """The file's text, or a `ConfigError` naming it and what is wrong: a directory, a dangling link
    (editors leave `.#name.yaml` links while a file is open), no permission, not UTF-8."""
    if path.is_symlink() and not path.exists():
        raise ConfigError(f"{path}: a link to {os.readlink(path)}, which does not exist (an editor's lock file?); remove it")
    if path.is_dir():
        raise ConfigError(f"{path}: a directory, not a config file; rename it or move it out of {path.parent}")
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError as err:
        raise ConfigError(f"{path}: not UTF-8 text (byte {err.start}: {err.reason}); save it as UTF-8") from None
    except OSError as err:
        raise ConfigError(f"{path}: cannot be read ({err.strerror or err}); fix its permissions or remove it") from None


def load_all(directory: Path | None = None) -> dict[str, PairsConfig]:
    """Every named config, by name; the first broken file raises its `ConfigError`."""
    named, broken = load_named(directory)
    if broken:
        raise next(iter(broken.values()))
    return named


def load_named(directory: Path | None = None) -> tuple[dict[str, PairsConfig], dict[str, ConfigError]]:
    """Every named config (`*.yaml` or `*.yml`), and apart from them the entries that cannot be
    one (unreadable, not YAML, failing their checks, two files of one name), by name.

    One broken file must not take the other configs down with it: the builder serves
    the good ones and raises a broken one's error (file and line) when it is asked for.
    """
    known = known_categories()
    named: dict[str, PairsConfig] = {}
    broken: dict[str, ConfigError] = {}
    paths = sorted(p for suffix in SUFFIXES for p in (directory or configs_dir()).glob(f"*{suffix}"))
    for path in paths:
        if path.stem in named or path.stem in broken:
            twins = " and ".join(str(p) for p in paths if p.stem == path.stem)
            named.pop(path.stem, None)
            broken[path.stem] = ConfigError(f"{twins} both define config {path.stem!r}; remove one of them")
            continue
        try:
            named[path.stem] = load_yaml(path, known)
        except ConfigError as err:
            broken[path.stem] = err
    return named, broken


def resolve(name: str, overrides: Mapping[str, Any] | None = None, named: Mapping[str, PairsConfig] | None = None) -> PairsConfig:
    """The named config with `overrides` applied (None values ignored, as `datasets` does), checked
    like a `load_dataset` kwarg: the one way a name and overrides become a config."""
    if named is None:
        named, broken = load_named()
        if name in broken:  # only the config asked for: another broken file does not stop this one
            raise broken[name]
    if name not in named:
        raise unknown_config(name, named)
    given = {k: v for k, v in (overrides or {}).items() if v is not None}
    return check({**named[name].values(), **given}, known_categories(), source=f"config {name!r}")


def from_values(values: Mapping[str, Any], source: str) -> PairsConfig:
    """A config recorded as values (a build's build.json), checked again."""
    given = dict(values)
    given["categories"] = dict(given.get("categories") or {})
    return check(given, known_categories(), source=source)


def unknown_config(name: object, known: Mapping[str, Any]) -> ConfigError:
    """The error for a config name that is not in configs/: the known names and the closest one."""
    names = tuple(sorted(known))
    return ConfigError(
        f"unknown config {name!r}{_closest(str(name), names)}. Known configs: {', '.join(names)}. "
        f"A new config is one YAML file in {configs_dir()}"
    )


def known_categories() -> tuple[str, ...]:
    from .synth.ops import CATEGORIES, COMPOSITE  # the catalogue is heavy: import it only when asked
    from .synth.styles import CATEGORIES as STYLED  # likewise the styled families

    return tuple(sorted({*CATEGORIES, COMPOSITE, *STYLED}))
