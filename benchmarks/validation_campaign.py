"""Build and validate N rows of each config, resumably: the evidence that every category's rows are faithful.

Each config is built with `build --output-dir` (which resumes from its finished units) and then
validated with `--resume-file` (which keeps each row's result as it comes); a config whose
validation log exists is skipped, so an interrupted campaign is re-run with the same command and
goes on where it stopped, down to the row. Logs are written to a temporary name
and renamed when validate returns, so a killed run leaves no log that looks finished. At the end
it prints one line per config: rows built, failed lowerings, distinct ops, rows executed,
agreed, verified, failed, and validate's verdict.

    python benchmarks/validation_campaign.py [--rows 1000] [--out DIR] [CONFIG ...]

By default its work goes to `out/campaign/<code fingerprint>-v<validation hash>/`: the hash the
build cache uses (the row code, configs and library versions) and a hash of `builder/validation/`,
which the fingerprint leaves out. So a campaign resumes only on the rows and the checks it began
with: new row code or a changed check starts a new campaign rather than mixing two.

The framework-style categories are validated without the reference interpreter, which times
out on modules of their size (XLA against JAX compares them); the others with it.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from builder.pipeline.fingerprint import code_fingerprint  # noqa: E402
from builder.synth.styles import CATEGORIES as STYLED  # noqa: E402
from builder.validation.journal import checks_code  # noqa: E402

DEFAULT_ORDER = STYLED
CLI = [sys.executable, "-m", "builder.cli"]
BUILT = r": saved to "  # the last line of a build that finished
VALIDATED = r"^result: "  # the last line of a validate that checked every row


def run_logged(command: list[str], log: Path, finished: str) -> int:
    """Run `command` with its output in `log`, which appears only when the command ran to its end:
    `finished` (a regular expression) is in its output. A run killed part way keeps `<log>.partial`,
    so the campaign does that step again (resuming it) rather than take it for done."""
    partial = log.with_name(log.name + ".partial")
    with partial.open("w") as out:
        code = subprocess.call(command, stdout=out, stderr=subprocess.STDOUT, cwd=ROOT)
    if re.search(finished, partial.read_text(errors="replace"), re.M):
        partial.rename(log)
    return code


def campaign_step(config: str, rows: int, out: Path, num_proc: int) -> None:
    data = out / config
    build_log = out / f"{config}.build.log"
    if not build_log.exists():
        sizes = ["--train-size", str(rows), "--validation-size", "0", "--test-size", "0"]
        if run_logged([*CLI, "build", config, *sizes, "--output-dir", str(data)], build_log, BUILT) != 0 or not build_log.exists():
            raise SystemExit(f"build of {config} did not finish; see {build_log.name}.partial (run the campaign again: it resumes)")
    validate_log = out / f"{config}.validate.log"
    if not validate_log.exists():  # each row's result is kept as it comes: a stopped validate goes on where it was
        flags = ["--no-interpreter"] if config in STYLED else []
        resume = ["--resume-file", str(out / f"{config}.validate.jsonl")]
        run_logged([*CLI, "validate", str(data), "--num-proc", str(num_proc), *flags, *resume], validate_log, VALIDATED)
        if not validate_log.exists():
            raise SystemExit(f"validate of {config} did not finish; see {validate_log.name}.partial (run the campaign again: it resumes)")


def summary_line(config: str, out: Path) -> str:
    build = (out / f"{config}.build.log").read_text(errors="replace") if (out / f"{config}.build.log").exists() else ""
    validate = (out / f"{config}.validate.log").read_text(errors="replace") if (out / f"{config}.validate.log").exists() else ""
    failed = re.search(r"programs that failed to lower \(replaced\): (\d+)", build)
    ops = re.search(r"^rows per op: (.*)$", build, re.M)
    total = re.search(r"^total\s+(.*)$", validate, re.M)
    verdict = re.search(r"^result: (.*)$", validate, re.M)
    cells = total.group(1).split() if total else []
    # total's columns: checked regenerated parsed executed interpreted agreed relowered unique verified unverified failed
    pick = [cells[i] if len(cells) > i else "-" for i in (0, 3, 5, 8, 10)]
    n_ops = len(ops.group(1).split(", ")) if ops else "-"
    cells_text = " ".join(f"{c:>9}" for c in pick)
    return f"{config:<16} {failed.group(1) if failed else '-':>8} {n_ops:>5} {cells_text}  {verdict.group(1) if verdict else 'not run'}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("configs", nargs="*", help=f"configs in order (default: {', '.join(DEFAULT_ORDER)}, then every category config)")
    parser.add_argument("--rows", type=int, default=1000, help="train rows built and validated per config")
    parser.add_argument("--out", type=Path, help="where builds and logs go (default: out/campaign/<code fingerprint>)")
    parser.add_argument("--num-proc", type=int, default=1, help="validate's worker processes")
    args = parser.parse_args()
    categories = sorted(p.stem for p in (ROOT / "configs").glob("*.yaml") if not p.stem.startswith(("balanced", "bench")))
    names = args.configs or [*DEFAULT_ORDER, *(c for c in categories if c not in DEFAULT_ORDER)]
    args.out = args.out or ROOT / "out" / "campaign" / f"{code_fingerprint()}-v{checks_code()[:8]}"
    args.out.mkdir(parents=True, exist_ok=True)
    print(f"load average at start: {os.getloadavg()[0]:.2f}", flush=True)
    for name in names:
        print(f"== {name}", flush=True)
        campaign_step(name, args.rows, args.out, args.num_proc)
    print(f"\n{'config':<16} {'lowerfail':>8} {'ops':>5} {'checked':>9} {'executed':>9} {'agreed':>9} {'verified':>9} {'failed':>9}  result")
    for name in names:
        print(summary_line(name, args.out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
