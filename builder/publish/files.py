"""Push a Parquet build (`build --engine ray`) as it is: its files are already the Hub's layout.

No rebuild and no conversion: the build's `<config>/<split>-NNNNN-of-NNNNN.parquet` files go up
byte for byte, in ONE commit with the README's `configs:` entry (so `load_dataset(repo, config)`
finds them) and `dataset_info:` entry, and with the deletion of that config's earlier shards, the
same commit `DatasetDict.push_to_hub` makes for a DatasetDict. So the repo holds all of the config
or none of it; the card follows in a second commit (`hub.write_card`).
"""

from __future__ import annotations

from collections.abc import Mapping

import datasets
from datasets.info import DatasetInfosDict
from datasets.utils.metadata import MetadataConfigs
from huggingface_hub import CommitOperationAdd, CommitOperationDelete, DatasetCard, DatasetCardData, HfApi
from huggingface_hub.hf_api import RepoFile

from ..features import FEATURES
from ..pipeline.build_dir import BuildDir

CARD = "README.md"


def info_of(build: BuildDir, ds: Mapping[str, datasets.Dataset], name: str) -> datasets.DatasetInfo:
    """The config's `dataset_info:` entry, as push_to_hub writes it: features, rows and bytes per split, file sizes."""
    splits = datasets.SplitDict()
    for split, d in ds.items():
        splits[split] = datasets.SplitInfo(split, num_bytes=d.data.nbytes, num_examples=len(d))
    download = sum(p.stat().st_size for paths in build.files.values() for p in paths)
    size = sum(d.data.nbytes for d in ds.values())
    return datasets.DatasetInfo(
        features=FEATURES, config_name=name, splits=splits, download_size=download, dataset_size=size, size_in_bytes=download + size
    )


def card_with_entry(
    api: HfApi, repo_id: str, revision: str | None, present: bool, build: BuildDir, info: datasets.DatasetInfo, set_default: bool
) -> DatasetCard:
    """The repo's README with this config's `configs:` and `dataset_info:` entries put in (others kept)."""
    name = str(info.config_name)
    card = DatasetCard.load(api.hf_hub_download(repo_id, CARD, repo_type="dataset", revision=revision)) if present else None
    data = card.data if card is not None else DatasetCardData()
    entry: dict = {"data_files": [{"split": s, "path": f"{build.config_name}/{s}-*"} for s in build.files]}
    if set_default:
        existing = MetadataConfigs.from_dataset_card_data(data)
        for other in existing.values():
            other.pop("default", None)
        existing.to_dataset_card_data(data)
        entry["default"] = True
    DatasetInfosDict({name: info}).to_dataset_card_data(data)
    MetadataConfigs({name: entry}).to_dataset_card_data(data)
    return card if card is not None else DatasetCard(f"---\n{data}\n---\n")


def push_files(
    api: HfApi,
    build: BuildDir,
    ds: Mapping[str, datasets.Dataset],
    repo_id: str,
    *,
    private: bool = False,
    revision: str | None = None,
    set_default: bool = False,
    message: str,
) -> str:
    """Upload the build's Parquet files and the README entries in one commit; the commit id."""
    name = str(build.config_name)
    api.create_repo(repo_id, repo_type="dataset", private=private or None, exist_ok=True)
    if revision is not None:
        api.create_branch(repo_id, branch=revision, repo_type="dataset", exist_ok=True)
    additions = [CommitOperationAdd(f"{name}/{p.name}", str(p)) for paths in build.files.values() for p in paths]
    added = {a.path_in_repo for a in additions}
    tree = [f.rfilename for f in api.list_repo_tree(repo_id, revision=revision, repo_type="dataset", recursive=True) if isinstance(f, RepoFile)]
    stale = tuple(f"{name}/{s}-" for s in build.files)
    deletions = [CommitOperationDelete(f) for f in tree if f.startswith(stale) and f not in added]
    card = card_with_entry(api, repo_id, revision, CARD in tree, build, info_of(build, ds, name), set_default)
    additions.append(CommitOperationAdd(CARD, str(card).encode()))
    info = api.create_commit(repo_id, [*additions, *deletions], commit_message=message, repo_type="dataset", revision=revision)
    return info.oid
