"""Publish configs to the Hugging Face Hub: `DatasetDict.push_to_hub` per config, then the
dataset card rendered from `dataset_card.md` and every published config's statistics.

Per config, two commits:
1. `push_to_hub(config_name=...)` writes the config's Parquet shards and its `configs:` /
   `dataset_info:` entries in ONE commit (we pick shard counts so it never needs a second),
   so the repo holds all of a config or none of it;
2. the card commit (README.md, stats/<config>.json, figures/<config>.png), made with
   `parent_commit` set to the data commit, so it never overwrites someone else's change.
A failure in (1) leaves the repo as it was; a failure in (2) leaves a complete, loadable
config under the previous card. Either way the local build is untouched.

Token and endpoint come from the usual places (`HF_TOKEN`, the saved login, `HF_ENDPOINT`).
"""

from __future__ import annotations

import logging
import math
import re
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import datasets
import requests
from huggingface_hub import CommitOperationAdd, DatasetCard, DatasetCardData, HfApi
from huggingface_hub.errors import (
    EntryNotFoundError,
    LocalEntryNotFoundError,
    LocalTokenNotFoundError,
    OfflineModeIsEnabled,
    RepositoryNotFoundError,
    RevisionNotFoundError,
)

from ..config import SPLITS, ConfigError, PairsConfig, from_values, load_named, resolve
from ..hf_builder import make_builder
from ..pipeline.build_dir import PARQUET, BuildDir, digest_problems, load_splits, open_build
from ..pipeline.failures import LOWERING, of_kind, read_report
from ..pipeline.fingerprint import code_fingerprint
from ..pipeline.output import MANIFEST, ROW_BYTES, check_writable, read_manifest
from ..pipeline.stats import collect
from . import figures
from .card import DEFAULT_CONFIG, FIGURES_DIR, STATS_DIR, ConfigRecord, can_set_default, render
from .checks import verify
from .files import push_files

logger = logging.getLogger(__name__)

MAX_SHARD_BYTES = 500 * 2**20  # datasets' default max_shard_size
REPO_ID = re.compile(r"^[A-Za-z0-9][\w.-]{0,95}/[A-Za-z0-9][\w.-]{0,95}$")


class PublishError(RuntimeError):
    """Publishing failed; the message names the cause, the fix, and what state the repo is in."""


@dataclass(frozen=True)
class Published:
    """One config on the Hub."""

    config: str
    repo_id: str
    revision: str
    commit: str
    rows: dict[str, int]


# ---- what to publish ------------------------------------------------------------------------
def build(config: str, overrides: Mapping[str, Any] | None = None, cache_dir: str | None = None, num_proc: int | None = None):
    """Build a config, or reuse the finished build in the datasets cache (same config and overrides).
    Returns the DatasetDict, its config and how many drawn programs failed to lower."""
    builder = make_builder(config, cache_dir, **dict(overrides or {}))
    ds, failures = builder.build(num_proc)
    return ds, builder.pairs_config, len(of_kind(failures, LOWERING))


def saved_config(path: str | Path, name: str, overrides: Mapping[str, Any] | None = None) -> PairsConfig:
    """The config a `build --output-dir` directory was made with: from its build.json manifest
    when there is one (overrides must then agree with it), else the named config plus `overrides`."""
    data = read_manifest(Path(path)) or {}
    values = data.get("values")
    if not values:
        return resolve(name, overrides)
    if data.get("config", name) != name:
        raise ConfigError(f"{path} holds a build of config {data['config']!r}, not {name!r}: pass --from-disk {data['config']}={path}")
    config = from_values({**values, "name": name}, str(Path(path) / MANIFEST))
    clashes = {k: v for k, v in (overrides or {}).items() if v is not None and values.get(k) != v}
    if clashes:
        built = ", ".join(f"{k}={values.get(k)!r}" for k in clashes)
        raise ConfigError(f"{path} was built with {built}; drop those options to publish it as built, or rebuild it")
    return config


def load_saved(path: str | Path, config: PairsConfig, cache_dir: str | None = None) -> tuple[BuildDir, datasets.DatasetDict]:
    """A `build --output-dir` directory of either layout (a saved DatasetDict, or Parquet from `--engine ray`),
    checked to hold the bytes `build` wrote (build.json's digests) and exactly what `config` generates."""
    build_dir = open_build(Path(path), "--from-dir")
    if build_dir.layout == PARQUET and build_dir.config_name != config.name:
        other = build_dir.config_name
        raise ConfigError(f"{path} holds Parquet files of config {other!r}, not {config.name!r}: pass --from-dir {other}={path}")
    ds = datasets.DatasetDict(load_splits(build_dir, cache_dir=cache_dir))
    problems = digest_problems(build_dir, required=True)
    if problems and not build_dir.manifest:  # nothing says what built it: the rows cannot be checked against it
        raise ConfigError(problems[0])
    try:  # both: a refusal names every row
        verify(ds, config, str(path))
    except ConfigError as err:
        problems.append(str(err))
    if problems:
        raise ConfigError(" Also: ".join(problems) + ("" if "nothing was pushed" in problems[-1] else "; nothing was pushed"))
    return build_dir, ds


def saved_name(path: str | Path) -> str:
    """The config a build directory holds, for `--from-dir DIR` without `CONFIG=`: from its build.json, else its Parquet folder."""
    build_dir = open_build(Path(path), "--from-dir")
    name = (build_dir.manifest or {}).get("config") or build_dir.config_name
    if not name:
        raise ConfigError(f"--from-dir {path}: no build.json says which config it holds; pass --from-dir CONFIG={path}")
    return str(name)


def plan_shards(ds: Mapping[str, datasets.Dataset], max_files: int, max_shard_bytes: int = MAX_SHARD_BYTES) -> dict[str, int]:
    """Parquet shards per split, at most `max_files` in all, so `push_to_hub` makes one commit.

    datasets 3.6 splits a push into several commits above `UPLOADS_MAX_NUMBER_PER_COMMIT` files;
    a failure between them would leave a half-written config. Bigger shards avoid that."""
    sizes = {s: d.data.nbytes * len(d) / max(d.data.num_rows, 1) for s, d in ds.items()}
    shard = max_shard_bytes
    while True:
        plan = {s: max(1, min(len(ds[s]), math.ceil(n / shard))) for s, n in sizes.items()}
        if sum(plan.values()) <= max_files:
            return plan
        shard *= 2


# ---- the Hub --------------------------------------------------------------------------------
def endpoint() -> str:
    return datasets.config.HF_ENDPOINT  # what push_to_hub uses: HF_ENDPOINT, read at import


def check_endpoint() -> None:
    """HF_ENDPOINT must be a URL; otherwise the Hub client fails deep inside with `MissingSchema`."""
    where = urlparse(endpoint())
    if where.scheme not in ("http", "https") or not where.netloc:
        raise ConfigError(f"HF_ENDPOINT={endpoint()!r} is not a URL: set it to the Hub's address (e.g. https://huggingface.co) or unset it")


@contextmanager
def hub_errors(repo_id: str, state: str) -> Iterator[None]:
    """Turn the Hub client's exceptions into one `PublishError` naming the cause and the fix;
    `state` says what the failure left on the Hub and on disk."""
    where = endpoint()
    try:
        yield
    except PublishError:
        raise
    except LocalTokenNotFoundError:
        raise PublishError(
            f"no Hugging Face token found: set HF_TOKEN or run `huggingface-cli login` with a token that can write to {repo_id}. {state}"
        ) from None
    except OfflineModeIsEnabled:
        raise PublishError(f"HF_HUB_OFFLINE is set: unset it to publish. {state}") from None
    except (requests.ConnectionError, requests.Timeout, LocalEntryNotFoundError) as err:
        raise PublishError(
            f"cannot reach the Hub at {where} ({type(err).__name__}): check the network, or HF_ENDPOINT if you set it. {state}"
        ) from None
    except RevisionNotFoundError:
        raise PublishError(f"{repo_id} has no such revision on {where}. {state}") from None
    except RepositoryNotFoundError:
        raise PublishError(
            f"dataset repo {repo_id} was not found on {where}, or your token cannot see it: check the name and the token. {state}"
        ) from None
    except requests.HTTPError as err:
        status = err.response.status_code if err.response is not None else None
        server = getattr(err, "server_message", None) or (err.response.headers.get("X-Error-Message") if err.response is not None else "")
        namespace = repo_id.split("/")[0]
        if status == 401:
            message = (
                f"the Hub at {where} rejected the token (401 Unauthorized: {server or 'invalid credentials'}): "
                "the token in HF_TOKEN or the saved login is invalid or expired; set HF_TOKEN or run `huggingface-cli login` with a valid one"
            )
        elif status == 403:
            message = (
                f"your token may not write to {repo_id} (403 Forbidden: {server or 'no permission'}): use a token with "
                f"write access to the {namespace!r} namespace, or publish under a namespace you own"
            )
        elif status == 412:
            message = f"{repo_id} changed on the Hub while publishing (412: {server}): re-run to publish on top of the new state"
        else:
            message = f"the Hub at {where} answered {status} for {repo_id}: {server or err}"
        raise PublishError(f"{message}. {state}") from None


def preflight(api: HfApi, repo_id: str) -> str:
    """Check the token and that it may write to the namespace, before any (long) build. Returns the user."""
    if not REPO_ID.match(repo_id):
        raise ConfigError(f"{repo_id!r} is not a repo id: expected 'namespace/name', e.g. 'my-org/jax-stablehlo-pairs'")
    with hub_errors(repo_id, "Nothing was built or pushed."):
        me = api.whoami()
    namespace = repo_id.split("/")[0]
    token = (me.get("auth") or {}).get("accessToken") or {}
    if token.get("role") == "read":
        raise PublishError(f"the token is read-only: {repo_id} needs a token with write access. Nothing was built or pushed.")
    allowed = {me.get("name"), *(o.get("name") for o in me.get("orgs") or [])}
    if token.get("role") == "write" and namespace not in allowed:
        raise PublishError(
            f"{me.get('name')} may not write to the {namespace!r} namespace (you can write to: {', '.join(sorted(filter(None, allowed)))}). "
            "Nothing was built or pushed."
        )
    return str(me.get("name"))


def remote_card_data(api: HfApi, repo_id: str, revision: str | None) -> DatasetCardData | None:
    """The header of the repo's README.md at `revision`, or None when there is none yet."""
    for rev in dict.fromkeys([revision, None]):  # a branch push_to_hub is about to create starts from main
        try:
            path = api.hf_hub_download(repo_id, "README.md", repo_type="dataset", revision=rev)
        except (RepositoryNotFoundError, EntryNotFoundError):
            return None
        except RevisionNotFoundError:
            continue
        return DatasetCard.load(path).data
    return None


def remote_records(api: HfApi, repo_id: str, revision: str, names: Sequence[str]) -> list[ConfigRecord]:
    """The stats/<config>.json records that earlier publishes left, for the configs still in the card."""
    records = []
    for name in names:
        try:
            path = api.hf_hub_download(repo_id, f"{STATS_DIR}/{name}.json", repo_type="dataset", revision=revision)
        except EntryNotFoundError:
            logger.info("config %s has no %s/%s.json (not published by this tool): the card lists it without statistics", name, STATS_DIR, name)
            continue
        try:
            records.append(ConfigRecord.from_json(Path(path).read_text()))
        except (KeyError, TypeError, ValueError) as err:  # written by another version: list the config without statistics
            logger.warning("cannot read %s/%s.json (%s): the card lists config %s without statistics", STATS_DIR, name, err, name)
    return records


def write_card(api: HfApi, repo_id: str, revision: str | None, parent: str, record: ConfigRecord) -> str:
    """Render the card for every config now in the repo and commit it with this config's record
    and figure, on top of `parent` (the data commit). Returns the new commit id."""
    pushed = DatasetCard.load(api.hf_hub_download(repo_id, "README.md", repo_type="dataset", revision=parent)).data
    names = [c["config_name"] for c in pushed.get("configs") or [] if c.get("config_name") != record.name]
    records = [*remote_records(api, repo_id, parent, names), record]
    png = figures.figure_png(record)
    record.figure = f"{FIGURES_DIR}/{record.name}.png" if png else None
    card = render(repo_id, pushed, records)
    operations = [
        CommitOperationAdd("README.md", str(card).encode()),
        CommitOperationAdd(f"{STATS_DIR}/{record.name}.json", record.to_json().encode()),
    ]
    if png:
        operations.append(CommitOperationAdd(record.figure, png))
    info = api.create_commit(
        repo_id,
        operations,
        commit_message=f"Dataset card: config {record.name}",
        repo_type="dataset",
        revision=revision,
        parent_commit=parent,
    )
    return info.oid


def publish_dataset(
    ds: datasets.DatasetDict,
    config: PairsConfig | str,
    repo_id: str,
    *,
    private: bool = False,
    revision: str | None = None,
    token: str | None = None,
    overrides: Mapping[str, Any] | None = None,
    checked: bool = False,
    failures: int = 0,
    fingerprint: str | None = None,
    files: BuildDir | None = None,
) -> Published:
    """Push one built config and refresh the card. `config` (a name plus `overrides`, or a
    `PairsConfig`) must be what built `ds`: unless `checked`, that is verified first.
    `failures` (programs that failed to lower and were redrawn) and `fingerprint` (of the code
    that built `ds`; default: this code) are reported on the card. `files`: the Parquet build `ds` was
    read from, whose files are pushed as they are (no conversion)."""
    config = config if isinstance(config, PairsConfig) else resolve(config, overrides)
    if not checked:
        verify(ds, config, "the dataset")
    api = HfApi(endpoint=endpoint(), token=token)
    name = config.name
    record = ConfigRecord.of(config, collect(ds, failures=failures), fingerprint or code_fingerprint(), load_named()[0].get(name))
    untouched = (
        f"push_to_hub writes a config in one commit, so {repo_id} holds all of config {name!r} or none of it; "
        "the local build is untouched: re-run the same command to retry (a finished build is reused)."
    )
    with hub_errors(repo_id, untouched):
        existing = remote_card_data(api, repo_id, revision)
        set_default = name == DEFAULT_CONFIG and can_set_default(existing)
        message = f"Publish config {name}"
        if files is not None and files.layout == PARQUET:
            oid = push_files(api, files, ds, repo_id, private=private, revision=revision, set_default=set_default, message=message)
        else:
            oid = ds.push_to_hub(
                repo_id,
                config_name=name,
                private=private or None,
                revision=revision,
                token=token,
                num_shards=plan_shards(ds, datasets.config.UPLOADS_MAX_NUMBER_PER_COMMIT - 1),
                set_default=set_default,
                commit_message=message,
            ).oid
    stale_card = (
        f"Config {name!r} is on {repo_id} in full and loads (commit {oid[:12]}), "
        "but its dataset card was not updated: re-run the same command to refresh it."
    )
    with hub_errors(repo_id, stale_card):
        oid = write_card(api, repo_id, revision, oid, record)
    logger.info("published config %s to %s at %s", name, repo_id, oid)
    return Published(name, repo_id, revision or "main", oid, dict(record.stats.rows))


def publish(
    repo_id: str,
    configs: Sequence[str],
    *,
    overrides: Mapping[str, Any] | None = None,
    from_disk: Mapping[str, str | Path] | None = None,
    private: bool = False,
    revision: str | None = None,
    token: str | None = None,
    cache_dir: str | None = None,
    num_proc: int | None = None,
) -> list[Published]:
    """Build (or reuse) and publish each config, in order; `from_disk` maps a config to a
    `save_to_disk` directory to publish instead of building. `overrides` apply to every config."""
    check_endpoint()
    from_disk = dict(from_disk or {})
    names = list(dict.fromkeys([*configs, *from_disk]))
    if not names:
        raise ConfigError("no config to publish: pass --config NAME (e.g. --config balanced)")
    for name, path in from_disk.items():
        if not Path(path).is_dir():
            raise ConfigError(f"--from-dir {name}={path}: no such directory")
        open_build(Path(path), "--from-dir")  # a missing or unreadable shard is named before any work
    resolved = {  # bad names and values fail before any work
        n: saved_config(from_disk[n], n, overrides) if n in from_disk else resolve(n, overrides) for n in names
    }
    to_build = sum(resolved[n].split_size(s) for n in names if n not in from_disk for s in SPLITS)
    if to_build:  # an unwritable or full cache is said now, not after the build
        check_writable(Path(cache_dir or datasets.config.HF_DATASETS_CACHE), "--cache-dir", to_build * ROW_BYTES)
    preflight(HfApi(endpoint=endpoint(), token=token), repo_id)
    out = []
    for name in names:
        fingerprint, files = None, None
        if name in from_disk:
            files, ds = load_saved(from_disk[name], resolved[name], cache_dir)
            failures = len(of_kind(read_report(Path(from_disk[name])) or [], LOWERING))
            fingerprint = (read_manifest(Path(from_disk[name])) or {}).get("code_fingerprint")  # the code that built it
        else:
            ds, _, failures = build(name, overrides, cache_dir, num_proc)
            verify(ds, resolved[name], f"the build of {name!r} in the datasets cache")  # a reused cache may have been edited
        out.append(
            publish_dataset(
                ds,
                resolved[name],
                repo_id,
                private=private,
                revision=revision,
                token=token,
                checked=True,
                failures=failures,
                fingerprint=fingerprint,
                files=files,
            )
        )
    return out
