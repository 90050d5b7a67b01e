"""`validate` proves rows and catches broken ones: a flipped op, a dropped line, a wrong constant,
foreign Python; foreign Python runs only with --trust-code, inside time and memory limits."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from dataclasses import asdict
from pathlib import Path

import datasets
import pytest

from builder.cli import main
from builder.config import PairsConfig, resolve
from builder.lowering.irhash import canonical_hash, structure_hash
from builder.pipeline.output import write_manifest
from builder.pipeline.rows import generate_rows, make_row
from builder.pipeline.seeds import limits_of
from builder.validation.runners import make_inputs
from builder.validation.sandbox import Limits, run_untrusted
from builder.validation.validate import FAIL, MISCOMPILED, OK, SKIP, TIES_BROKEN, Options, RowReport, Summary, Validator, run

CONFIG = PairsConfig(
    name="v", seed=11, train_size=3, validation_size=0, test_size=0,
    categories=(("arithmetic", 1.0), ("elementwise", 1.0)), min_statements=3, max_statements=5,
)  # fmt: skip
FLOAT_BINARY = re.compile(r"stablehlo\.(add|subtract|multiply) (.*tensor<[0-9x]*f32>)$", re.MULTILINE)
FLIP = {"add": "subtract", "subtract": "add", "multiply": "add"}


@pytest.fixture(scope="module")
def rows() -> list[dict]:
    return [row for _, row in generate_rows(CONFIG, "train", 0, CONFIG.train_size)]


@pytest.fixture(scope="module")
def validator():
    with Validator(limits_of(CONFIG), Options()) as v:
        yield v


def flippable(rows: list[dict]) -> dict:
    return next(r for r in rows if FLOAT_BINARY.search(r["stablehlo"]))


def test_generated_rows_pass_every_check(rows, validator):
    for row in rows:
        report = validator.validate(row)
        assert not report.failed, report.findings
        for check in ("regenerate", "parse", "xla", "python", "relower"):
            assert report.status(check) == OK, (check, report.findings)
        assert report.status("interpreter") in (OK, SKIP)
        assert report.agreed


def test_a_flipped_op_is_caught_by_execution(rows, validator):
    row = flippable(rows)
    m = FLOAT_BINARY.search(row["stablehlo"])
    broken = row["stablehlo"][: m.start()] + f"stablehlo.{FLIP[m.group(1)]} {m.group(2)}" + row["stablehlo"][m.end() :]
    report = validator.validate({**row, "stablehlo": broken})
    assert report.status("parse") == OK and report.status("xla") == OK
    assert report.status("python") == FAIL, report.findings  # the IR no longer computes what the Python does
    assert report.status("relower") == FAIL
    assert not report.agreed


def test_a_dropped_line_is_caught_by_parsing(rows, validator):
    lines = rows[0]["stablehlo"].splitlines()
    drop = next(i for i, line in enumerate(lines) if line.strip().startswith("%0 ="))
    report = validator.validate({**rows[0], "stablehlo": "\n".join(lines[:drop] + lines[drop + 1 :])})
    assert report.status("parse") == FAIL
    assert "undeclared" in next(f.detail for f in report.findings if f.status == FAIL)


def test_a_module_without_an_entry_function_fails_parsing_and_says_so(rows, validator):
    renamed = rows[0]["stablehlo"].replace("func.func public @main(", "func.func public @entry(", 1)
    report = validator.validate({**rows[0], "stablehlo": renamed})
    assert report.status("parse") == FAIL
    assert "no @main function" in next(f.detail for f in report.findings if f.status == FAIL)


def test_a_loop_trip_count_the_ir_does_not_run_fails_parsing(rows, validator):
    """`loop_trip_counts` scales cost figures, so it must name the stablehlo's loops: [4] where the module has none is a finding."""
    assert rows[0]["loop_trip_counts"] == []
    report = validator.validate({**rows[0], "loop_trip_counts": [4]})
    assert report.status("parse") == FAIL
    assert "loop_trip_counts says [4]" in next(f.detail for f in report.findings if f.status == FAIL)


def test_a_wrong_constant_is_caught_by_execution(rows, validator):
    constant = re.compile(r"dense<(-?[0-9.]+e[+-][0-9]+)> : tensor<f32>")
    row = next(r for r in rows if constant.search(r["stablehlo"]))
    m = constant.search(row["stablehlo"])
    wrong = f"dense<{float(m.group(1)) + 1.5:e}> : tensor<f32>"
    report = validator.validate({**row, "stablehlo": row["stablehlo"][: m.start()] + wrong + row["stablehlo"][m.end() :]})
    assert report.status("python") == FAIL, report.findings
    assert "elements" in next(f.detail for f in report.findings if f.check == "python")


def test_foreign_python_is_reported_and_not_run(rows, validator):
    row = {**rows[0], "python": "import os\n" + rows[0]["python"]}  # a program imports only what it uses: add a line
    report = validator.validate(row)
    assert report.status("regenerate") == FAIL
    assert "-import os" in next(f.detail for f in report.findings if f.check == "regenerate")
    assert report.status("python") == SKIP and "--trust-code" in next(f.detail for f in report.findings if f.check == "python")
    assert report.status("xla") == OK  # the IR is still checked


def test_trusted_foreign_python_runs_in_the_sandbox(rows):
    row = {**rows[0], "python": rows[0]["python"] + "\n# edited elsewhere\n"}
    with Validator(limits_of(CONFIG), Options(trust_code=True, interpreter=False)) as v:
        report = v.validate(row)
    assert report.status("regenerate") == FAIL
    assert report.status("python") == OK and report.status("grad") in (OK, None)
    assert report.status("relower") == OK


def test_the_sandbox_enforces_time_and_memory_limits(rows):
    row = rows[0]
    inputs = make_inputs(row["args"], 0, row["stablehlo"])
    slow = {**row, "python": "import time\ntime.sleep(120)\n" + row["python"]}
    side = run_untrusted(slow, inputs, relower=False, limits=Limits(seconds=6))
    assert side.error is not None and "time limit" in side.error
    greedy = {**row, "python": "hog = bytearray(6 << 30)\n" + row["python"]}
    side = run_untrusted(greedy, inputs, relower=False, limits=Limits(seconds=60, memory_bytes=3 << 30))
    assert side.error is not None and "memory limit" in side.error, side.error


def test_the_command_prints_a_table_and_fails_on_a_broken_row(rows, tmp_path, capsys):
    row = flippable(rows)
    m = FLOAT_BINARY.search(row["stablehlo"])
    flipped = row["stablehlo"][: m.start()] + f"stablehlo.{FLIP[m.group(1)]} {m.group(2)}" + row["stablehlo"][m.end() :]
    broken = {**row, "id": "test-0000009", "stablehlo": flipped}
    out = tmp_path / "build"
    splits = {"train": datasets.Dataset.from_list([row]), "test": datasets.Dataset.from_list([broken])}  # a repeat across splits
    datasets.DatasetDict(splits).save_to_disk(str(out))
    write_manifest(out, {"config": "v", "values": asdict(CONFIG)})
    assert main(["validate", str(out), "--no-interpreter"]) == 1
    printed = capsys.readouterr().out
    # checked regenerated parsed executed interpreted agreed relowered unique verified unverified failed
    assert re.search(r"total\s+2\s+2\s+2\s+2\s+0\s+1\s+1\s+1\s+1\s+0\s+1\n", printed), printed
    assert f"same python as {row['id']}" in printed  # the copy in test repeats the train row
    assert f"test-0000009 [{row['category']}] seed {row['seed']}" in printed
    assert main(["validate", str(out), "--no-interpreter", "--sample", "1", "--input-seed", "3"]) in (0, 1)
    assert "validated 1 rows" in capsys.readouterr().out


def test_validating_in_parallel_gives_the_same_reports_in_the_same_order(rows):
    copy = {**rows[1], "id": "test-0000000"}  # repeats a train row: the identity check must name the same first row
    splits = {"train": datasets.Dataset.from_list(rows), "test": datasets.Dataset.from_list([copy])}

    def findings(num_proc: int) -> list:
        summary = run(splits, CONFIG, Options(), progress=False, num_proc=num_proc)
        return [(r.id, r.input_seed, r.findings) for r in summary.reports]

    serial = findings(1)
    assert [r[0] for r in serial] == [r["id"] for r in rows] + ["test-0000000"]
    assert any(f.check == "identity" and f.status == FAIL and rows[1]["id"] in f.detail for f in serial[-1][2])
    assert findings(2) == serial
    with pytest.raises(ValueError, match="num_proc"):
        run(splits, CONFIG, Options(), progress=False, num_proc=0)


def test_agreement_counts_rows_executed_and_compared():
    def report(*findings: tuple[str, str]) -> RowReport:
        r = RowReport("train-0000000", "random", 1, 2)
        for check, status in findings:
            r.add(check, status)
        return r

    agreed = report(("xla", OK), ("interpreter", OK), ("python", OK))
    disagreed = report(("xla", OK), ("interpreter", FAIL), ("python", OK))
    uncompared = report(("xla", OK), ("interpreter", SKIP), ("python", SKIP))  # stablehlo.rng: no values to compare
    not_run = report(("xla", SKIP))
    line = Summary([agreed, disagreed, uncompared, not_run]).agreement()
    assert line == "agreement under execution: 1 of 2 rows executed and compared (50.00%); 1 more executed rows had no values to compare (see skipped checks)"


def test_results_that_are_a_floats_bits_are_found_in_the_ir():
    import jax
    import jax.numpy as jnp
    import numpy as np

    from builder.validation.runners import float_bit_patterns

    x = np.ones(3, np.float32)

    def f(x):
        bits = jax.lax.bitcast_convert_type
        return bits(jnp.sin(x), jnp.int32), x, bits(x.astype(jnp.bfloat16), jnp.uint16), bits(x, jnp.uint8), bits(x.astype(jnp.int32), jnp.float32)

    text = jax.jit(f).lower(x).as_text()
    assert float_bit_patterns(text) == {0: "float32", 2: "bfloat16", 3: "float32"}  # also split into bytes; not int -> float


PARALLEL = PairsConfig(
    name="p", seed=3, train_size=1, validation_size=0, test_size=0,
    categories=(("parallel", 1.0),), min_statements=3, max_statements=8,
)  # fmt: skip


def test_a_shard_map_row_runs_partitioned_over_host_devices_and_a_flipped_collective_is_caught():
    [(_, row)] = list(generate_rows(PARALLEL, "train", 0, 1))
    assert "sdy.manual_computation" in row["stablehlo"] and "stablehlo.all_reduce" in row["stablehlo"]
    with Validator(limits_of(PARALLEL), Options(interpreter=False)) as v:
        report = v.validate(row)
        assert not report.failed, report.findings
        for check in ("xla", "python", "relower"):  # executed: XLA partitions the IR text over the host's devices
            assert report.status(check) == OK, (check, report.findings)
        assert report.agreed
        other_jax = v.validate({**row, "jax_version": "0.0.1"})  # not relowered, still executed (lowered once, over devices)
        assert other_jax.status("relower") == SKIP and other_jax.status("python") == OK and other_jax.agreed
        # the reduction every all_reduce applies across devices, made a maximum: only running it shows that
        summed = re.compile(r"(stablehlo\.all_reduce.*?\n.*?)stablehlo\.add", re.DOTALL)
        broken = {**row, "stablehlo": summed.sub(r"\1stablehlo.maximum", row["stablehlo"])}
        assert broken["stablehlo"] != row["stablehlo"]
        report = v.validate(broken)
    assert report.status("parse") == OK and report.status("xla") == OK
    assert report.status("python") == FAIL, report.findings


def test_a_partitioned_gradient_that_is_zero_in_exact_arithmetic_agrees_within_its_rounding():
    """Regression (campaign parallel train-0000542): the program returns a softmax, so the gradient of its
    summed outputs is zero but for rounding. XLA on the gradient text (abstract mesh, a line of host devices)
    and JAX on the Python (a concrete 2x2 mesh) partition differently and round to other noise, up to 1.5e-6
    apart; within what a few ulps of input noise move XLA's own result, so agreed, and said so."""
    config = resolve("parallel")
    row = make_row(config, "train", 542, "parallel", 5899303346570970571)
    with Validator(limits_of(config), Options(interpreter=False)) as v:
        report = v.validate(row)
    assert report.status("grad") == OK, report.findings
    [grad] = [f for f in report.findings if f.check == "grad"]
    assert grad.detail.startswith("partitioned: agreed within 4x") and "d/d leaf 1" in grad.detail


def test_xla_disagreeing_with_itself_is_reported_as_a_miscompile_not_an_ir_difference():
    """jaxlib 0.10.2's XLA:CPU sums `(x - z).astype(f32)` of 4,096 uint8s as if the subtraction did not wrap
    (broadcasting seed 7100893465118667184); returning the difference too, or the interpreter, wraps as the spec says."""
    import jax
    import jax.numpy as jnp
    import numpy as np

    from builder.validation.runners import run_xla

    rng = np.random.default_rng(0)
    x, z = (rng.integers(0, 9, 4096).astype(np.uint8) for _ in range(2))
    text = jax.jit(lambda x, z: jnp.sum((x - z).astype(jnp.float32))).lower(x, z).as_text()
    xla = run_xla(text, [x, z])
    exact = (x - z).astype(np.float64).sum()  # numpy wraps uint8
    if abs(float(xla[0]) - exact) < 1:
        pytest.skip(f"this XLA ({jax.__version__}) sums the wrapped differences correctly")
    report = RowReport("train-0000000", "broadcasting", 0, 0)
    with Validator(None, Options()) as v:
        v._interpret("stablehlo", text, [x, z], xla, ["result"], report)
    assert report.status("interpreter") == OK, report.findings
    assert "XLA miscompiles this module" in report.findings[-1].detail
    printed = Summary([report]).format()
    assert "XLA miscompiles found (1;" in printed and "train-0000000 [broadcasting]" in printed


def test_near_tied_picks_xla_breaks_its_own_way_are_not_reported_as_a_miscompile():
    """control_flow seed 2984184272105099083 (in small, `tied_switch`): XLA's compile and its unfused run differ,
    the interpreter agrees with the latter, and it is rounding: a branch picked by an argmax of near-tied values."""
    from stablehlo_modules import tied_switch

    from builder.validation.runners import run_xla

    text, inputs = tied_switch()
    report = RowReport("train-0000807", "control_flow", 0, 0)
    with Validator(None, Options()) as v:
        v._interpret("stablehlo", text, inputs, run_xla(text, inputs), ["result"], report)
    detail = report.findings[-1].detail
    if "every intermediate returned" not in detail:
        pytest.skip(f"this XLA breaks the ties as the interpreter does: {detail[:200]}")
    assert report.status("interpreter") == OK, report.findings
    assert TIES_BROKEN in detail and "argmax / argmin at op" in detail and MISCOMPILED not in detail, detail
    assert not Summary([report]).miscompiled()


def test_a_convolution_xla_pads_wrongly_is_reported_as_a_miscompile_and_not_compared_with_jax():
    """Convolution seed 2171026884518766101's gradient: XLA:CPU reads past the input on negative low padding
    (openxla/xla#48713); with the padding written out as a `stablehlo.pad` it agrees with the interpreter.
    JAX's own run is XLA's compile of the same IR, so the row's Python and gradient values prove nothing."""
    import jax
    from stablehlo_modules import NEGATIVE_PADDING, negative_padding_args

    from builder.validation.localize import PADDING_MISCOMPILED
    from builder.validation.runners import run_xla
    from builder.validation.validate import PADDING_WRITTEN_OUT, miscompiled

    args = negative_padding_args()
    xla = run_xla(NEGATIVE_PADDING, args)
    if abs(float(xla[0][0, 15, 0]) - float(args[0][0, 31] @ args[1][0, 0])) < 1e-4:  # the last window: x[31] and a zero
        pytest.skip(f"this XLA ({jax.__version__}) pads the convolution right")
    report = RowReport("train-0000451", "convolution", 2171026884518766101, 0)
    with Validator(None, Options()) as v:
        v._interpret("stablehlo", NEGATIVE_PADDING, args, xla, ["result"], report)
    assert report.status("interpreter") == OK, report.findings
    assert report.findings[-1].detail.startswith(f"stablehlo: XLA miscompiles this module: {PADDING_WRITTEN_OUT}")
    assert PADDING_MISCOMPILED not in report.findings[-1].detail  # told at once, before localization
    assert miscompiled(report, "stablehlo") and not miscompiled(report, "stablehlo_grad")
    assert "XLA miscompiles found (1;" in Summary([report]).format()


def test_without_the_interpreter_xla_padding_a_convolution_wrongly_is_still_found():
    """The framework-style configs validate without the interpreter, and JAX's run is XLA's compile of the same
    IR, so only XLA against itself can show a negative-padding convolution computed wrongly: convolution seed
    2171026884518766101 (campaign row train-0000451), validated as `validate --no-interpreter` does."""
    import jax

    from builder.config import load_all
    from builder.pipeline.rows import make_row
    from builder.validation.localize import NEGATIVE_CONV_PADDING
    from builder.validation.validate import PADDING_DIFFERS, miscompiled

    config = load_all()["convolution"]
    row = make_row(config, "train", 451, "convolution", 2171026884518766101)
    assert NEGATIVE_CONV_PADDING.search(row["stablehlo_grad"]) and not NEGATIVE_CONV_PADDING.search(row["stablehlo"])
    with Validator(limits_of(config), Options(interpreter=False)) as v:
        report = v.validate(row)
    padding = [f for f in report.findings if f.check == "padding"]
    assert [f.detail.split(":")[0] for f in padding] == ["stablehlo_grad"], report.findings  # the forward IR pads no input away
    if not miscompiled(report, "stablehlo_grad"):
        assert padding[0].detail.startswith("stablehlo_grad: XLA's values are the same"), padding
        pytest.skip(f"this XLA ({jax.__version__}) pads the convolution right")
    assert PADDING_DIFFERS in padding[0].detail and padding[0].status == OK
    assert not report.failed and report.verified, report.findings  # the IR is JAX's (relowered), XLA is wrong
    assert "XLA miscompiles found (1;" in Summary([report]).format()


def test_the_padding_check_runs_without_ynnpack_fusions_where_xla_fails_with_them(monkeypatch):
    """XLA:CPU failed ("YNNPACK operation failed") on an optax step's gradient with its padding written out and
    ran it without its YNNPACK fusions; the check then still judges, and says how XLA ran."""
    from stablehlo_modules import NEGATIVE_PADDING, negative_padding_args

    from builder.validation.runners import NO_YNN_FUSIONS, run_xla

    args = negative_padding_args()
    xla = run_xla(NEGATIVE_PADDING, args)
    report = RowReport("train-0000010", "optax_training", 0, 0)
    with Validator(None, Options(interpreter=False)) as v:
        quietly = v._xla_quietly
        options_asked = []

        def failing_with_ynn(text, inputs, options=None):
            options_asked.append(options)
            return quietly(text, inputs, options) if options == NO_YNN_FUSIONS else None  # as XLA did on that module

        monkeypatch.setattr(v, "_xla_quietly", failing_with_ynn)
        v._cross_check_padding("stablehlo", NEGATIVE_PADDING, args, xla, report)
    assert options_asked == [None, NO_YNN_FUSIONS]
    [finding] = report.findings
    assert finding.check == "padding" and finding.status == OK
    assert finding.detail.endswith("run without XLA's YNNPACK fusions, which failed on it)") or finding.detail.endswith(
        "written out; run without XLA's YNNPACK fusions, which failed on it"
    ), finding.detail


def test_a_convolution_that_pads_its_input_is_not_taken_for_one_that_crops_it():
    from stablehlo_modules import NEGATIVE_PADDING

    from builder.validation.localize import NEGATIVE_CONV_PADDING

    assert NEGATIVE_CONV_PADDING.search(NEGATIVE_PADDING)
    assert not NEGATIVE_CONV_PADDING.search(NEGATIVE_PADDING.replace("pad = [[-1, 1]]", "pad = [[1, 1]]"))
    assert NEGATIVE_CONV_PADDING.search(NEGATIVE_PADDING.replace("pad = [[-1, 1]]", "pad = [[0, -1]]"))


# --- trust nothing that was not checked (issue 15) ----------------------------------------------

ARG0 = re.compile(r"%arg0: (tensor<[^>]*>)")


def tampered(row: dict, custom_call: bool = True) -> dict:
    """The issue's row: one float op flipped, (optionally) an unused `custom_call @my_fast_kernel`, another
    JAX version, and the hash columns recomputed with the project's own hashing, so they match."""
    m = FLOAT_BINARY.search(row["stablehlo"])
    text = row["stablehlo"][: m.start()] + f"stablehlo.{FLIP[m.group(1)]} {m.group(2)}" + row["stablehlo"][m.end() :]
    if custom_call:
        arg = ARG0.search(text).group(1)
        ret = text.index("    return ")
        text = text[:ret] + f"    %unused = stablehlo.custom_call @my_fast_kernel(%arg0) : ({arg}) -> {arg}\n" + text[ret:]
    return {**row, "stablehlo": text, "jax_version": "jax 0.0.1, jaxlib 0.0.1, cpu",
            "canonical_hash": canonical_hash(text), "structure_hash": structure_hash(text)}


def test_an_ir_with_a_custom_call_its_program_does_not_produce_is_a_finding_not_a_skip(rows, validator):
    bad = tampered(flippable(rows))
    report = validator.validate(bad)
    assert report.status("parse") == OK, report.findings
    assert report.status("custom_call") == FAIL, report.findings
    assert "custom_call my_fast_kernel is in the IR but the row's program does not produce it" in report.findings[-1].detail
    assert report.failed and not report.verified
    summary = Summary([report])
    assert summary.problems()[0] == "1 rows failed" and summary.problems(allow_unverified=True) == ["1 rows failed"]


def test_the_issues_tampered_row_fails_the_command_even_with_allow_unverified(rows, tmp_path, capsys):
    """Before: XLA skipped it, relowering skipped it, the hashes matched, and validate exited 0 at 100%."""
    target = saved([tampered(flippable(rows))], tmp_path / "build")
    for extra in ([], ["--allow-unverified"]):
        assert main(["validate", target, "--no-interpreter", *extra]) == 1
        printed = capsys.readouterr().out
        assert "custom_call: custom_call my_fast_kernel is in the IR but the row's program does not produce it" in printed
        assert "verified: 0 of 1 rows" in printed and "result: 1 rows failed" in printed
    with pytest.raises(ValueError, match="sandbox limits must be above 0"):
        Limits(seconds=-15)


def test_a_row_that_could_not_be_checked_is_unverified_and_fails_the_run(rows):
    """No config (nothing to regenerate from), another JAX version (no relowering), and an unknown custom
    call (XLA will not run it without --trust-code): nothing proves the row, so it is not counted as agreeing."""
    bad = tampered(flippable(rows))
    with Validator(None, Options(interpreter=False)) as v:
        report = v.validate(bad)
    assert not report.executed and not report.failed  # XLA ran the gradient IR only
    assert report.unverified and not report.verified and not report.agreed
    assert "my_fast_kernel is not known to be safe" in report.why_unverified()
    summary = Summary([report])
    printed = summary.format()
    assert "verified: 0 of 1 rows (0.00%); unverified: 1; failed: 0" in printed
    line = next(x for x in printed.splitlines() if x.startswith(f"  {report.id} [{report.category}] seed {report.seed}: "))
    assert "regenerate: no build config" in line and "xla: stablehlo: custom_call my_fast_kernel is not known to be safe" in line
    assert not summary.ok
    assert summary.problems() == ["1 rows are unverified (see above; --allow-unverified accepts them)", "no row was executed (--allow-unverified accepts that)"]
    assert summary.problems(allow_unverified=True) == []


def test_a_flipped_op_under_another_jax_version_is_still_caught(rows, validator):
    report = validator.validate(tampered(flippable(rows), custom_call=False))
    assert report.status("xla") == OK and report.status("relower") == SKIP
    assert report.status("python") == FAIL and not report.verified


def test_only_the_forward_ir_compared_counts_as_compared():
    def report(*findings: tuple[str, str, str]) -> RowReport:
        r = RowReport("train-0000000", "random", 1, 2)
        for check, status, detail in findings:
            r.add(check, status, detail)
        return r

    grad_only = report(("xla", OK, ""), ("interpreter", SKIP, "stablehlo: over the time limit"), ("interpreter", OK, "stablehlo_grad"))
    assert grad_only.executed and not grad_only.compared and grad_only.unverified
    forward = report(("xla", OK, ""), ("interpreter", OK, "stablehlo"), ("interpreter", SKIP, "stablehlo_grad: over the time limit"))
    assert forward.compared and forward.verified
    half_run = report(("xla", OK, ""), ("xla", SKIP, "stablehlo_grad: XLA over the 1 s time limit"), ("interpreter", OK, "stablehlo"))
    assert not half_run.executed and half_run.unverified  # the gradient IR was not run: the row is not proven


def test_relowered_byte_for_byte_counts_as_verified_without_execution():
    r = RowReport("train-0000000", "random", 1, 2)
    r.add("xla", SKIP, "stablehlo: partitioned over a 16-device mesh")
    r.add("relower", OK)
    assert r.verified and not r.agreed and not r.unverified


def saved(rows: list[dict], out) -> str:
    datasets.DatasetDict({"train": datasets.Dataset.from_list(rows)}).save_to_disk(str(out))
    write_manifest(out, {"config": "v", "values": asdict(CONFIG)})
    return str(out)


def test_nothing_executed_is_not_a_pass(rows, tmp_path, capsys):
    """The issue's `--execution-timeout 0`: now refused; a timeout too short for anything to run leaves every
    row unverified and the run fails, unless --allow-unverified."""
    target = saved(rows[:1], tmp_path / "build")
    with pytest.raises(SystemExit) as exit_:
        main(["validate", target, "--execution-timeout", "0"])
    assert exit_.value.code == 2 and "argument --execution-timeout: must be a finite number above 0, got '0'" in capsys.readouterr().err
    with pytest.raises(ValueError, match="execution_timeout must be more than 0 seconds"):
        Options(execution_timeout=-5)
    assert main(["validate", target, "--no-interpreter", "--execution-timeout", "0.001"]) == 1
    printed = capsys.readouterr().out
    assert "agreement under execution: 0 of 0" in printed and "unverified: 1" in printed
    assert "result: 1 rows are unverified" in printed and "no row was executed" in printed
    assert main(["validate", target, "--no-interpreter", "--execution-timeout", "0.001", "--allow-unverified"]) == 0
    assert "unverified rows (not checked, so not counted as agreeing; 1)" in capsys.readouterr().out


@pytest.mark.parametrize("damage", ["truncate", "random"])
def test_a_damaged_arrow_file_is_named_before_any_work(rows, tmp_path, capsys, damage):
    target = saved(rows[:1], tmp_path / "build")
    arrow = next((tmp_path / "build" / "train").glob("*.arrow"))
    data = arrow.read_bytes()
    arrow.write_bytes(data[: len(data) // 2] if damage == "truncate" else bytes(range(256)) * 8)
    assert main(["validate", target]) == 2
    err = capsys.readouterr().err
    assert f"error: {arrow} is damaged or truncated" in err and "rebuild" in err, err
    (tmp_path / "build" / "train" / "state.json").write_bytes(b"\xff\xfe\x00garbage")
    assert main(["validate", target]) == 2
    assert f"{tmp_path / 'build' / 'train' / 'state.json'} is damaged (UnicodeDecodeError" in capsys.readouterr().err


def processes_with(marker: str) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if marker in (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace"):
                    found.append(int(entry.name))
            except OSError:
                continue
    return found


def test_what_trusted_code_starts_in_the_background_ends_with_it(rows):
    """The issue's `sleep 300 &`: it outlived validate and held the output pipe, so the row was reported
    as over the time limit. The child's whole process group is ended with it."""
    marker = f"299.{os.getpid()}"
    row = rows[0]
    started = {**row, "python": f"import subprocess\nsubprocess.Popen(['sleep', '{marker}'])\n" + row["python"]}
    t0 = time.monotonic()
    side = run_untrusted(started, make_inputs(row["args"], 0, row["stablehlo"]), relower=False, limits=Limits(seconds=30))
    assert side.error is None, side.error
    assert time.monotonic() - t0 < 25
    deadline = time.monotonic() + 10  # SIGKILL is sent; give the kernel a moment to take the process down
    while processes_with(marker) and time.monotonic() < deadline:
        time.sleep(0.2)
    left = processes_with(marker)
    for pid in left:
        os.kill(pid, 9)
    assert left == []


WORKER = """
import sys, time
from builder.validation import runners
from builder.validation.worker import Worker
worker = Worker(runners.__name__, 60)
worker.call(("xla", "not a module", []))  # starts the executor child
print("CHILD", worker._process.pid, flush=True)
time.sleep(600)
"""


def test_a_sigkill_of_validate_leaves_no_executor_behind():
    parent = subprocess.Popen([sys.executable, "-c", WORKER], stdout=subprocess.PIPE, text=True)
    try:
        line = parent.stdout.readline()
        assert line.startswith("CHILD"), line
        child = int(line.split()[1])
        assert Path(f"/proc/{child}").exists()
    finally:
        parent.kill()
        parent.wait()
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and Path(f"/proc/{child}").exists():
        time.sleep(0.2)
    assert not Path(f"/proc/{child}").exists()
