"""Publishing for real: the `huggingface_hub` client and `datasets` talk to a Hub-API server on
127.0.0.1 (tests/publish/hub_server.py), and what was pushed is loaded back by repo id, as a consumer
would, from a fresh HF_HOME with no loading script."""

from __future__ import annotations

import io
import json
import os
import re
import socket
import subprocess
import sys
from pathlib import Path

import datasets
import pyarrow.parquet as pq
import pytest
import requests
from conftest import ROOT, run_python
from hub_server import Fault, HubServer
from huggingface_hub import DatasetCard
from huggingface_hub.errors import HfHubHTTPError, OfflineModeIsEnabled, RepositoryNotFoundError, RevisionNotFoundError

from builder.lowering.irhash import canonical_hash, structure_hash
from builder.pipeline.output import data_digest
from builder.publish.hub import PublishError, hub_errors

REPO = "org/pairs"
SIZES = {"balanced": (3, 1, 1), "reduction": (2, 1, 1)}
BUILD = """
import sys
from builder.cli import main
for config, (train, validation, test) in {sizes!r}.items():
    code = main(["build", config, "--train-size", str(train), "--validation-size", str(validation),
                 "--test-size", str(test), "--output-dir", f"{out}/{{config}}"])
    assert code == 0, config
"""
LOAD = """
import json
from datasets import load_dataset
out = {{}}
for name, kwargs in {calls!r}:
    ds = load_dataset("{repo}", name, **kwargs)
    out[f"{{name}}@{{kwargs.get('revision', 'main')}}"] = {{split: d.to_list() for split, d in ds.items()}}
print("ROWS" + json.dumps(out))
"""


@pytest.fixture(scope="module")
def saved(tmp_path_factory: pytest.TempPathFactory, hf_env: dict[str, str]) -> dict[str, Path]:
    """Tiny builds of two configs, saved by `jax-stablehlo-pairs build` (with their build.json)."""
    out = tmp_path_factory.mktemp("builds")
    proc = run_python(BUILD.format(sizes=SIZES, out=out), hf_env)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return {config: out / config for config in SIZES}


@pytest.fixture
def hub():
    with HubServer() as server:
        yield server


LOCALHOST_ONLY = Path(__file__).parent / "localhost_only"  # its sitecustomize refuses other hosts


@pytest.fixture(autouse=True)
def only_localhost_was_reached(tmp_path):
    """Every child interpreter logs any attempt to reach another host: there must be none."""
    yield
    log = tmp_path / "external-connections.log"
    assert not log.exists(), f"a test tried to reach hosts other than localhost: {log.read_text()}"


def hub_env(endpoint: str, home: Path, token: str | None = "hf_test_write") -> dict[str, str]:
    """Online, but only to `endpoint` on localhost; a fresh HF_HOME; no Xet (the test Hub has none)."""
    env = dict(os.environ)
    for key in ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE", "HF_TOKEN", "HUGGING_FACE_HUB_TOKEN"):
        env.pop(key, None)
    env.update(HF_ENDPOINT=endpoint, HF_HOME=str(home), HF_HUB_DISABLE_XET="1", NO_PROXY="127.0.0.1,localhost")
    env.update(PYTHONPATH=os.pathsep.join(filter(None, [str(LOCALHOST_ONLY), env.get("PYTHONPATH")])))
    env.update(HUB_TEST_EXTERNAL_LOG=str(home.parent / "external-connections.log"))
    env.update(HF_HUB_DISABLE_TELEMETRY="1", HF_DATASETS_TRUST_REMOTE_CODE="0")
    if token is not None:
        env["HF_TOKEN"] = token
    return env


STEPS = """
import contextlib, io, json
from builder.cli import main
for argv in {steps!r}:
    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        code = main(argv)
    print("STEP" + json.dumps({{"code": code, "stderr": err.getvalue()}}), flush=True)
"""


def run_steps(env: dict[str, str], steps: list[list[str]]) -> list[dict]:
    """Several CLI commands in one interpreter (imports are paid once): exit code and stderr of each."""
    proc = run_python(STEPS.format(steps=steps), env)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return [json.loads(line.removeprefix("STEP")) for line in proc.stdout.splitlines() if line.startswith("STEP")]


def cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "builder.cli", *args], env=env, cwd=ROOT, capture_output=True, text=True, timeout=600, check=False
    )


def from_disk(saved: dict[str, Path], *configs: str) -> list[str]:
    return [arg for c in configs for arg in ("--from-disk", f"{c}={saved[c]}")]


def load_back(endpoint: str, home: Path, calls: list[tuple[str | None, dict]]) -> dict[str, dict[str, list[dict]]]:
    """load_dataset by repo id in a fresh interpreter and HF_HOME, without this project's script."""
    home.mkdir(parents=True, exist_ok=True)
    proc = run_python(LOAD.format(calls=calls, repo=REPO), hub_env(endpoint, home, token=None), cwd=home)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(next(x.removeprefix("ROWS") for x in proc.stdout.splitlines() if x.startswith("ROWS")))


def local_rows(path: Path) -> dict[str, list[dict]]:
    return {split: d.to_list() for split, d in datasets.load_from_disk(str(path)).items()}


def header(card_text: str) -> dict:
    return DatasetCard(card_text).data.to_dict()


def configs_in(card_text: str) -> dict[str, dict]:
    return {c["config_name"]: c for c in header(card_text).get("configs", [])}


def test_publish_two_configs_and_load_them_back_by_repo_id(saved, hub, tmp_path):
    proc = cli(hub_env(hub.endpoint, tmp_path / "pub"), "publish", REPO, *from_disk(saved, "balanced", "reduction"))
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert f'load_dataset("{REPO}", "balanced")' in proc.stdout

    # a consumer: by repo id, fresh cache, no script, no token; no config name = the default
    rows = load_back(hub.endpoint, tmp_path / "consumer", [("balanced", {}), ("reduction", {}), (None, {})])
    assert rows["balanced@main"] == local_rows(saved["balanced"])
    assert rows["reduction@main"] == local_rows(saved["reduction"])
    assert rows["None@main"] == rows["balanced@main"]

    # plain Parquet plus the card (and the card's stats and figures), nothing else
    files = hub.files(REPO)
    data = sorted(p for p in files if p.endswith(".parquet"))
    assert data == [f"{c}/{s}-00000-of-00001.parquet" for c in ("balanced", "reduction") for s in ("test", "train", "validation")]
    assert set(files) - set(data) == {
        ".gitattributes", "README.md", "stats/balanced.json", "stats/reduction.json", "figures/balanced.png", "figures/reduction.png"
    }
    assert files["figures/balanced.png"].startswith(b"\x89PNG")

    card = hub.card(REPO)
    meta = header(card)
    assert meta["license"] == "apache-2.0" and meta["pretty_name"] and meta["size_categories"] == ["n<1K"]
    assert "stablehlo" in meta["tags"] and meta["task_categories"]
    configs = configs_in(card)
    assert set(configs) == {"balanced", "reduction"} and configs["balanced"].get("default") is True
    assert "default" not in configs["reduction"]
    infos = {i["config_name"]: i for i in meta["dataset_info"]}
    assert {s["name"]: s["num_examples"] for s in infos["reduction"]["splits"]} == {"train": 2, "validation": 1, "test": 1}

    # the body: figures from the build's statistics, the regenerating command, a real row
    for config, (train, validation, test) in SIZES.items():
        assert f"### Config `{config}`" in card
        assert f"jax-stablehlo-pairs build {config} --seed 0 --train-size {train} --validation-size {validation} --test-size {test}" in card
        stats = json.loads(files[f"stats/{config}.json"])
        assert stats["stats"]["rows"] == {"train": train, "validation": validation, "test": test}
        assert f"**{len([o for o in stats['stats']['op_rows'] if o.startswith(('stablehlo.', 'chlo.'))])} distinct" in card
        assert f"![Rows per category, StableHLO lines, FLOPs and characters per program in config {config}](figures/{config}.png)" in card
    assert "StableHLO lines per program" in card and "│" in card
    example = json.loads(files["stats/balanced.json"])["stats"]["example"]
    assert example["python"].strip() in card and example["stablehlo"].strip() in card
    assert f"Row `{example['id']}` of config `balanced`" in card
    built_by = json.loads((saved["balanced"] / "build.json").read_text())["code_fingerprint"]
    assert f"jax-stablehlo-pairs 0.1.0 (code fingerprint {built_by})" in card  # the code that built it
    assert "IR produced by: jax 0." in card


def test_publishing_later_adds_configs_and_keeps_the_default(saved, hub, tmp_path):
    """Each publish renders the card again; the header never drops a config, and `balanced`
    stays the default although datasets 3.6 raises on set_default when no config is marked
    default yet, and drops the mark when the default config is re-pushed without it."""
    order = [["reduction"], ["balanced"], ["balanced"], ["reduction"]]
    steps = [["publish", REPO, *from_disk(saved, *configs)] for configs in order]
    branch = ["--revision", "v2", "--config", "reduction", "--train-size", "1", "--validation-size", "0", "--test-size", "1"]
    steps.append(["publish", REPO, *branch, "--cache-dir", str(tmp_path / "cache")])
    results = run_steps(hub_env(hub.endpoint, tmp_path / "pub"), steps)
    assert [r["code"] for r in results] == [0] * 5, [r["stderr"][-2000:] for r in results]

    cards = [c.files["README.md"].decode() for c in hub.history(REPO) if "README.md" in c.files]
    seen: set[str] = set()
    for card in cards:
        assert seen <= set(configs_in(card)), "a publish dropped a config from the header"
        seen = set(configs_in(card))
    with_balanced = [c for c in cards if "balanced" in configs_in(c)]
    assert all(configs_in(c)["balanced"].get("default") is True for c in with_balanced[1:])
    final = hub.card(REPO)
    assert [n for n, c in configs_in(final).items() if c.get("default")] == ["balanced"]
    assert set(configs_in(final)) == {"balanced", "reduction"}
    assert final.index("### Config `balanced`") < final.index("### Config `reduction`")

    # the last publish went to branch v2 only: main is as step 4 left it
    main, v2 = hub.history(REPO), hub.history(REPO, "v2")
    assert [c.oid for c in v2[: len(main)]] == [c.oid for c in main]
    assert [c.message for c in v2[len(main) :]] == ["Publish config reduction", "Dataset card: config reduction"]
    rows = load_back(hub.endpoint, tmp_path / "consumer", [("reduction", {"revision": "v2"}), ("reduction", {})])
    assert {s: len(r) for s, r in rows["reduction@v2"].items()} == {"train": 1, "test": 1}
    assert rows["reduction@main"] == local_rows(saved["reduction"])


def test_publish_builds_when_no_build_is_given(hub, tmp_path):
    env = hub_env(hub.endpoint, tmp_path / "pub")
    size = ("--train-size", "2", "--validation-size", "0", "--test-size", "1")
    proc = cli(env, "publish", REPO, "--config", "reduction", "--seed", "5", *size, "--cache-dir", str(tmp_path / "cache"))
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "reduction: 2 train / 1 test" in proc.stdout
    assert "Generating train split" in proc.stderr  # datasets' own progress bars
    card = hub.card(REPO)
    assert "jax-stablehlo-pairs build reduction --seed 5 --train-size 2 --validation-size 0 --test-size 1" in card
    files = hub.files(REPO)
    table = pq.read_table(io.BytesIO(files["reduction/train-00000-of-00001.parquet"]))
    assert table.num_rows == 2 and set(table.column("category").to_pylist()) == {"reduction"}
    assert sorted(p for p in files if p.endswith(".parquet")) == [
        "reduction/test-00000-of-00001.parquet", "reduction/train-00000-of-00001.parquet"
    ]


def test_failed_pushes_leave_the_repo_unchanged_or_complete(saved, hub, tmp_path):
    """A data commit that fails (500, a dropped connection, 403) changes nothing; a card commit
    that fails leaves a complete config under the old card; re-running completes it. The local
    build is untouched throughout."""
    build_before = local_rows(saved["reduction"])
    hub.state.faults += [Fault("commit", 500, skip=2), Fault("commit", None), Fault("commit", 403), Fault("commit", 500, skip=1)]
    steps = [["publish", REPO, *from_disk(saved, c)] for c in ("balanced", *["reduction"] * 5)]
    results = run_steps(hub_env(hub.endpoint, tmp_path / "pub"), steps)
    assert [r["code"] for r in results] == [0, 1, 1, 1, 1, 0], [r["stderr"][-2000:] for r in results]
    for r in results[1:4]:
        assert f"{REPO} holds all of config 'reduction' or none of it" in r["stderr"]
        assert "the local build is untouched" in r["stderr"] and "Traceback" not in r["stderr"]
    assert "cannot reach the Hub" in results[2]["stderr"]
    assert "may not write to org/pairs (403 Forbidden" in results[3]["stderr"]
    assert "Config 'reduction' is on org/pairs in full and loads" in results[4]["stderr"] and "re-run" in results[4]["stderr"]

    history = hub.history(REPO)
    assert [c.message for c in history] == [
        "initial commit",
        "Publish config balanced",
        "Dataset card: config balanced",
        "Publish config reduction",  # step 5: the data commit passed, its card commit failed
        "Dataset card: config reduction",  # step 6
    ]
    # the state a failed card commit left: both configs in the header, and reduction loads
    data_commit = history[3]
    assert set(configs_in(data_commit.files["README.md"].decode())) == {"balanced", "reduction"}
    rows = load_back(hub.endpoint, tmp_path / "consumer", [("reduction", {"revision": data_commit.oid})])
    assert rows[f"reduction@{data_commit.oid}"] == build_before
    assert "### Config `reduction`" in hub.card(REPO)
    assert local_rows(saved["reduction"]) == build_before


CREDENTIALS = """
import os, sys
from huggingface_hub import HfApi, constants
from builder.publish.hub import PublishError, endpoint, preflight, publish
with open(constants.HF_TOKEN_PATH, "w") as f:  # a saved `huggingface-cli login`
    f.write("hf_test_write")
print("LOGIN", preflight(HfApi(endpoint=endpoint()), "org/pairs"))
os.remove(constants.HF_TOKEN_PATH)
for token, repo in {cases!r}:
    os.environ.pop("HF_TOKEN", None)
    if token:
        os.environ["HF_TOKEN"] = token
    try:
        publish(repo, ["balanced"], overrides={{"train_size": 1, "validation_size": 0, "test_size": 0}})
        print("CASE published")
    except PublishError as err:
        print("CASE", err)
"""


def test_bad_credentials_fail_before_any_build_with_clear_errors(hub, tmp_path):
    cases = [("hf_not_a_token", REPO), ("hf_test_read", REPO), (None, REPO), ("hf_test_write", "other/pairs")]
    (tmp_path / "pub").mkdir()
    proc = run_python(CREDENTIALS.format(cases=cases), hub_env(hub.endpoint, tmp_path / "pub", token=None))
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "LOGIN alice" in proc.stdout  # the token of a saved login is found like HF_TOKEN
    errors = [line.removeprefix("CASE ") for line in proc.stdout.splitlines() if line.startswith("CASE")]
    assert len(errors) == 4
    assert "rejected the token (401 Unauthorized" in errors[0] and "HF_TOKEN" in errors[0]
    assert "read-only" in errors[1]
    assert "no Hugging Face token found" in errors[2] and "huggingface-cli login" in errors[2]
    assert "may not write to the 'other' namespace" in errors[3] and "org" in errors[3]
    assert all(e.endswith("Nothing was built or pushed.") for e in errors)
    assert hub.state.repos == {}
    assert "Generating" not in proc.stderr  # no build started


def test_an_unreachable_hub_is_named_with_the_fix(tmp_path):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again when the block ends: nothing listens there
    proc = cli(hub_env(f"http://127.0.0.1:{port}", tmp_path / "pub"), "publish", REPO, "--config", "balanced")
    assert proc.returncode == 1
    assert f"cannot reach the Hub at http://127.0.0.1:{port}" in proc.stderr and "HF_ENDPOINT" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_a_build_from_other_settings_is_refused(saved, hub, tmp_path):
    steps = [
        ["publish", REPO, *from_disk(saved, "reduction"), "--seed", "9"],
        ["publish", REPO, "--from-disk", f"balanced={saved['reduction']}"],
        ["publish", REPO, "--from-disk", f"balanced={tmp_path / 'missing'}"],
        ["publish", "not-a-repo-id", "--config", "balanced"],
    ]
    results = run_steps(hub_env(hub.endpoint, tmp_path / "pub"), steps)
    assert [r["code"] for r in results] == [2, 2, 2, 2]
    assert "was built with seed=0" in results[0]["stderr"]
    assert "holds a build of config 'reduction'" in results[1]["stderr"]
    assert "no such directory" in results[2]["stderr"]
    assert "'not-a-repo-id' is not a repo id" in results[3]["stderr"]
    assert hub.state.repos == {}


def _http_error(kind: type[Exception], status: int, message: str = "") -> Exception:
    response = requests.Response()
    response.status_code = status
    response.headers["X-Error-Message"] = message
    response.url = "http://127.0.0.1/api/datasets/org/pairs/commit/main"
    return kind(message or f"{status}", response=response)


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        (_http_error(RepositoryNotFoundError, 404, "Repository not found"), "dataset repo org/pairs was not found"),
        (_http_error(RevisionNotFoundError, 404, "Invalid rev id: v9"), "org/pairs has no such revision"),
        (_http_error(HfHubHTTPError, 412, "A commit has happened since"), "changed on the Hub while publishing"),
        (_http_error(HfHubHTTPError, 500, "boom"), "answered 500 for org/pairs: boom"),
        (OfflineModeIsEnabled("offline"), "HF_HUB_OFFLINE is set: unset it to publish"),
        (requests.ConnectionError("refused"), "cannot reach the Hub"),
    ],
    ids=["repo-missing", "revision-missing", "concurrent-commit", "server-error", "offline", "refused"],
)
def test_hub_errors_name_the_cause_and_the_state(error, expected):
    with pytest.raises(PublishError) as caught, hub_errors("org/pairs", "The repo is as it was."):
        raise error
    assert expected in str(caught.value) and str(caught.value).endswith("The repo is as it was.")


OP = re.compile(r"= stablehlo\.(\w+)")


def tampered_copy(source: Path, dest: Path, *, rehash: bool, redigest: bool) -> Path:
    """The build with its second train row's IR edited (one op swapped), saved as `build` would save it;
    `rehash`: the hash columns recomputed with the project's hashing; `redigest`: build.json's digest too."""
    ds = datasets.load_from_disk(str(source))
    rows = ds["train"].to_list()
    text = rows[1]["stablehlo"]
    m = OP.search(text)
    text = text[: m.start(1)] + ("subtract" if m.group(1) == "add" else "add") + text[m.end(1) :]
    rows[1]["stablehlo"] = text
    if rehash:
        rows[1]["canonical_hash"], rows[1]["structure_hash"] = canonical_hash(text), structure_hash(text)
    edited = datasets.DatasetDict({**ds, "train": datasets.Dataset.from_list(rows, features=ds["train"].features)})
    edited.save_to_disk(str(dest))
    manifest = json.loads((source / "build.json").read_text())
    if redigest:
        manifest["data_digest"] = data_digest(dest)
    (dest / "build.json").write_text(json.dumps(manifest))
    return dest


def test_tampered_rows_are_never_pushed_and_are_named(saved, hub, tmp_path):
    """The issue's case: a build whose second train row's IR was edited was pushed (only row 0 was regenerated)."""
    hashes_stale = tampered_copy(saved["balanced"], tmp_path / "a", rehash=False, redigest=True)
    rehashed = tampered_copy(saved["balanced"], tmp_path / "b", rehash=True, redigest=True)
    digest_stale = tampered_copy(saved["balanced"], tmp_path / "c", rehash=True, redigest=False)
    steps = [["publish", REPO, "--from-disk", f"balanced={d}"] for d in (hashes_stale, rehashed, digest_stale)]
    results = run_steps(hub_env(hub.endpoint, tmp_path / "pub"), steps)
    assert [r["code"] for r in results] == [2, 2, 2], [r["stderr"][-2000:] for r in results]
    row_id = datasets.load_from_disk(str(saved["balanced"]))["train"][1]["id"]
    assert f"train[1] ({row_id}): canonical_hash / structure_hash are not the hashes of its stablehlo" in results[0]["stderr"]
    assert f"train[1] ({row_id}) differs from its regeneration from seed" in results[1]["stderr"]
    assert "canonical_hash" in results[1]["stderr"] and "stablehlo" in results[1]["stderr"]
    assert f"the Arrow files in {digest_stale} changed since `build` wrote them" in results[2]["stderr"]
    assert f"train[1] ({row_id}) differs" in results[2]["stderr"]  # the rows are named too
    assert all("nothing was pushed" in r["stderr"] and "Traceback" not in r["stderr"] for r in results)
    assert hub.state.repos == {}


def test_a_build_json_without_a_digest_or_no_build_json_is_refused(saved, hub, tmp_path):
    import shutil

    old = tmp_path / "old"
    shutil.copytree(saved["reduction"], old)
    manifest = json.loads((old / "build.json").read_text())
    del manifest["data_digest"]
    (old / "build.json").write_text(json.dumps(manifest))
    bare = tmp_path / "bare"
    datasets.load_from_disk(str(saved["reduction"])).save_to_disk(str(bare))
    results = run_steps(hub_env(hub.endpoint, tmp_path / "pub"), [["publish", REPO, "--from-disk", f"reduction={d}"] for d in (old, bare)])
    assert [r["code"] for r in results] == [2, 2]
    assert "records no data_digest (written by an older version): rebuild it" in results[0]["stderr"]
    assert "has no readable build.json: only a directory written by `jax-stablehlo-pairs build`" in results[1]["stderr"]
    assert hub.state.repos == {}


def test_an_endpoint_that_is_not_a_url_is_named_before_any_work(tmp_path):
    env = hub_env("not-a-url", tmp_path / "pub")
    proc = cli(env, "publish", REPO, "--config", "balanced", "--train-size", "1", "--validation-size", "0", "--test-size", "0")
    assert proc.returncode == 2, proc.stderr[-2000:]
    assert "error: HF_ENDPOINT='not-a-url' is not a URL: set it to the Hub's address (e.g. https://huggingface.co) or unset it" in proc.stderr
    assert "Traceback" not in proc.stderr and "Generating" not in proc.stderr


def test_an_unwritable_cache_is_named_before_any_build(hub, tmp_path):
    env = hub_env(hub.endpoint, tmp_path / "pub")
    proc = cli(env, "publish", REPO, "--config", "balanced", "--train-size", "1", "--validation-size", "0", "--test-size", "0",
               "--cache-dir", "/proc/jsp-test/cache")
    assert proc.returncode == 2, proc.stderr[-2000:]
    assert "error: --cache-dir /proc/jsp-test/cache: cannot write in /proc" in proc.stderr
    assert "Traceback" not in proc.stderr and "Generating" not in proc.stderr and hub.state.repos == {}
