"""The `datasets` builder: configs -> splits -> shards -> rows from `pipeline`.

The loading script subclasses `PairsBuilder` and adds nothing, so `load_dataset`
on the script, the CLI and the tests all run this code.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib
import logging
import os
import pickle
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import field as dataclass_field
from dataclasses import make_dataclass
from pathlib import Path
from typing import Any

import datasets

from . import __version__
from .config import (
    FIELDS,
    SPLITS,
    ConfigError,
    PairsConfig,
    from_values,
    load_named,
    resolve,
    unknown_config,
    unknown_keys,
)
from .features import FEATURES
from .pipeline.budget import statement_caps
from .pipeline.dedup import dedup_prepared
from .pipeline.failures import LOWERING, PARTS_DIR, REPORT_NAME, Failure, merge_parts, of_kind, read_report, write_part
from .pipeline.fingerprint import code_fingerprint
from .pipeline.orphans import POLL_SECONDS, die_with_parent
from .pipeline.plan import ShardPlan, build_plan, shard_plan
from .pipeline.rows import generate_rows
from .pipeline.seeds import shards
from .pipeline.unit_store import load_unit, save_unit

logger = logging.getLogger(__name__)
VERSION = datasets.Version(__version__)


def check_num_proc(num_proc: Any) -> None:
    if num_proc is not None and (isinstance(num_proc, bool) or not isinstance(num_proc, int) or num_proc < 1):
        raise ConfigError(f"num_proc must be a whole number of at least 1 (or None: one process), got {num_proc!r}")


# A broken YAML file must not sink the other configs: it is left out, and asking for it raises its error.
NAMED, BROKEN = load_named()
for _error in BROKEN.values():
    logger.warning("config left out: %s", _error)
# What `load_dataset` may pass besides our fields; data_dir / data_files mean nothing for synthesized data.
DATASETS_KWARGS = ("version",)
OVERRIDABLE = tuple(f for f in FIELDS if f not in ("name", "description"))  # the rest are BuilderConfig's own


def _pairs_config(self: datasets.BuilderConfig) -> PairsConfig:
    """The checked config. datasets sets kwargs with setattr after __post_init__, so check here."""
    values = {name: getattr(self, name) for name in OVERRIDABLE}
    return from_values({**values, "name": self.name, "description": self.description or ""}, f"config {self.name!r}")


# A builder config is a `datasets.BuilderConfig` holding `PairsConfig`'s fields, declared from them, so
# that every field of a named config can be overridden as a `load_dataset` kwarg.
PairsBuilderConfig = make_dataclass(
    "PairsBuilderConfig",
    [(name, Any, dataclass_field(default=None)) for name in OVERRIDABLE],
    bases=(datasets.BuilderConfig,),
    namespace={"pairs_config": _pairs_config, "__doc__": "A named config from `configs/`; every field can be overridden."},
)
PairsBuilderConfig.__module__ = __name__


def builder_config(config: PairsConfig) -> datasets.BuilderConfig:
    values = {k: v for k, v in config.values().items() if k in OVERRIDABLE}
    return PairsBuilderConfig(name=config.name, version=VERSION, description=config.description, **values)


def _name_given_to_load_dataset() -> str | None:
    """The `name` the caller passed to `load_dataset`: datasets turns `name=""` into None (`name or default`)
    before the builder sees it, which would silently build the default config. Read from datasets' own
    frame (None when this builder was not made by `load_dataset_builder`)."""
    frame = sys._getframe(1)
    while frame is not None:
        if frame.f_code.co_name == "load_dataset_builder" and frame.f_globals.get("__name__") == "datasets.load":
            name = frame.f_locals.get("name")
            return name if isinstance(name, str) and not name.strip() else None  # only a blank name needs catching here
        frame = frame.f_back
    return None


def caused_by_interrupt(err: BaseException | None) -> bool:
    """Whether a KeyboardInterrupt is down the exception chain of `err`."""
    seen: set[int] = set()
    while err is not None and id(err) not in seen:
        if isinstance(err, KeyboardInterrupt):
            return True
        seen.add(id(err))
        err = err.__cause__ or err.__context__
    return False


class PairsBuilder(datasets.GeneratorBasedBuilder):
    """Synthesized JAX programs paired with their StableHLO, jaxpr, gradient IR and costs."""

    BUILDER_CONFIG_CLASS = PairsBuilderConfig
    BUILDER_CONFIGS = [builder_config(c) for c in NAMED.values()]  # noqa: RUF012 (datasets' API)
    DEFAULT_CONFIG_NAME = "balanced"
    DEFAULT_WRITER_BATCH_SIZE = 100  # rows hold long IR strings; keeps shard-size checks frequent

    _failure_parts: str | None = None  # set while download_and_prepare writes: where work units record failures
    _unit_store: str | None = None  # and where finished work units are kept until the build is complete (resume)

    _main_pid: int | None = None  # the process that runs datasets' worker pool: its workers die with it
    _prepared_here = False  # True in the child process of `prepare_elsewhere`

    def __init__(self, *args: Any, hash: str | None = None, **kwargs: Any) -> None:
        # The script's hash alone would serve stale rows after a change to the package or to JAX.
        combined = hashlib.sha256(f"{hash}|{code_fingerprint()}".encode()).hexdigest()[:16]
        super().__init__(*args, hash=combined, **kwargs)
        self._made_with = (args, {**kwargs, "hash": hash, "cache_dir": self._cache_dir_root})  # to make it again in a child

    def download_and_prepare(self, *args: Any, num_proc: int | None = None, **kwargs: Any) -> None:
        """datasets' method, with `num_proc` checked first; a parallel build is prepared by a child process
        made for it (`prepare_elsewhere`), and this one reads the result."""
        check_num_proc(num_proc)
        reuse = kwargs.get("download_mode") in (None, datasets.DownloadMode.REUSE_DATASET_IF_EXISTS, "reuse_dataset_if_exists")
        done = reuse and not args and kwargs.get("output_dir") is None and (Path(self.cache_dir) / datasets.config.DATASET_INFO_FILENAME).exists()
        if num_proc is not None and num_proc > 1 and not self._prepared_here and not done:  # (a finished build is read here)
            prepare_elsewhere(self, args, {**kwargs, "num_proc": num_proc})
            kwargs = {**kwargs, "download_mode": datasets.DownloadMode.REUSE_DATASET_IF_EXISTS}
            num_proc = None
        self._main_pid = os.getpid()
        super().download_and_prepare(*args, num_proc=num_proc, **kwargs)

    def _create_builder_config(
        self, config_name: str | None = None, custom_features: Any = None, **config_kwargs: Any
    ) -> tuple[datasets.BuilderConfig, str]:
        """Check the config name and every kwarg before datasets hashes them into a cache id,
        and pass on only the canonical values that differ from the named config, so equal
        configs share one cache (`seed="7"` and `seed=7`, a kwarg equal to the YAML's value)."""
        if config_name is None:
            config_name = _name_given_to_load_dataset()
        if config_name is not None and not str(config_name).strip():
            raise ConfigError(f"config name {config_name!r} is empty: name one of {', '.join(sorted(NAMED))}, or pass none for {self.DEFAULT_CONFIG_NAME!r}")
        name = config_name or self.DEFAULT_CONFIG_NAME
        if name in BROKEN:
            raise BROKEN[name]
        if name not in NAMED:
            raise unknown_config(name, NAMED)
        allowed = tuple(f for f in FIELDS if f != "name") + DATASETS_KWARGS
        unknown = sorted(set(config_kwargs) - set(allowed))
        if unknown:
            raise unknown_keys(unknown, allowed, f"load_dataset(..., {name!r}, ...)")
        given = {k: v for k, v in config_kwargs.items() if v is not None and k not in DATASETS_KWARGS}
        resolved = resolve(name, given, NAMED)
        statement_caps(resolved)  # a length budget too tight for a category fails here, before any work
        checked = resolved.values()
        canonical = {k: checked[k] for k in given if checked[k] != NAMED[name].values()[k]}
        extra = {k: v for k, v in config_kwargs.items() if k in DATASETS_KWARGS}
        return super()._create_builder_config(name, custom_features, **canonical, **extra)

    @property
    def pairs_config(self) -> PairsConfig:
        return self.config.pairs_config()

    def build(self, num_proc: int | None = None) -> tuple[datasets.DatasetDict, list[Failure]]:
        """Build the config, or reuse the finished build in the datasets cache (same config and
        overrides): the rows, and the drawn programs that failed to lower on the way."""
        self.download_and_prepare(num_proc=num_proc if num_proc and num_proc > 1 else None)
        return self.as_dataset(), read_report(Path(self.cache_dir)) or []

    def _info(self) -> datasets.DatasetInfo:
        try:
            config = self.pairs_config
        except ConfigError as err:
            raise ConfigError(f"{err}") from None
        return datasets.DatasetInfo(
            description=config.description,
            features=FEATURES,
            homepage="https://github.com/jax-stablehlo-pairs/jax-stablehlo-pairs",
            license="apache-2.0",
        )

    def _split_generators(self, dl_manager: Any) -> list[datasets.SplitGenerator]:
        config = self.pairs_config
        # The global plan (every row's seed, repeats rejected) is drawn once, here, and each work unit gets
        # its slice. Streaming draws it lazily instead, as far as the reader goes (plan None: see generate_rows).
        streaming = isinstance(dl_manager, datasets.StreamingDownloadManager)
        return [
            datasets.SplitGenerator(
                name=split,
                gen_kwargs={
                    "split": split,
                    "shards": shards(config, split),
                    "plans": [None if streaming else shard_plan(config, split, a, b) for a, b in shards(config, split)],
                },
            )
            for split in SPLITS
            if config.split_size(split) > 0
        ]

    def _download_and_prepare(self, dl_manager: Any, verification_mode: Any, **prepare_split_kwargs: Any) -> None:
        """datasets writes into `<cache>.incomplete` and renames it when done; add what it lacks:
        drop what a killed run left there, and merge the work units' failure parts into the report."""
        out = Path(self._output_dir)
        local = out.name.endswith(".incomplete") and out.is_dir()  # remote targets are written in place
        units = out.with_name(out.name.removesuffix(".incomplete") + ".units")
        if local:
            # We hold datasets' builder lock: anything here is from a run that was killed part way. Its
            # finished work units are kept apart (datasets deletes `.incomplete` on an interrupt) and reused.
            for stale in out.iterdir():
                shutil.rmtree(stale) if stale.is_dir() and not stale.is_symlink() else stale.unlink()
            self._failure_parts = str(out / PARTS_DIR)
            units.mkdir(exist_ok=True)
            self._unit_store = str(units)
        try:
            super()._download_and_prepare(dl_manager, verification_mode, **prepare_split_kwargs)
        except Exception as err:
            if caused_by_interrupt(err):  # Ctrl-C with num_proc surfaces as the pool's TimeoutError
                raise KeyboardInterrupt from err
            raise
        finally:
            self._failure_parts = self._unit_store = None
        if not local:
            return
        dedup_failures: list[Failure] = []
        dedup_prepared(out, self.dataset_name, self.pairs_config, build_plan(self.pairs_config).dropped, dedup_failures)
        if dedup_failures:
            write_part(out / PARTS_DIR, "dedup", 0, dedup_failures)
        failures = of_kind(merge_parts(out), LOWERING)
        shutil.rmtree(units, ignore_errors=True)  # the build is complete: datasets renames it into place next
        if failures:
            logger.warning(
                "%d drawn programs failed to trace or lower and were replaced by the next seed (a generator bug); "
                "seed, category and error of each are in %s",
                len(failures),
                out.with_name(out.name.removesuffix(".incomplete")) / REPORT_NAME,
            )

    def _generate_examples(self, split: str, shards: list[tuple[int, int]], plans: list[ShardPlan | None]):  # type: ignore[override]
        if self._main_pid is not None and os.getpid() != self._main_pid:  # a worker of datasets' pool (no initializer hook)
            die_with_parent(self._main_pid)
        config = self.pairs_config
        store = Path(self._unit_store) if self._unit_store else None
        reused = 0
        for (start, stop), plan in zip(shards, plans, strict=True):
            failures: list[Failure] = []
            if store is None:  # streaming (or a remote target): rows as they come
                yield from generate_rows(config, split, start, stop, failures, plan)
            else:
                kept = load_unit(store, split, start)
                reused += kept is not None
                rows, failures = kept or self._new_unit(store, split, start, stop, plan)
                yield from ((row["id"], row) for row in rows)
            if self._failure_parts is not None:
                write_part(Path(self._failure_parts), split, start, failures)
        if reused:
            logger.warning("resumed: %d of %d work units of %s were finished by an interrupted run and reused", reused, len(shards), split)

    def _new_unit(self, store: Path, split: str, start: int, stop: int, plan: ShardPlan | None) -> tuple[list[dict[str, Any]], list[Failure]]:
        """Lower a unit's rows and keep them, so a rerun after an interrupt need not lower them again."""
        failures: list[Failure] = []
        rows = [row for _, row in generate_rows(self.pairs_config, split, start, stop, failures, plan)]
        save_unit(store, split, start, rows, failures)
        return rows, failures


def make_builder(config: str, cache_dir: str | None = None, **overrides: Any) -> PairsBuilder:
    """The builder the loading script would make, without needing the script file: the one way the
    CLI, publishing and the benchmarks build or reuse a build."""
    return PairsBuilder(config_name=config, dataset_name="jax_stablehlo_pairs", cache_dir=cache_dir, **overrides)


# --- a parallel build runs in a child process made for it ---------------------------------------------
# datasets' worker pool forks, and forking a process whose XLA threads run (the user's, once JAX ran
# there) deadlocks them. Spawning instead re-runs the user's `__main__` in every worker, which without an
# `if __name__ == "__main__"` guard starts the whole script again (and hangs). So the build goes to a fresh
# interpreter started with `python -m` (nothing of `__main__` is imported there, and JAX has not started,
# so its pool forks safely); it writes the finished build into the same cache directory, which this
# process then reads. The child leads a process group of its own, which holds the pool's workers and the
# Manager process datasets starts beside them; when this process ends, however it ends, the child ends
# the whole group (`_end_group_with`), so nothing is left behind.


def prepare_elsewhere(builder: PairsBuilder, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
    """Run `builder.download_and_prepare(*args, **kwargs)` in a child process made for it; raise its error here."""
    cls = type(builder)
    made_args, made_kwargs = builder._made_with
    with tempfile.TemporaryDirectory(prefix="jax-stablehlo-pairs-") as scratch:
        error = Path(scratch) / "error"
        request = pickle.dumps({
            "sys_path": list(sys.path), "module": cls.__module__, "name": cls.__qualname__, "args": made_args,
            "kwargs": made_kwargs, "cache_dir": builder.cache_dir, "prepare": (args, kwargs), "error": str(error),
        })  # fmt: skip
        path = os.pathsep.join(p for p in sys.path if p)  # so `-m builder.hf_builder` imports what this process imports
        child = subprocess.Popen(
            [sys.executable, "-m", __name__, str(os.getpid())], stdin=subprocess.PIPE, start_new_session=True, env={**os.environ, "PYTHONPATH": path}
        )
        try:
            assert child.stdin is not None
            child.stdin.write(request)
            child.stdin.close()
            code = child.wait()
        except BaseException as err:  # Ctrl-C: the child has a session of its own, so the terminal's signal reached only us
            _stop_group(child, signal.SIGINT if isinstance(err, KeyboardInterrupt) else signal.SIGKILL)
            raise
        if code != 0:
            kind, _, message = (error.read_text() if error.exists() else f"RuntimeError:exit status {code}, no message").partition(":")
            if kind == "ConfigError":
                raise ConfigError(message)
            if kind == "KeyboardInterrupt":
                raise KeyboardInterrupt
            raise RuntimeError(f"the parallel build (in a child process) failed: {kind}: {message}")


def _stop_group(child: subprocess.Popen[bytes], sig: signal.Signals, grace: float = 60.0) -> None:
    """Pass `sig` to the child's process group (SIGINT lets datasets remove its unfinished files), then make sure it ends."""
    with contextlib.suppress(ProcessLookupError, subprocess.TimeoutExpired):
        os.killpg(child.pid, sig)
        child.wait(grace)
    with contextlib.suppress(ProcessLookupError):  # the group outlived the grace time, or a worker outlived the child
        os.killpg(child.pid, signal.SIGKILL)
    child.wait()


def _prepare_here() -> None:
    """The child's side of `prepare_elsewhere`: make the same builder, check it writes where the parent reads, build."""
    _end_group_with(int(sys.argv[1]))
    request = pickle.loads(sys.stdin.buffer.read())
    sys.path[:] = request["sys_path"]
    try:
        cls = getattr(importlib.import_module(request["module"]), request["name"])
        builder = cls(*request["args"], **request["kwargs"])
        if builder.cache_dir != request["cache_dir"]:
            raise RuntimeError(f"the child would write to {builder.cache_dir}, not {request['cache_dir']}")
        args, kwargs = request["prepare"]
        builder._prepared_here = True
        builder.download_and_prepare(*args, **kwargs)
    except BaseException as err:
        Path(request["error"]).write_text(f"{type(err).__name__}:{err}")
        raise


def _end_group_with(parent: int) -> None:
    """End this process group (this child, the pool's workers, datasets' Manager) once `parent` ends:
    a thread, so it acts while the main thread waits inside the pool."""

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(POLL_SECONDS)
        os.killpg(os.getpgid(0), signal.SIGKILL)

    if os.getppid() != parent:
        os._exit(1)
    threading.Thread(target=watch, name="end-group-with-parent", daemon=True).start()


if __name__ == "__main__":
    from builder.hf_builder import _prepare_here as prepare  # the package's module, so its classes are the ones pickled

    prepare()
