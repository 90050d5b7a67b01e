"""The `jax-stablehlo-pairs` command: build a config to disk and print its summary."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from .config import ConfigError


def _overrides(args: argparse.Namespace) -> dict[str, Any]:
    keys = ("seed", "train_size", "validation_size", "test_size", "min_statements", "max_statements", "max_args")
    out = {k: getattr(args, k) for k in keys if getattr(args, k) is not None}
    if args.hlo_optimized:
        out["hlo_optimized"] = True
    return out


def make_builder(config: str, cache_dir: str | None = None, **overrides: Any):
    """The builder the loading script would make, without needing the script file."""
    from .hf_builder import NAMED, PairsBuilder

    if config not in NAMED:
        raise ConfigError(f"unknown config {config!r}. Known configs: {', '.join(sorted(NAMED))}")
    return PairsBuilder(config_name=config, dataset_name="jax_stablehlo_pairs", cache_dir=cache_dir, **overrides)


def cmd_build(args: argparse.Namespace) -> int:
    from .stats import collect

    out = Path(args.output_dir)
    if out.exists() and any(out.iterdir()) and not args.overwrite:
        raise ConfigError(f"{out} is not empty; pass --overwrite to replace what is there, or pick another --output-dir")
    builder = make_builder(args.config, args.cache_dir, **_overrides(args))
    builder.download_and_prepare(num_proc=args.num_proc if args.num_proc > 1 else None)
    ds = builder.as_dataset()
    ds.save_to_disk(str(out))
    print(f"\n{args.config}: saved to {out}")
    print(collect(ds).format())
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
    build.add_argument("--hlo-optimized", action="store_true", help="also compile each program and store optimized HLO")
    build.add_argument("--num-proc", type=int, default=1, help="worker processes (shards run in parallel)")
    build.add_argument("--cache-dir", help="datasets cache directory (default: HF_DATASETS_CACHE)")
    build.add_argument("--overwrite", action="store_true", help="replace a non-empty --output-dir")
    build.set_defaults(func=cmd_build)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except ConfigError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
