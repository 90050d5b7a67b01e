"""The `jax-stablehlo-pairs` command, run as a user runs it."""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import ROOT

import builder
from builder.cli import _overrides, build_parser, main


def cli(*args: str, env: dict[str, str], cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    exe = Path(sys.executable).with_name("jax-stablehlo-pairs")
    return subprocess.run([str(exe), *args], env=env, cwd=cwd, capture_output=True, text=True, timeout=600, check=False)


def test_build_writes_a_dataset_dict_and_a_summary(hf_env, tmp_path):
    from datasets import load_from_disk

    out = tmp_path / "out"
    proc = cli("build", "matrix", "--seed", "7", "--train-size", "6", "--validation-size", "2", "--test-size", "2",
               "--output-dir", str(out), env=hf_env)
    assert proc.returncode == 0, proc.stderr[-3000:]
    ds = load_from_disk(str(out))
    assert {s: len(d) for s, d in ds.items()} == {"train": 6, "validation": 2, "test": 2}
    assert set(ds["train"]["category"]) == {"matrix"}
    assert "distinct StableHLO/CHLO ops:" in proc.stdout
    assert "failed to lower (replaced): 0" in proc.stdout
    assert "stablehlo.dot_general" in proc.stdout


# --- bad input and the output directory (in-process: `main` is what the command runs) -------

TINY = ("--train-size", "3", "--validation-size", "1", "--test-size", "1", "--max-statements", "5")


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["build", "matrx"], "unknown config 'matrx' (did you mean 'matrix'?). Known configs: "),
        (["build", "matrix", "--categories", "matrx=1"], "unknown category 'matrx' (did you mean 'matrix'?)"),
        (["build", "matrix", "--categories", "matrix=heavy"], "--categories: the weight of 'matrix' must be a number"),
        (["build", "matrix", "--categories", "matrix=-1"], "the weight of category 'matrix' is negative"),
        (["build", "matrix", "--categories", "matrix=0,reduction=0"], "all category weights are 0"),
        (["build", "matrix", "--categories", "matrix,matrix"], "--categories names 'matrix' twice"),
        (["build", "matrix", "--train-size", "-4"], "train_size must be between 0 and 10,000,000"),
        (["build", "matrix", "--test-size", "99999999999"], "test_size must be between 0 and 10,000,000"),
        (["build", "matrix", "--seed", "-1"], "seed must be between 0 and 9,223,372,036,854,775,807"),
        (["build", "matrix", "--min-statements", "9", "--max-statements", "3"], "min_statements (9) is larger than max_statements (3)"),
        (["build", "matrix", "--num-proc", "0"], "--num-proc must be at least 1, got 0"),
    ],
)
def test_bad_input_is_one_clear_line(args, fragment, tmp_path, capsys):
    assert main([*args, "--output-dir", str(tmp_path / "out"), "--cache-dir", str(tmp_path / "cache")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and fragment in err, err
    assert "Traceback" not in err
    assert not (tmp_path / "out").exists() and not (tmp_path / "cache").exists()  # said so before any work


@pytest.mark.parametrize(("flag", "value"), [("--seed", "abc"), ("--train-size", "2.5")])
def test_a_non_integer_flag_is_refused_by_the_parser(flag, value, capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["build", "matrix", flag, value, "--output-dir", "unused"])
    assert exit_.value.code == 2
    assert f"argument {flag}: invalid int value: '{value}'" in capsys.readouterr().err


@pytest.mark.parametrize(
    "command",
    [["build", "matrix", "--output-dir", "unused"], ["validate", "matrix"], ["publish", "org/repo", "--config", "matrix"]],
    ids=["build", "validate", "publish"],
)
def test_every_command_that_builds_takes_the_same_config_values(command):
    values = ["--seed", "3", "--train-size", "40", "--categories", "matrix=2,reduction=1"]
    values += ["--split-mode", "structural", "--portable-only"]
    got = _overrides(build_parser().parse_args([*command, *values]))
    assert got == {"seed": 3, "train_size": 40, "categories": {"matrix": 2.0, "reduction": 1.0}, "split_mode": "structural", "portable_only": True}


def build(out, cache, *extra: str) -> int:
    return main(["build", "matrix", *TINY, "--output-dir", str(out), "--cache-dir", str(cache), *extra])


def test_an_output_dir_with_another_build_is_replaced_only_when_asked_and_never_mixed(tmp_path, capsys, monkeypatch):
    from datasets import DatasetDict, load_from_disk

    out, cache = tmp_path / "out", tmp_path / "cache"
    assert build(out, cache, "--seed", "1") == 0
    first = load_from_disk(str(out))
    assert json.loads((out / "build.json").read_text())["values"]["seed"] == 1
    assert (out / "failures.jsonl").read_text() == ""  # checked: nothing failed

    assert build(out, cache, "--seed", "2") == 2
    err = capsys.readouterr().err
    assert "already holds a build of 'matrix' (seed 1; rows" in err and "pass --overwrite" in err

    # a replacement with fewer splits leaves no split of the old build behind
    assert main(["build", "matrix", "--seed", "2", "--train-size", "2", "--validation-size", "0", "--test-size", "1",
                 "--max-statements", "5", "--output-dir", str(out), "--cache-dir", str(cache), "--overwrite"]) == 0
    second = load_from_disk(str(out))
    assert {s: len(d) for s, d in second.items()} == {"train": 2, "test": 1}
    listing = {p.name for p in out.iterdir()}
    assert {"build.json", "dataset_dict.json", "failures.jsonl", "test", "train"} <= listing and "validation" not in listing
    assert second["train"]["python"] != first["train"]["python"][:2]

    # an overwrite interrupted while writing leaves the previous build untouched and no debris
    real = DatasetDict.save_to_disk

    def interrupted(self, path, **kwargs):
        real(self, path, **kwargs)
        raise KeyboardInterrupt

    monkeypatch.setattr(DatasetDict, "save_to_disk", interrupted)
    assert build(out, cache, "--seed", "3", "--overwrite") == 130
    assert "interrupted" in capsys.readouterr().err
    assert load_from_disk(str(out))["train"]["python"] == second["train"]["python"]
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".out.") and not p.name.endswith(".lock")) == []


def test_an_output_dir_holding_other_files_is_never_replaced(tmp_path, capsys):
    out = tmp_path / "notes"
    out.mkdir()
    (out / "thesis.tex").write_text("years of work")
    assert build(out, tmp_path / "cache", "--overwrite") == 2
    assert "holds files that are not a build written by `build` (thesis.tex); refusing to replace them, even with --overwrite" in capsys.readouterr().err
    assert (out / "thesis.tex").read_text() == "years of work"
    assert not (tmp_path / "cache").exists()
    (tmp_path / "file").write_text("x")
    assert build(tmp_path / "file", tmp_path / "cache") == 2
    assert "is a file" in capsys.readouterr().err


def test_a_cache_inside_the_output_dir_is_refused_before_any_work(tmp_path, capsys):
    assert build(tmp_path / "out", tmp_path / "out" / "cache") == 2
    assert "the datasets cache" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_ctrl_c_during_a_parallel_build_is_reported_as_an_interrupt(tmp_path, capsys, monkeypatch):
    """With num_proc, Ctrl-C reaches the CLI as the pool's TimeoutError raised while handling
    the KeyboardInterrupt; it must read as an interrupt, not as a traceback."""
    from builder.hf_builder import PairsBuilder

    def interrupted(self, *args, **kwargs):
        try:
            raise KeyboardInterrupt
        except KeyboardInterrupt:
            raise TimeoutError from None  # what multiprocess' pool raises: context kept, cause hidden

    monkeypatch.setattr(PairsBuilder, "download_and_prepare", interrupted)
    assert build(tmp_path / "out", tmp_path / "cache", "--num-proc", "2") == 130
    assert capsys.readouterr().err.startswith("interrupted")
    assert not (tmp_path / "out").exists()


def test_size_limits_too_tight_for_the_split_size_are_a_config_error(tmp_path, capsys):
    """Options that conflict: one-statement, one-argument programs cannot fill 2,000 distinct rows."""
    code = main(["build", "elementwise", "--train-size", "2000", "--validation-size", "0", "--test-size", "0",
                 "--min-statements", "1", "--max-statements", "1", "--max-args", "1",
                 "--output-dir", str(tmp_path / "out"), "--cache-dir", str(tmp_path / "cache")])
    assert code == 2
    err = capsys.readouterr().err
    assert "no new program in" in err and "raise max_statements or shrink the split" in err and "Traceback" not in err
    assert not (tmp_path / "out").exists()


# --- issue 15: nothing is deleted that we did not write; errors before work; the help --------------

def test_a_project_folder_with_an_empty_build_json_is_never_deleted(tmp_path, capsys):
    out = tmp_path / "project"
    (out / "src").mkdir(parents=True)
    (out / "src" / "main.js").write_text("console.log('years of work')")
    (out / "README.md").write_text("# my project")
    (out / "build.json").write_text("{}")
    for extra in ((), ("--overwrite",)):
        assert build(out, tmp_path / "cache", *extra) == 2
        err = capsys.readouterr().err
        assert "holds files that are not a build written by `build` (build.json lacks config" in err, err
        assert "README.md" in err and "src/" in err and "refusing to replace them, even with --overwrite" in err
        assert "None" not in err
    assert (out / "src" / "main.js").read_text() == "console.log('years of work')" and (out / "README.md").exists()
    assert not (tmp_path / "cache").exists()  # refused before any work


@pytest.mark.parametrize("flag", ["--output-dir", "--cache-dir"])
def test_an_unwritable_directory_is_named_before_any_work(tmp_path, capsys, flag):
    paths = {"--output-dir": str(tmp_path / "out"), "--cache-dir": str(tmp_path / "cache"), flag: "/proc/jsp-test/dir"}
    code = main(["build", "matrix", *TINY, "--output-dir", paths["--output-dir"], "--cache-dir", paths["--cache-dir"]])
    assert code == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: {flag} /proc/jsp-test/dir: cannot write in /proc") and "pick a folder you can write to" in err, err
    assert not (tmp_path / "out").exists() and not (tmp_path / "cache").exists()


def test_a_full_disk_is_named_before_any_work(tmp_path, capsys, monkeypatch):
    import shutil

    from builder.pipeline import output

    real = shutil.disk_usage
    monkeypatch.setattr(output.shutil, "disk_usage", lambda p: real(p)._replace(free=1 << 20))  # 1 MiB left
    assert main(["build", "matrix", "--train-size", "100", "--validation-size", "0", "--test-size", "0",
                 "--output-dir", str(tmp_path / "out"), "--cache-dir", str(tmp_path / "cache")]) == 2
    err = capsys.readouterr().err
    assert "error: --output-dir" in err and "1 MiB free on the file system of" in err and "free some space" in err, err
    assert not (tmp_path / "out").exists() and not (tmp_path / "cache").exists()


def all_parsers(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    found = {"jax-stablehlo-pairs": parser}
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            found |= {name: sub for name, sub in action.choices.items()}
    return found


def test_help_documents_every_command_flag_and_the_environment_they_read():
    parsers = all_parsers(build_parser())
    assert {"build", "validate", "publish"} <= set(parsers)
    for name, parser in parsers.items():
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                undocumented = [c.dest for c in action._choices_actions if not c.help]
                assert not undocumented, f"commands without help: {undocumented}"
                continue
            assert action.help and action.help != argparse.SUPPRESS, f"{name} {action.option_strings or action.dest} has no help"
    assert "HF_TOKEN" in parsers["publish"].format_help() and "HF_ENDPOINT" in parsers["publish"].format_help()
    for name in ("build", "validate", "publish", "evaluate"):
        assert "HF_HOME" in parsers[name].format_help() and "HF_DATASETS_CACHE" in parsers[name].format_help()
    assert "HF_ENDPOINT" in parsers["evaluate"].format_help()
    assert "--allow-unverified" in parsers["validate"].format_help()


def test_version_names_the_project_jax_and_datasets(capsys):
    from importlib.metadata import version

    with pytest.raises(SystemExit) as exit_:
        main(["--version"])
    assert exit_.value.code == 0
    out = capsys.readouterr().out
    assert f"jax-stablehlo-pairs {builder.__version__}" in out
    assert f"jax {version('jax')}" in out and f"jaxlib {version('jaxlib')}" in out and f"datasets {version('datasets')}" in out
