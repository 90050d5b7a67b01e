"""A Hub-API server on 127.0.0.1 for tests: the slice of the Hugging Face Hub that the real
`huggingface_hub` 0.36 client and `datasets` 3.6 call to push a dataset and load it back.

Standard library only. Repos keep an immutable history of commits (path -> bytes), so a test
can compare a repo before and after a failed push. Pre-upload answers `uploadMode: regular`,
so file contents travel base64-encoded inside the NDJSON commit (no LFS, no Xet: clients need
`HF_HUB_DISABLE_XET=1`). Commits are atomic, as on the Hub: all operations or none.

Accounts: `TOKENS` maps a token to (user, role); a user may write to its own namespace and
to its orgs. `Fault`s make the next matching request fail, to test a push that breaks.
"""

from __future__ import annotations

import base64
import hashlib
import itertools
import json
import re
import threading
from dataclasses import dataclass, field
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, quote, unquote, urlsplit

import yaml

GITATTRIBUTES = b"*.parquet filter=lfs diff=lfs merge=lfs -text\n*.png filter=lfs diff=lfs merge=lfs -text\n"


@dataclass(frozen=True)
class Account:
    user: str
    role: str = "write"  # "write" or "read"
    orgs: tuple[str, ...] = ()


TOKENS = {
    "hf_test_write": Account("alice", "write", ("org",)),
    "hf_test_read": Account("alice", "read", ("org",)),
    "hf_test_bob": Account("bob", "write", ("other",)),
}


@dataclass(frozen=True)
class Commit:
    oid: str
    parent: str | None
    message: str
    files: dict[str, bytes]


@dataclass
class Repo:
    repo_id: str
    private: bool
    branches: dict[str, str] = field(default_factory=dict)  # branch -> commit oid
    commits: dict[str, Commit] = field(default_factory=dict)

    def resolve(self, revision: str) -> Commit | None:
        oid = self.branches.get(revision, revision)
        return self.commits.get(oid)

    def files(self, revision: str = "main") -> dict[str, bytes]:
        commit = self.resolve(revision)
        return dict(commit.files) if commit else {}


@dataclass
class Fault:
    """Answer a request to `route` (e.g. "commit", "preupload") with `status`, or drop the
    connection without an answer when `status` is None; `skip` requests pass first."""

    route: str
    status: int | None = HTTPStatus.INTERNAL_SERVER_ERROR
    skip: int = 0


class HubError(Exception):
    def __init__(self, status: int, message: str, code: str | None = None, **extra: Any) -> None:
        super().__init__(message)
        self.status, self.message, self.code, self.extra = status, message, code, extra


class Dropped(Exception):
    """Close the connection without answering (a fault injected by a test)."""


def blob_oid(content: bytes) -> str:
    """git's blob id, as the Hub reports it for regular files (and the client computes for them)."""
    return hashlib.sha1(b"blob %d\0" % len(content) + content).hexdigest()


class HubState:
    """Accounts, repos and the request log, shared by the handler threads."""

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.repos: dict[str, Repo] = {}
        self.faults: list[Fault] = []
        self.log: list[tuple[str, str, int]] = []
        self._counter = itertools.count()

    # ---- state changes -------------------------------------------------------------------
    def create_repo(self, repo_id: str, private: bool = False) -> Repo:
        repo = Repo(repo_id, private)
        self.repos[repo_id] = repo
        self.commit(repo, "main", {".gitattributes": GITATTRIBUTES}, [], "initial commit")
        return repo

    def commit(self, repo: Repo, branch: str, add: dict[str, bytes], delete: list[str], message: str) -> Commit:
        parent = repo.branches.get(branch)
        files = repo.files(branch) if parent else {}
        for path in delete:
            if path.endswith("/"):
                for p in [p for p in files if p.startswith(path)]:
                    del files[p]
            elif path in files:
                del files[path]
            else:
                raise HubError(404, f"A file with this name doesn't exist: {path}", "EntryNotFound")
        files.update(add)
        oid = hashlib.sha1(f"{repo.repo_id}|{parent}|{message}|{next(self._counter)}".encode()).hexdigest()
        commit = Commit(oid, parent, message, files)
        repo.commits[oid] = commit
        repo.branches[branch] = oid
        return commit

    def take_fault(self, route: str) -> Fault | None:
        for fault in self.faults:
            if fault.route == route:
                if fault.skip:
                    fault.skip -= 1
                    return None
                self.faults.remove(fault)
                return fault
        return None


class HubServer:
    """`with HubServer() as hub:` serves on 127.0.0.1 at `hub.endpoint` until the block ends."""

    def __init__(self) -> None:
        self.state = HubState()
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self.state))
        self.httpd.daemon_threads = True
        self.endpoint = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, name="hub-server", daemon=True)

    def __enter__(self) -> HubServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(timeout=10)

    def files(self, repo_id: str, revision: str = "main") -> dict[str, bytes]:
        with self.state.lock:
            repo = self.state.repos.get(repo_id)
            return repo.files(revision) if repo else {}

    def card(self, repo_id: str, revision: str = "main") -> str:
        return self.files(repo_id, revision)["README.md"].decode()

    def history(self, repo_id: str, revision: str = "main") -> list[Commit]:
        """The commits of `revision`, oldest first."""
        with self.state.lock:
            repo = self.state.repos[repo_id]
            out, oid = [], repo.branches.get(revision)
            while oid is not None:
                out.append(repo.commits[oid])
                oid = repo.commits[oid].parent
            return out[::-1]


# ---- HTTP -------------------------------------------------------------------------------

REPO_ROUTE = re.compile(r"^/api/datasets/(?P<ns>[^/]+)/(?P<name>[^/]+)(?:/(?P<rest>.*))?$")
RESOLVE_ROUTE = re.compile(r"^/datasets/(?P<ns>[^/]+)/(?P<name>[^/]+)/resolve/(?P<rev>[^/]+)/(?P<path>.+)$")


def _handler(state: HubState) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:  # quiet: the state keeps a log
            pass

        def do_GET(self) -> None:
            self._dispatch("GET")

        def do_HEAD(self) -> None:
            self._dispatch("HEAD")

        def do_POST(self) -> None:
            self._dispatch("POST")

        # ---- plumbing ---------------------------------------------------------------------
        def _dispatch(self, method: str) -> None:
            url = urlsplit(self.path)
            self.query = parse_qs(url.query)
            length = int(self.headers.get("Content-Length") or 0)
            self.body = self.rfile.read(length) if length else b""
            status = 500
            try:
                with state.lock:
                    status = self._route(method, url.path)
            except HubError as err:
                status = err.status
                self._error(err)
            except Dropped:
                status = 0
                self.close_connection = True
                self.connection.shutdown(2)
            finally:
                state.log.append((method, self.path, status))

        def _send(self, status: int, body: bytes = b"", headers: dict[str, str] | None = None, head: bool = False) -> int:
            self.send_response(status)
            headers = {"Content-Type": "application/json", **(headers or {})}
            headers.setdefault("Content-Length", str(len(body)))
            for key, value in headers.items():
                self.send_header(key, value)
            self.end_headers()
            if not head:
                self.wfile.write(body)
            return status

        def _json(self, payload: Any, status: int = 200) -> int:
            return self._send(status, json.dumps(payload).encode())

        def _error(self, err: HubError) -> None:
            headers = {"X-Error-Message": err.message}
            if err.code:
                headers["X-Error-Code"] = err.code
            body = json.dumps({"error": err.message, **err.extra}).encode()
            self._send(err.status, body, headers, head=self.command == "HEAD")

        def _form(self) -> dict[str, list[str]]:
            return parse_qs(self.body.decode())

        # ---- auth ---------------------------------------------------------------------------
        def _account(self) -> Account | None:
            auth = self.headers.get("Authorization", "")
            if not auth:
                return None
            token = auth.removeprefix("Bearer ").strip()
            if token not in TOKENS:
                raise HubError(401, "Invalid credentials in Authorization header")
            return TOKENS[token]

        def _writer(self, namespace: str) -> Account:
            account = self._account()
            if account is None:
                raise HubError(401, "You must be authenticated to write")
            if account.role != "write" or namespace not in (account.user, *account.orgs):
                raise HubError(403, f"You don't have the rights to write to {namespace}")
            return account

        def _repo(self, repo_id: str, write: bool = False) -> Repo:
            account = self._account()
            repo = state.repos.get(repo_id)
            namespace = repo_id.split("/")[0]
            member = account is not None and namespace in (account.user, *account.orgs)
            if repo is None or (repo.private and not member):
                raise HubError(404, "Repository not found", "RepoNotFound")
            if write:
                self._writer(namespace)
            return repo

        @staticmethod
        def _commit_of(repo: Repo, revision: str) -> Commit:
            commit = repo.resolve(unquote(revision))
            if commit is None:
                raise HubError(404, f"Invalid rev id: {unquote(revision)}", "RevisionNotFound")
            return commit

        # ---- routes -------------------------------------------------------------------------
        def _route(self, method: str, path: str) -> int:
            if (m := RESOLVE_ROUTE.match(path)) and method in ("GET", "HEAD"):
                return self._resolve(f"{unquote(m['ns'])}/{unquote(m['name'])}", m["rev"], unquote(m["path"]), method)
            if path == "/api/whoami-v2" and method == "GET":
                return self._whoami()
            if path == "/api/repos/create" and method == "POST":
                return self._create_repo()
            if path == "/api/validate-yaml" and method == "POST":
                return self._validate_yaml()
            if m := REPO_ROUTE.match(path):
                repo_id, rest = f"{unquote(m['ns'])}/{unquote(m['name'])}", m["rest"] or ""
                head, _, tail = rest.partition("/")
                if fault := state.take_fault(head or "info"):
                    if fault.status is None:
                        raise Dropped
                    raise HubError(fault.status, f"injected fault on {head or 'info'}")
                routes = {
                    ("GET", ""): self._info,
                    ("GET", "revision"): self._info,
                    ("GET", "tree"): self._tree,
                    ("GET", "refs"): self._refs,
                    ("POST", "paths-info"): self._paths_info,
                    ("POST", "preupload"): self._preupload,
                    ("POST", "commit"): self._commit,
                    ("POST", "branch"): self._branch,
                }
                if (method, head) in routes:
                    return routes[method, head](repo_id, tail)
            raise HubError(501, f"the test Hub does not implement {method} {path}")

        def _whoami(self) -> int:
            account = self._account()
            if account is None:
                raise HubError(401, "Invalid credentials in Authorization header")
            return self._json(
                {
                    "type": "user",
                    "name": account.user,
                    "orgs": [{"name": org, "roleInOrg": "write"} for org in account.orgs],
                    "auth": {"type": "access_token", "accessToken": {"displayName": "test", "role": account.role}},
                }
            )

        def _create_repo(self) -> int:
            payload = json.loads(self.body or b"{}")
            if payload.get("type") != "dataset":
                raise HubError(400, "the test Hub only hosts dataset repos")
            account = self._account()
            namespace = payload.get("organization") or (account.user if account else None)
            if namespace is None:
                raise HubError(401, "You must be authenticated to create a repo")
            self._writer(namespace)
            repo_id = f"{namespace}/{payload['name']}"
            url = f"http://{self.headers['Host']}/datasets/{repo_id}"
            if repo_id in state.repos:
                raise HubError(409, "You already created this dataset repo", url=url)
            state.create_repo(repo_id, bool(payload.get("private")))
            return self._json({"url": url, "name": repo_id, "id": repo_id})

        def _validate_yaml(self) -> int:
            content = json.loads(self.body)["content"]
            match = re.match(r"^---\n(.*?)\n---", content, re.S)
            try:
                yaml.safe_load(match[1]) if match else None
            except yaml.YAMLError as err:
                return self._json({"errors": [{"message": str(err)}]}, status=400)
            return self._json({"warnings": []})

        def _info(self, repo_id: str, tail: str) -> int:
            repo = self._repo(repo_id)
            commit = self._commit_of(repo, tail or "main")
            return self._json(
                {
                    "id": repo_id,
                    "author": repo_id.split("/")[0],
                    "sha": commit.oid,
                    "private": repo.private,
                    "gated": False,
                    "disabled": False,
                    "siblings": [{"rfilename": p} for p in sorted(commit.files)],
                    "tags": [],
                }
            )

        def _refs(self, repo_id: str, tail: str) -> int:
            repo = self._repo(repo_id)
            branches = [{"name": b, "ref": f"refs/heads/{b}", "targetCommit": oid} for b, oid in repo.branches.items()]
            return self._json({"branches": branches, "tags": [], "converts": []})

        def _branch(self, repo_id: str, tail: str) -> int:
            repo = self._repo(repo_id, write=True)
            branch = unquote(tail)
            if branch in repo.branches:
                raise HubError(409, f"Reference already exists: refs/heads/{branch}")
            start = json.loads(self.body or b"{}").get("startingPoint") or "main"
            repo.branches[branch] = self._commit_of(repo, start).oid
            return self._json({})

        @staticmethod
        def _entries(files: dict[str, bytes]) -> dict[str, dict[str, Any]]:
            """Every file and directory of a commit, as the tree and paths-info APIs list them."""
            out: dict[str, dict[str, Any]] = {}
            for path, content in files.items():
                out[path] = {"type": "file", "oid": blob_oid(content), "size": len(content), "path": path}
                parts = path.split("/")
                for i in range(1, len(parts)):
                    folder = "/".join(parts[:i])
                    out.setdefault(folder, {"type": "directory", "oid": blob_oid(folder.encode()), "size": 0, "path": folder})
            return out

        def _tree(self, repo_id: str, tail: str) -> int:
            revision, _, folder = tail.partition("/")
            repo = self._repo(repo_id)
            entries = self._entries(self._commit_of(repo, revision).files)
            folder = unquote(folder).strip("/")
            if folder and entries.get(folder, {}).get("type") != "directory":
                raise HubError(404, f"{folder} does not exist", "EntryNotFound")
            recursive = self.query.get("recursive", ["false"])[0].lower() in ("1", "true")
            prefix = f"{folder}/" if folder else ""
            listed = [
                e
                for p, e in sorted(entries.items())
                if p.startswith(prefix) and (recursive or "/" not in p[len(prefix) :])
            ]
            return self._json(listed)

        def _paths_info(self, repo_id: str, tail: str) -> int:
            repo = self._repo(repo_id)
            entries = self._entries(self._commit_of(repo, tail).files)
            form = self._form()
            return self._json([entries[p] for p in form.get("paths", []) if p in entries])

        def _preupload(self, repo_id: str, tail: str) -> int:
            repo = self._repo(repo_id, write=True)
            commit = repo.resolve(unquote(tail))
            existing = commit.files if commit else {}
            files = json.loads(self.body)["files"]
            return self._json(
                {
                    "files": [
                        {
                            "path": f["path"],
                            "uploadMode": "regular",
                            "shouldIgnore": False,
                            "oid": blob_oid(existing[f["path"]]) if f["path"] in existing else None,
                        }
                        for f in files
                    ],
                    "commitOid": commit.oid if commit else None,
                }
            )

        def _commit(self, repo_id: str, tail: str) -> int:
            repo = self._repo(repo_id, write=True)
            if self.query.get("create_pr"):
                raise HubError(400, "the test Hub does not implement pull requests")
            branch = unquote(tail)
            if branch not in repo.branches:
                raise HubError(404, f"Invalid rev id: {branch}", "RevisionNotFound")
            lines = [json.loads(line) for line in self.body.decode().splitlines() if line.strip()]
            header = next((x["value"] for x in lines if x["key"] == "header"), None)
            if header is None:
                raise HubError(400, "the commit has no header line")
            parent = header.get("parentCommit")
            if parent is not None and parent != repo.branches[branch]:
                raise HubError(412, "A commit has happened since. Please refresh and try again.")
            add: dict[str, bytes] = {}
            delete: list[str] = []
            for item in lines:
                key, value = item["key"], item["value"]
                if key == "file":
                    if value.get("encoding") != "base64":
                        raise HubError(400, f"unsupported encoding {value.get('encoding')!r}")
                    add[value["path"]] = base64.b64decode(value["content"])
                elif key in ("deletedFile", "deletedFolder"):
                    delete.append(value["path"].rstrip("/") + ("/" if key == "deletedFolder" else ""))
                elif key == "lfsFile":
                    raise HubError(400, "the test Hub answers uploadMode regular; it stores no LFS objects")
                elif key != "header":
                    raise HubError(400, f"unknown commit operation {key!r}")
            commit = state.commit(repo, branch, add, delete, header.get("summary", ""))
            host = f"http://{self.headers['Host']}"
            return self._json(
                {"commitUrl": f"{host}/datasets/{repo_id}/commit/{commit.oid}", "commitOid": commit.oid, "pullRequestUrl": None}
            )

        def _resolve(self, repo_id: str, revision: str, path: str, method: str) -> int:
            repo = self._repo(repo_id)
            commit = self._commit_of(repo, revision)
            if path not in commit.files:
                raise HubError(404, "Entry not found", "EntryNotFound")
            content = commit.files[path]
            headers = {
                "Content-Type": "application/octet-stream",
                "X-Repo-Commit": commit.oid,
                "ETag": f'"{blob_oid(content)}"',
                "Accept-Ranges": "bytes",
                "Content-Disposition": f"inline; filename*=UTF-8''{quote(path.rsplit('/', 1)[-1])}",
            }
            status, body = 200, content
            if (rng := self.headers.get("Range")) and (m := re.fullmatch(r"bytes=(\d*)-(\d*)", rng.strip())):
                start = int(m[1]) if m[1] else max(len(content) - int(m[2] or 0), 0)
                stop = int(m[2]) + 1 if m[1] and m[2] else len(content)
                status, body = 206, content[start:stop]
                headers["Content-Range"] = f"bytes {start}-{start + len(body) - 1}/{len(content)}"
            headers["Content-Length"] = str(len(body))
            return self._send(status, body, headers, head=method == "HEAD")

    return Handler
