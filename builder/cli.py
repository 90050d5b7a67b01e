"""The `jax-stablehlo-pairs` command: build a config to disk and print its summary."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from .config import ConfigError


def _overrides(args: argparse.Namespace) -> dict[str, Any]:
    keys = ("seed", "train_size", "validation_size", "test_size", "min_statements", "max_statements", "max_args", "shard_size")
    out = {k: getattr(args, k) for k in keys if getattr(args, k) is not None}
    if args.hlo_optimized:
        out["hlo_optimized"] = True
    if args.categories is not None:
        out["categories"] = parse_categories(args.categories)
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


def make_builder(config: str, cache_dir: str | None = None, **overrides: Any):
    """The builder the loading script would make, without needing the script file."""
    from .hf_builder import PairsBuilder

    return PairsBuilder(config_name=config, dataset_name="jax_stablehlo_pairs", cache_dir=cache_dir, **overrides)


def cmd_build(args: argparse.Namespace) -> int:
    from dataclasses import asdict

    import datasets

    from .extractor import jax_version
    from .failures import REPORT_NAME, describe, read_report
    from .fingerprint import code_fingerprint
    from .output import check_separate, check_target, staged, write_manifest
    from .stats import collect

    out = Path(args.output_dir)
    if args.num_proc < 1:
        raise ConfigError(f"--num-proc must be at least 1, got {args.num_proc}")
    check_target(out, args.overwrite)
    check_separate(out, Path(args.cache_dir or datasets.config.HF_DATASETS_CACHE))
    builder = make_builder(args.config, args.cache_dir, **_overrides(args))  # checks every value: no work yet
    builder.download_and_prepare(num_proc=args.num_proc if args.num_proc > 1 else None)
    ds = builder.as_dataset()
    failures = read_report(Path(builder.cache_dir)) or []
    stats = collect(ds, failures=len(failures))
    with staged(out, args.overwrite) as tmp:  # `out` changes only once the whole build is written
        ds.save_to_disk(str(tmp))
        (tmp / REPORT_NAME).write_text((Path(builder.cache_dir) / REPORT_NAME).read_text() if failures else "")
        write_manifest(tmp, {
            "config": args.config,
            "values": asdict(builder.pairs_config),
            "code_fingerprint": code_fingerprint(),
            "jax_version": jax_version(),
            "rows": dict(stats.rows),
            "failures": len(failures),
        })
    print(f"\n{args.config}: saved to {out}")
    print(stats.format())
    for failure in failures[:20]:
        print(f"  failed: {describe(failure)}")
    if failures:
        print(f"  seed, category and error of every failure: {out / REPORT_NAME}")
    return 0


def cmd_publish(args: argparse.Namespace) -> int:
    from .hub import PublishError, endpoint, publish

    from_disk = {}
    for item in args.from_disk:
        name, sep, path = item.partition("=")
        if not sep or not name or not path:
            raise ConfigError(f"--from-disk expects CONFIG=DIR (e.g. balanced=out/balanced), got {item!r}")
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


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="jax-stablehlo-pairs", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    build = sub.add_parser("build", help="build a config and save the DatasetDict to disk")
    build.add_argument("config", help="a config name from configs/ (e.g. balanced)")
    build.add_argument("--output-dir", required=True, help="where to save the DatasetDict")
    build.add_argument("--seed", type=int)
    build.add_argument("--train-size", type=int)
    build.add_argument("--validation-size", type=int)
    build.add_argument("--test-size", type=int)
    build.add_argument("--min-statements", type=int)
    build.add_argument("--max-statements", type=int)
    build.add_argument("--max-args", type=int)
    build.add_argument("--categories", help="category weights, e.g. 'matrix=2,reduction=1' (default: the config's)")
    build.add_argument("--shard-size", type=int, help="rows per work unit")
    build.add_argument("--hlo-optimized", action="store_true", help="also compile each program and store optimized HLO")
    build.add_argument("--num-proc", type=int, default=1, help="worker processes (shards run in parallel)")
    build.add_argument("--cache-dir", help="datasets cache directory (default: HF_DATASETS_CACHE)")
    build.add_argument(
        "--overwrite", action="store_true", help="replace an earlier build in --output-dir (once the new one is complete)"
    )
    build.set_defaults(func=cmd_build)

    publish = sub.add_parser("publish", help="build configs (or reuse builds) and push them to the Hub with a dataset card")
    publish.add_argument("repo_id", help="the dataset repo, e.g. my-org/jax-stablehlo-pairs (created if missing)")
    publish.add_argument(
        "--config", dest="configs", action="append", default=[], metavar="NAME", help="a config to publish (repeat for more)"
    )
    publish.add_argument(
        "--from-disk", action="append", default=[], metavar="CONFIG=DIR", help="publish a `build --output-dir` directory as CONFIG"
    )
    publish.add_argument("--private", action="store_true", help="create the repo private (an existing repo keeps its visibility)")
    publish.add_argument("--revision", help="push to this branch (created from main if missing) instead of main")
    publish.add_argument("--seed", type=int)
    publish.add_argument("--train-size", type=int)
    publish.add_argument("--validation-size", type=int)
    publish.add_argument("--test-size", type=int)
    publish.add_argument("--min-statements", type=int)
    publish.add_argument("--max-statements", type=int)
    publish.add_argument("--max-args", type=int)
    publish.add_argument("--categories", help="category weights, e.g. 'matrix=2,reduction=1' (default: the config's)")
    publish.add_argument("--shard-size", type=int, help="rows per work unit")
    publish.add_argument("--hlo-optimized", action="store_true", help="also compile each program and store optimized HLO")
    publish.add_argument("--num-proc", type=int, default=1, help="worker processes for builds")
    publish.add_argument("--cache-dir", help="datasets cache directory (a finished build there is reused)")
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
