"""jax-stablehlo-pairs: synthesized JAX programs paired with the StableHLO (jaxpr, gradient IR, optimized
HLO, XLA cost figures) JAX lowers them to. Build a config to disk, validate a build's rows, publish to the Hub."""

from __future__ import annotations

import argparse
import os
import sys
from importlib.metadata import version
from pathlib import Path
from typing import Any

from . import __version__
from .config import SPLITS, ConfigError, from_values, resolve

# Each subcommand imports its stages inside its function (lazy loading, on purpose): `--help` and a
# bad flag answer at once, without loading JAX or datasets.


def _overrides(args: argparse.Namespace) -> dict[str, Any]:
    keys = (
        "seed", "train_size", "validation_size", "test_size", "min_statements", "max_statements", "max_args", "shard_size",
        "max_ir_chars", "max_python_chars",
    )  # fmt: skip
    out = {k: getattr(args, k) for k in keys if getattr(args, k) is not None}
    for switch in ("hlo_optimized", "gradient", "portable_only"):  # --x / --no-x; None when not given
        if getattr(args, switch, None) is not None:
            out[switch] = getattr(args, switch)
    if args.categories is not None:
        out["categories"] = parse_categories(args.categories)
    if args.split_mode is not None:
        out["split_mode"] = args.split_mode
    return out


def parse_categories(text: str) -> dict[str, Any]:
    """`matrix=2,reduction=1` (or `matrix,reduction`: weight 1 each) -> weights; names and values are checked later."""
    weights: dict[str, Any] = {}
    for item in filter(None, (part.strip() for part in text.split(","))):
        name, _, weight = item.partition("=")
        name = name.strip()
        if name in weights:
            raise ConfigError(f"--categories names {name!r} twice")
        try:
            weights[name] = float(weight) if weight.strip() else 1.0
        except ValueError:
            raise ConfigError(f"--categories: the weight of {name!r} must be a number, got {weight.strip()!r}") from None
    if not weights:
        raise ConfigError(f"--categories: expected e.g. 'matrix=2,reduction=1', got {text!r}")
    return weights


def cmd_build(args: argparse.Namespace) -> int:
    if args.engine == "ray":
        from .engines import ray_engine  # lazy: Ray is an optional extra

        return ray_engine.main(args.config, Path(args.output_dir), _overrides(args), args.overwrite, args.address)
    if args.address is not None:
        raise ConfigError("--address is the Ray cluster to build on: pass --engine ray with it")
    from dataclasses import asdict

    import datasets

    from .hf_builder import make_builder
    from .lowering.extractor import jax_version
    from .pipeline.dedup import REPORT_NAME as DEDUP_REPORT
    from .pipeline.dedup import DedupReport
    from .pipeline.failures import BUDGET, LOWERING, REPORT_NAME, describe, of_kind
    from .pipeline.fingerprint import code_fingerprint
    from .pipeline.output import ROW_BYTES, check_separate, check_target, check_writable, data_digest, staged, write_manifest
    from .pipeline.stats import collect

    out = Path(args.output_dir)
    if args.num_proc < 1:
        raise ConfigError(f"--num-proc must be at least 1, got {args.num_proc}")
    check_target(out, args.overwrite)
    cache = Path(args.cache_dir or datasets.config.HF_DATASETS_CACHE)
    check_separate(out, cache)
    config = resolve(args.config, _overrides(args))  # checks every value: no work yet
    rows = sum(config.split_size(s) for s in SPLITS)
    check_writable(out, "--output-dir", rows * ROW_BYTES, where=out.parent)  # before the build, not after it
    check_writable(cache, "--cache-dir", rows * ROW_BYTES)
    builder = make_builder(args.config, args.cache_dir, **_overrides(args))
    ds, failures = builder.build(args.num_proc)
    duplicates = DedupReport.read(Path(builder.cache_dir)) or DedupReport()
    lowering, redraws = of_kind(failures, LOWERING), of_kind(failures, BUDGET)
    stats = collect(ds, failures=len(lowering), duplicates=duplicates.per_split(), budget_redraws=len(redraws))
    with staged(out, args.overwrite) as tmp:  # `out` changes only once the whole build is written
        ds.save_to_disk(str(tmp))
        (tmp / REPORT_NAME).write_text((Path(builder.cache_dir) / REPORT_NAME).read_text() if failures else "")
        (tmp / DEDUP_REPORT).write_text(duplicates.to_json())
        write_manifest(tmp, {
            "config": args.config,
            "values": asdict(builder.pairs_config),
            "code_fingerprint": code_fingerprint(),
            "jax_version": jax_version(),
            "rows": dict(stats.rows),
            "failures": len(lowering),
            "budget_redraws": len(redraws),
            "data_digest": data_digest(tmp),  # of the Arrow files just written: `publish --from-disk` checks it
        })
    print(f"\n{args.config}: saved to {out}")
    print(stats.format())
    for failure in lowering[:20]:
        print(f"  failed: {describe(failure)}")
    if failures:
        print(f"  seed, category and reason of every replaced draw: {out / REPORT_NAME}")
    return 0


def cmd_publish(args: argparse.Namespace) -> int:
    from .publish.hub import PublishError, endpoint, publish, saved_name

    if args.num_proc < 1:
        raise ConfigError(f"--num-proc must be at least 1, got {args.num_proc}")
    from_disk = {}
    for item in args.from_disk:
        name, sep, path = item.partition("=")
        if not sep:  # DIR alone: its build.json (or its Parquet folder) names the config
            name, path = saved_name(item), item
        if not name or not path:
            raise ConfigError(f"--from-dir expects DIR or CONFIG=DIR (e.g. out/balanced or balanced=out/balanced), got {item!r}")
        if name in from_disk:
            raise ConfigError(f"--from-dir: config {name!r} is given twice ({from_disk[name]} and {path})")
        from_disk[name] = path
    try:
        published = publish(
            args.repo_id,
            args.configs,
            overrides=_overrides(args),
            from_disk=from_disk,
            private=args.private,
            revision=args.revision,
            cache_dir=args.cache_dir,
            num_proc=args.num_proc,
        )
    except PublishError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    for p in published:
        rows = " / ".join(f"{n:,} {split}" for split, n in p.rows.items())
        print(f"{p.config}: {rows} -> {endpoint()}/datasets/{p.repo_id} ({p.revision}, commit {p.commit[:12]})")
    print(f'load it anywhere: load_dataset("{args.repo_id}", "{published[0].config}")')
    return 0


def load_target(target: str, config_name: str | None, overrides: dict[str, Any], cache_dir: str | None) -> tuple[dict[str, Any], Any]:
    """The rows `validate` checks and the config that made them (None when unknown).

    `target` is a directory written by `build` (either engine; or any `save_to_disk` output), or a config
    name, which is built first (with `overrides`, e.g. smaller sizes)."""
    from .hf_builder import make_builder
    from .pipeline.build_dir import check_digests, load_splits, open_build

    path = Path(target)
    if path.is_dir():
        build = open_build(path, "validate")  # either layout: a saved DatasetDict or Parquet from `build --engine ray`
        check_digests(build)
        splits = load_splits(build, cache_dir=cache_dir)
        manifest = build.manifest
        if config_name is not None:
            return splits, make_builder(config_name, cache_dir, **overrides).pairs_config
        if manifest and "values" in manifest:
            return splits, from_values(manifest["values"], f"{path}/build.json")
        return splits, None
    if any(sep in target for sep in "/\\") or target.endswith((".json", ".parquet", ".arrow")):
        raise ConfigError(f"{target} is not a directory; give a directory written by `build` or a config name")
    builder = make_builder(target, cache_dir, **overrides)
    ds, _ = builder.build()
    return dict(ds), builder.pairs_config


def cmd_validate(args: argparse.Namespace) -> int:
    from .validation.journal import Journal
    from .validation.sandbox import Limits
    from .validation.validate import Options, run

    if args.sample is not None and args.sample < 1:
        raise ConfigError(f"--sample must be at least 1, got {args.sample}")
    if args.num_proc < 1:
        raise ConfigError(f"--num-proc must be at least 1, got {args.num_proc}")
    resume = args.resume_file
    if resume is not None and (resume.is_dir() or not os.access(resume.parent if resume.parent.exists() else ".", os.W_OK)):
        raise ConfigError(f"--resume-file {args.resume_file}: not a file this user can write; name a file in a writable directory")
    options = Options(
        trust_code=args.trust_code,
        interpreter=not args.no_interpreter,
        interpreter_timeout=args.interpreter_timeout,
        execution_timeout=args.execution_timeout,
        sandbox=Limits(args.time_limit, int(args.memory_limit * 2**30)),
        input_seed=args.input_seed,
    )
    splits, config = load_target(args.target, args.config, _overrides(args), args.cache_dir)
    journal = Journal.open(args.resume_file, options) if args.resume_file else None  # refuses a file it cannot use, before any work
    if journal is not None:
        print(f"results kept in {args.resume_file}: {len(journal.done)} rows already checked", flush=True)
    try:
        summary = run(splits, config, options, args.sample, num_proc=args.num_proc, journal=journal)
    finally:
        if journal is not None:
            journal.close()
    print(f"\nvalidated {len(summary.reports)} rows of {args.target} (input seed {args.input_seed})")
    if config is None:
        print("note: no build config, so no row could be regenerated; their Python ran only with --trust-code")
    print(summary.format())
    problems = summary.problems(args.allow_unverified)
    print("\nresult: " + ("; ".join(problems) if problems else "passed") + ("" if problems or summary.ok else " (--allow-unverified)"))
    return 1 if problems else 0


def positive(text: str) -> float:
    """An argparse type: a number of seconds (or GiB) above 0; 0 or less would fail every row unchecked."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"must be a finite number above 0, got {text!r}")
    return value


CONFIG_VALUE_HELP = {
    "--seed": "seed of the whole build: same seed, config and JAX version give the same rows (default: the config's)",
    "--train-size": "rows in the train split (default: the config's)",
    "--validation-size": "rows in the validation split (default: the config's)",
    "--test-size": "rows in the test split (default: the config's)",
    "--min-statements": "fewest statements per program (default: the config's)",
    "--max-statements": "most statements per program (default: the config's)",
    "--max-args": "most positional arguments per program, 1-5 (default: the config's)",
}


def cmd_evaluate(args: argparse.Namespace) -> int:
    from .evaluation.containment import Limits, protection
    from .evaluation.predictions import read_predictions
    from .evaluation.reference import load_reference
    from .evaluation.reference_cache import default_dir
    from .evaluation.run import Options, evaluate
    from .evaluation.tasks import get_task

    task = get_task(args.task)  # every argument is checked before the reference is read
    predictions = read_predictions(args.predictions)
    rows = load_reference(args.reference, args.split, args.reference_config)
    limits = Limits(args.time_limit, int(args.memory_limit * 2**30))
    cache = None if args.no_reference_cache else Path(args.reference_cache) if args.reference_cache else default_dir()
    options = Options(args.input_seed, args.sample, args.num_proc, args.execution_timeout, limits, reference_cache=cache)
    if task.kind == "python":
        print(f"Python predictions run contained: {protection().describe()}", file=sys.stderr)
    report = evaluate(task, rows, predictions, options, where=f"{args.reference} ({args.split})")
    if args.report:  # first: a closed stdout must not cost the report
        report.write(args.report)
    print(report.format())
    if report.protection:
        print(f"containment: {report.protection}")
    if args.report:
        print(f"report: {args.report}")
    return 0


def _add_config_values(parser: argparse.ArgumentParser) -> None:
    """The flags that override a config's values (read back by `_overrides`)."""
    for flag, text in CONFIG_VALUE_HELP.items():
        parser.add_argument(flag, type=int, help=text)
    parser.add_argument("--categories", help="category weights, e.g. 'matrix=2,reduction=1' (default: the config's)")
    parser.add_argument("--max-ir-chars", type=int, help="length budget: characters of stablehlo (and stablehlo_grad) per row; 0: none")
    parser.add_argument("--max-python-chars", type=int, help="length budget: characters of python per row; 0: none")
    parser.add_argument("--split-mode", choices=("random", "structural"), help="structural: no validation/test row shares a structure hash with train")
    parser.add_argument(
        "--portable-only", action=argparse.BooleanOptionalAction, help="leave out programs whose IR has custom calls or backend attributes"
    )


def _add_build_options(parser: argparse.ArgumentParser, num_proc_help: str, cache_dir_help: str) -> None:
    """What a command that builds configs takes: config values, work units, optimized HLO, workers, cache."""
    _add_config_values(parser)
    parser.add_argument("--shard-size", type=int, help="rows per work unit")
    switch = argparse.BooleanOptionalAction
    parser.add_argument("--hlo-optimized", action=switch, help="also compile each program and store optimized HLO")
    parser.add_argument("--gradient", action=switch, help="store the gradient's StableHLO (--no-gradient: forward IR only, about 2x faster)")
    parser.add_argument("--num-proc", type=int, default=1, help=num_proc_help)
    parser.add_argument("--cache-dir", help=cache_dir_help)


def version_text() -> str:
    return f"jax-stablehlo-pairs {__version__} (jax {version('jax')}, jaxlib {version('jaxlib')}, datasets {version('datasets')})"


CACHE_ENV = "Reads HF_HOME / HF_DATASETS_CACHE (where the datasets cache lives, unless --cache-dir)."
HUB_ENV = (
    "Reads HF_TOKEN (or the token saved by `huggingface-cli login`) to write to the repo, HF_ENDPOINT (the Hub's "
    "URL, default https://huggingface.co), and HF_HOME / HF_DATASETS_CACHE (the datasets cache, unless --cache-dir)."
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="jax-stablehlo-pairs",
        description=__doc__,
        epilog="Run `jax-stablehlo-pairs COMMAND --help` for a command's flags and the environment variables it reads.",
    )
    parser.add_argument("--version", action="version", version=version_text(), help="print the project, JAX and datasets versions")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    build = sub.add_parser(
        "build",
        help="build a config and save the DatasetDict to disk",
        description="Build a named config (configs/*.yaml), with any of its values overridden, and save the DatasetDict, "
        "its build.json manifest and reports to --output-dir.",
        epilog=CACHE_ENV,
    )
    build.add_argument("config", help="a config name from configs/ (e.g. balanced)")
    build.add_argument("--output-dir", required=True, help="where to save the DatasetDict")
    _add_build_options(build, "worker processes (shards run in parallel)", "datasets cache directory (default: HF_DATASETS_CACHE)")
    build.add_argument(
        "--overwrite",
        action="store_true",
        help="replace an earlier build in --output-dir (once the new one is complete); only a directory `build` wrote "
        "(its build.json, data and reports, nothing else) is ever replaced",
    )
    build.add_argument(
        "--engine", choices=("datasets", "ray"), default="datasets",
        help="datasets: one machine, --num-proc processes (default); ray: Ray tasks on a local Ray (all cores) or a cluster, "
        "written as Parquet in the Hub layout, resumable",
    )  # fmt: skip
    build.add_argument("--address", help="--engine ray: the Ray cluster to run on (default: RAY_ADDRESS, else a local Ray)")
    build.set_defaults(func=cmd_build)

    validate = sub.add_parser(
        "validate",
        help="prove a build's rows: parse the IR back, run it with XLA and the reference interpreter, compare with the Python",
        description="Prove a build's rows. A row counts as verified only when its IR was executed and compared with another "
        "executor, or relowered byte for byte by the row's own JAX version; every other row is reported as unverified "
        "with the reason. Exit status: 0 when every row is verified, 1 when any row failed or is unverified or nothing "
        "was executed (--allow-unverified accepts the last two), 2 for bad input.",
        epilog=CACHE_ENV,
    )
    validate.add_argument("target", help="a directory written by `build`, or a config name to build first (with the size flags)")
    validate.add_argument("--config", help="for a directory without build.json: the config that made it (regenerates rows)")
    validate.add_argument("--sample", type=int, help="check a seeded sample of this many rows")
    validate.add_argument("--input-seed", type=int, default=0, help="seed of the sample and of the random inputs")
    validate.add_argument("--trust-code", action="store_true", help="run Python that our generator did not write (in a limited child process)")
    validate.add_argument("--no-interpreter", action="store_true", help="skip the StableHLO reference interpreter")
    validate.add_argument("--interpreter-timeout", type=positive, default=20.0, help="seconds per module in the interpreter (above 0)")
    validate.add_argument("--execution-timeout", type=positive, default=180.0, help="seconds per row for XLA / JAX, compile included (above 0)")
    validate.add_argument("--time-limit", type=positive, default=60.0, help="--trust-code: seconds per row of foreign Python (above 0)")
    validate.add_argument("--memory-limit", type=positive, default=4.0, help="--trust-code: GiB of address space per row of foreign Python")
    validate.add_argument(
        "--allow-unverified", action="store_true", help="exit 0 even when some rows could not be checked (they are still listed) or none was executed"
    )
    validate.add_argument("--num-proc", type=int, default=1, help="rows validated at once, each with its own XLA and interpreter processes")
    validate.add_argument(
        "--resume-file", type=Path, help="keep each row's result in this file as it is checked; the same command again checks only the rows it lacks"
    )
    _add_config_values(validate)
    validate.add_argument("--cache-dir", help="datasets cache directory for a config built on the fly")
    validate.set_defaults(func=cmd_validate, shard_size=None)

    evaluate = sub.add_parser(
        "evaluate",
        help="score a model's predictions (JSON Lines of id and prediction) against reference rows",
        epilog="Reads HF_ENDPOINT and HF_TOKEN when --reference is a Hub repo id, HF_HOME / HF_DATASETS_CACHE, and XDG_CACHE_HOME "
        "(where the reference's outputs are kept, unless --reference-cache).",
    )
    evaluate.add_argument("--task", required=True, help="python-to-stablehlo, stablehlo-to-python, forward-to-gradient or cost")
    evaluate.add_argument("--predictions", required=True, help='a JSON Lines file, one {"id": ..., "prediction": ...} a line')
    evaluate.add_argument("--reference", required=True, help="a directory written by `build --output-dir`, or a Hub dataset repo id")
    evaluate.add_argument("--reference-config", help="the config of a Hub dataset (e.g. bench)")
    evaluate.add_argument("--split", default="test", help="the reference split (default: test)")
    evaluate.add_argument("--report", help="write the JSON report here")
    evaluate.add_argument("--num-proc", type=int, default=1, help="rows scored at once")
    evaluate.add_argument("--sample", type=int, help="score a seeded sample of this many rows")
    evaluate.add_argument("--input-seed", type=int, default=0, help="seed of the sample and of the inputs drawn")
    evaluate.add_argument("--execution-timeout", type=positive, default=120.0, help="seconds per XLA run, compile included (above 0)")
    evaluate.add_argument("--time-limit", type=positive, default=60.0, help="seconds per Python prediction (above 0)")
    evaluate.add_argument("--memory-limit", type=positive, default=4.0, help="GiB of address space per Python prediction (above 0)")
    evaluate.add_argument(
        "--reference-cache", help="keep the reference's outputs on the drawn inputs here, reused by later runs "
        "(default: ~/.cache/jax-stablehlo-pairs/reference-outputs, under $XDG_CACHE_HOME when set)",
    )  # fmt: skip
    evaluate.add_argument("--no-reference-cache", action="store_true", help="run the reference every time; keep nothing")
    evaluate.set_defaults(func=cmd_evaluate)

    publish = sub.add_parser(
        "publish",
        help="build configs (or reuse builds) and push them to the Hub with a dataset card",
        description="Push configs to a Hub dataset repo, one commit of Parquet shards per config, then the dataset card. "
        "Before anything is pushed, every row's stored hashes are checked against its IR, a seeded sample of rows (and the "
        "first of each split) is regenerated, and a --from-dir build's files must match the digests in its build.json. "
        "A Parquet build (`build --engine ray`) is pushed file for file, as it is.",
        epilog=HUB_ENV,
    )
    publish.add_argument("repo_id", help="the dataset repo, e.g. my-org/jax-stablehlo-pairs (created if missing)")
    publish.add_argument(
        "--config", dest="configs", action="append", default=[], metavar="NAME", help="a config to publish (repeat for more)"
    )
    publish.add_argument(
        "--from-dir",
        "--from-disk",
        dest="from_disk",
        action="append",
        default=[],
        metavar="[CONFIG=]DIR",
        help="publish a `build --output-dir` directory (either engine; its build.json names the config) as it is; repeat for more",
    )
    publish.add_argument("--private", action="store_true", help="create the repo private (an existing repo keeps its visibility)")
    publish.add_argument("--revision", help="push to this branch (created from main if missing) instead of main")
    _add_build_options(publish, "worker processes for builds", "datasets cache directory (a finished build there is reused)")
    publish.set_defaults(func=cmd_publish)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except ConfigError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    except Exception as err:
        if not _interrupted(err):
            raise
        print("interrupted (an unfinished build never replaces its --output-dir)", file=sys.stderr)
        return 130
    except KeyboardInterrupt:
        print("interrupted (an unfinished build never replaces its --output-dir)", file=sys.stderr)
        return 130


def _interrupted(err: BaseException) -> bool:
    """Ctrl-C during a num_proc build can surface as the worker pool's TimeoutError raised while
    handling the KeyboardInterrupt (the builder turns it back into one; this catches the rest)."""
    from .hf_builder import caused_by_interrupt

    return caused_by_interrupt(err)


if __name__ == "__main__":
    sys.exit(main())
