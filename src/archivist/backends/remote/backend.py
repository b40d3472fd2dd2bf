"""``RemoteCatalogBackend``: the :class:`~archivist.backends.base.Backend` contract over a
catalog server's REST API (docs/server.md has the routes).

Each method is one request (a list longer than a page is several); the records travel
in the forms of :mod:`archivist.wire`, and the server's typed errors come back as the
same classes. The project is in every route: a call for project ``other`` goes to
``/api/v1/projects/other/…`` whatever project the catalog opened.

It is one module of a little over 400 lines on purpose: one short method per part of the
contract, which reads best as one list (as ``SqlBackend``'s does).
"""

from __future__ import annotations

import copy
import itertools
from collections.abc import Callable, Iterable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any
from urllib.parse import quote

from archivist.backends.remote.blobs import RemoteBlobs
from archivist.backends.remote.cache import BlobCache, cache_from_env
from archivist.backends.remote.transport import (
    API,
    HttpClient,
    Transport,
    segment,
    transport_errors,
)
from archivist.config import resolve
from archivist.errors import ArtifactNotFoundError, ConflictError, InvalidInputError, StorageError
from archivist.model import (
    Artifact,
    GcReport,
    HistoryEntry,
    LineageRows,
    ListFilter,
    NewRun,
    NewVersion,
    RunRecord,
    TaskRecord,
    VerifyReport,
)
from archivist.query.ast import Query
from archivist.refs import Ref
from archivist.store.references import reference_changed
from archivist.wire import (
    artifact_from_dict,
    artifacts_from_list,
    filter_to_params,
    gc_report_from_dict,
    history_entry_from_dict,
    lineage_from_dict,
    new_run_to_dict,
    new_version_to_dict,
    run_from_dict,
    task_from_dict,
    verify_report_from_dict,
)

LOOKUP_BATCH = 1000  # ids per POST /versions/lookup
USER_HEADER = "X-Archivist-User"
#: The created records are not read: the server skips reading them back (RFC 7240).
_MINIMAL = {"Prefer": "return=minimal"}


class RemoteCatalogBackend:
    """The metadata of a catalog server, used exactly like a local backend.

    Obtain it from a URL, or let the catalog do it::

        backend = RemoteCatalogBackend("https://catalog.example.com", api_key="ak_…")
        catalog = ArtifactCatalog(backend)                     # or
        catalog = ArtifactCatalog("https://catalog.example.com")  # key from the env

    Args:
        url: the server (``http(s)://host[:port]``, with a path where a reverse proxy
            mounts it: ``https://host/api/v1/catalog``).
        api_key: sent as ``Authorization: Bearer …``; ``None`` reads
            ``ARCHIVIST_CATALOG_API_KEY`` (or the config file's ``api_key``), and sends
            none if that is unset too (a server run with ``--insecure-single-user``).
        client: an ``httpx.Client`` to send through (tests: ``TestClient(app)``).
        project: the project of calls that name none (leases); default ``"default"``.
        cache: the download cache of :meth:`blobs_for` stores (default: from
            ``ARCHIVIST_CACHE_DIR`` / ``ARCHIVIST_CACHE_SIZE``).
        timeout, retries: see :class:`~archivist.backends.remote.transport.Transport`.

    Raises:
        InvalidInputError: ``url`` is not an http(s) URL, or the cache settings are bad.
    """

    def __init__(self, url: str, api_key: str | None = None, *,
                 client: HttpClient | None = None, project: str = "default",
                 cache: BlobCache | None = None, timeout: float | None = None,
                 retries: int = 4) -> None:
        kwargs: dict[str, Any] = {"timeout": timeout} if timeout is not None else {}
        if api_key is None:  # as ArtifactCatalog("https://…") does: the environment's key
            api_key = resolve().api_key
        self.transport = Transport(url, api_key, client=client, retries=retries, **kwargs)
        self.url = self.transport.base_url
        self.project = project
        self.cache = cache if cache is not None else cache_from_env()

    def __repr__(self) -> str:
        return f"RemoteCatalogBackend({self.url!r})"

    def blobs_for(self, project: str) -> RemoteBlobs:
        """The blob store of ``project`` on this server."""
        return RemoteBlobs(self.transport, project, self.cache)

    def for_project(self, project: str) -> RemoteCatalogBackend:
        """This backend (same connection pool) with ``project`` for calls naming none."""
        if project == self.project:
            return self
        twin = copy.copy(self)
        twin.project = project
        return twin

    def _p(self, project: str) -> str:
        return f"{API}/projects/{segment(project)}"

    def _data(self, body: Any, what: str) -> Any:
        if not isinstance(body, dict) or "data" not in body:
            raise StorageError(f"the server's answer to {what} has no 'data'")
        return body["data"]

    # -- versions -------------------------------------------------------------------------
    def create_versions(self, records: Sequence[NewVersion], *,
                        task: TaskRecord | None = None) -> None:
        self._create_versions(records)
        if task is not None:  # a second request: the server's API saves a task alone
            self.save_task(task)

    def _create_versions(self, records: Sequence[NewVersion]) -> None:
        projects = list(dict.fromkeys(r.project for r in records))
        if len(projects) > 1:
            raise InvalidInputError(
                "one batch writes to one project on a catalog server (one transaction per "
                f"request); this one names {', '.join(projects)}: use a batch per project")
        if not records:
            return
        if projects[0] != self.project:
            # The bytes were uploaded to this catalog's project; a server with one store
            # per project needs them in the target project's store too.
            digests = [d for r in records for d in r.blob_digests]
            if digests:
                self.blobs_for(projects[0]).copy_missing(self.blobs_for(self.project), digests)
        path = f"{self._p(projects[0])}/versions"
        body = {"versions": [new_version_to_dict(r) for r in records]}

        def landed() -> bool:
            # Ids are assigned here (the idempotency key), so the server can say whether
            # the versions landed (all or none: one transaction), and a repeat cannot
            # make a second copy.
            found = self.get_versions_by_id([r.id for r in records])
            if found and len(found) < len(records):
                raise ConflictError(f"only {len(found)} of {len(records)} versions of a "
                                    "batch are registered; their ids are taken")
            return len(found) == len(records)

        self._write("POST", path, landed, json=body, headers=_MINIMAL)

    def _write(self, method: str, path: str, landed: Callable[[], bool], *,
               json: Any = None, headers: dict[str, str] | None = None) -> None:
        """Send a write that must take effect once, retrying a lost answer safely.

        No answer, or a 503 (the server's database failed mid-request, maybe after its
        commit): ``landed()`` reads whether the write took effect, and the write is sent
        again only if it did not. Sending it blindly again could fail (a second delete is
        a 409, a second alias removal a 404) or make a second copy. The retries and their
        pauses are the transport's (``retries``, exponential backoff).
        """
        for attempt in itertools.count():
            try:
                self.transport.request(method, path, json=json, headers=headers,
                                       idempotent=False)
                return
            except StorageError as exc:
                if attempt >= self.transport.retries:
                    raise
                if not isinstance(exc.__cause__, transport_errors()):
                    self.transport.pause(attempt)  # the server answered 503: let it recover
            if landed():
                return

    def get_version(self, ref: Ref, project: str) -> Artifact:
        if ref.id is not None:
            # An id names one version in any project (deleted ones included), as locally;
            # the lookup answers only what the key may see.
            found = self.get_versions_by_id([ref.id])
            if not found or (ref.project is not None and found[0].project != ref.project):
                raise ArtifactNotFoundError(f"no version with id {ref.id!r}", ref=ref.id)
            return found[0]
        scope = ref.project or project
        text = str(replace(ref, project=None))
        body = self.transport.json("GET", f"{self._p(scope)}/refs/{segment(text)}")
        return artifact_from_dict(body)

    def get_versions_by_id(self, ids: Sequence[str]) -> list[Artifact]:
        wanted = list(ids)
        found: list[Artifact] = []
        for start in range(0, len(wanted), LOOKUP_BATCH):
            body = self.transport.json("POST", f"{API}/versions/lookup", idempotent=True,
                                       json={"ids": wanted[start:start + LOOKUP_BATCH]})
            found += artifacts_from_list(self._data(body, "versions/lookup"))
        return found

    def list_versions(self, filters: ListFilter) -> list[Artifact]:
        params = [(k, v) for k, v in filter_to_params(filters) if k not in ("limit", "cursor")]
        items = self.transport.collect(f"{self._p(filters.project)}/versions", params,
                                       limit=filters.limit, offset=filters.offset)
        return artifacts_from_list(items)

    def search(self, query: Query, project: str, limit: int, offset: int) -> list[Artifact]:
        if not query.text and (query.terms or query.sort):
            raise InvalidInputError("a catalog server is searched by query text: build the "
                                    "query with archivist.query.parse_query(text)")
        items = self.transport.collect(f"{self._p(project)}/search", [("q", query.text)],
                                       limit=limit, offset=offset)
        return artifacts_from_list(items)

    def spelling(self, project: str, name: str) -> str | None:
        body = self.transport.json("GET", f"{self._p(project)}/spellings/{segment(name)}")
        spelling = body.get("spelling") if isinstance(body, dict) else None
        return spelling if isinstance(spelling, str) else None

    def find_digest(self, digest: str, project: str) -> list[Artifact]:
        body = self.transport.json("GET", f"{self._p(project)}/digests/{segment(digest)}")
        return artifacts_from_list(self._data(body, "digests"))

    def update_tags(self, version_id: str, set_tags: dict[str, Any], remove: Sequence[str],
                    user: str | None) -> None:
        # the server records only changes: the same request twice leaves the same tags
        # and history, so it is safe to retry
        self.transport.request("PATCH", f"{API}/versions/{segment(version_id)}/tags",
                               json={"set": set_tags, "remove": list(remove)},
                               headers=_as_user(user), idempotent=True)

    def set_alias(self, version_id: str, alias: str, user: str | None) -> None:
        self.transport.request(
            "PUT", f"{API}/versions/{segment(version_id)}/aliases/{segment(alias)}",
            headers=_as_user(user))

    def remove_alias(self, project: str, name: str, alias: str, user: str | None) -> None:
        def landed() -> bool:
            try:
                self.get_version(Ref(name=name, alias=alias), project)
            except ArtifactNotFoundError:
                return True
            return False

        self._write("DELETE",
                    f"{self._p(project)}/artifacts/{segment(name)}/aliases/{segment(alias)}",
                    landed, headers=_as_user(user))

    def rename(self, project: str, old: str, new: str, user: str | None) -> None:
        def landed() -> bool:  # the old name is gone and the new one answers
            for name, wanted in ((old, False), (new, True)):
                try:
                    self.get_version(Ref(name=name), project)
                except ArtifactNotFoundError:
                    if wanted:
                        return False
                else:
                    if not wanted:
                        return False
            return True

        self._write("POST", f"{self._p(project)}/artifacts/{segment(old)}/rename", landed,
                    json={"new_name": new}, headers=_as_user(user))

    def update_description(self, version_id: str, description: str | None,
                           user: str | None) -> None:
        # an unchanged description records nothing: safe to retry
        self.transport.request("PATCH", f"{API}/versions/{segment(version_id)}",
                               json={"description": description}, headers=_as_user(user),
                               idempotent=True)

    def update_metadata(self, version_id: str, set_keys: dict[str, Any],
                        remove: Sequence[str], user: str | None) -> None:
        # setting keys to values twice leaves the same metadata: safe to retry
        self.transport.request("PATCH", f"{API}/versions/{segment(version_id)}/metadata",
                               json={"set": set_keys, "remove": list(remove)},
                               headers=_as_user(user), idempotent=True)

    def delete_version(self, version_id: str, user: str | None) -> None:
        def landed() -> bool:
            found = self.get_versions_by_id([version_id])
            return bool(found) and found[0].deleted

        self._write("DELETE", f"{API}/versions/{segment(version_id)}", landed,
                    headers=_as_user(user))

    def history(self, project: str, name: str, *, version_id: str | None = None,
                limit: int | None = None) -> list[HistoryEntry]:
        params = [("version", version_id)] if version_id is not None else []
        params += [("limit", str(limit))] if limit is not None else []
        body = self.transport.json("GET", f"{self._p(project)}/artifacts/{segment(name)}/history",
                                   params=params)
        data = self._data(body, "history")
        if not isinstance(data, list):
            raise StorageError("the server's history is not a list")
        return [history_entry_from_dict(entry) for entry in data]

    def lineage(self, version_id: str, direction: str, depth: int | None) -> LineageRows:
        params = [("direction", direction)] + ([("depth", str(depth))] if depth else [])
        body = self.transport.json("GET", f"{API}/versions/{segment(version_id)}/lineage",
                                   params=params)
        return lineage_from_dict(body)

    # -- blobs' references and leases -----------------------------------------------------
    def blob_references(self) -> dict[str, bool]:
        refs: dict[str, bool] = {}
        for project in self.projects():
            body = self.transport.json("GET", f"{self._p(project)}/blob-references")
            data = self._data(body, "blob-references")
            if not isinstance(data, dict):
                raise StorageError("the server's blob references are not an object")
            for digest, live in data.items():
                refs[str(digest)] = refs.get(str(digest), False) or bool(live)
        return refs

    def lease_blobs(self, token: str, digests: Iterable[str], expires_at: float) -> None:
        self.transport.request("PUT", f"{self._p(self.project)}/leases/{segment(token)}",
                               json={"digests": list(digests), "expires_at": expires_at})

    def release_blobs(self, token: str) -> None:
        self.transport.request("DELETE", f"{self._p(self.project)}/leases/{segment(token)}")

    def leased_digests(self, now: float) -> set[str]:
        body = self.transport.json("GET", f"{self._p(self.project)}/leases",
                                   params=[("now", repr(float(now)))])
        digests = body.get("digests") if isinstance(body, dict) else None
        if not isinstance(digests, list):
            raise StorageError("the server's leases answer has no 'digests' list")
        return {str(d) for d in digests}

    def projects(self) -> list[str]:
        body = self.transport.json("GET", f"{API}/projects")
        data = self._data(body, "projects")
        if not isinstance(data, list):
            raise StorageError("the server's project list is not a list")
        return [str(p) for p in data]

    def close(self) -> None:
        self.transport.close()

    # -- runs -----------------------------------------------------------------------------
    def create_run(self, run: NewRun) -> RunRecord:
        body = self.transport.json("POST", f"{self._p(run.project)}/runs",
                                   json={"run": new_run_to_dict(run)})
        return run_from_dict(self._data(body, "runs"))

    def get_run(self, ref: str, project: str) -> RunRecord:
        body = self.transport.json("GET", f"{self._p(project)}/runs/{segment(ref, safe='/')}")
        return run_from_dict(self._data(body, "runs"))

    def list_runs(self, project: str, pipeline: str | None, status: str | None,
                  limit: int, offset: int) -> list[RunRecord]:
        params = [(k, v) for k, v in (("pipeline", pipeline), ("status", status))
                  if v is not None]
        items = self.transport.collect(f"{self._p(project)}/runs", params, limit=limit,
                                       offset=offset)
        return [run_from_dict(item) for item in items]

    def update_run(self, run_id: str, status: str, ended_at: float | None,
                   error: str | None, details: dict[str, Any] | None = None) -> None:
        self.transport.request("PATCH", f"{API}/runs/{segment(run_id)}",
                               json={"status": status, "ended_at": ended_at, "error": error,
                                     "details": details})

    def save_task(self, task: TaskRecord) -> None:
        self.transport.request(
            "PUT", f"{API}/runs/{segment(task.run_id)}/tasks/{segment(task.id)}",
            json=task.to_dict())

    def save_tasks(self, tasks: Sequence[TaskRecord]) -> None:
        for task in tasks:  # the server's API saves one task per request
            self.save_task(task)

    def link_run_versions(self, run_id: str, consumed: Sequence[str],
                          produced: Sequence[str]) -> None:
        self.transport.request("POST", f"{API}/runs/{segment(run_id)}/links", idempotent=True,
                               json={"consumed": list(consumed), "produced": list(produced)})

    def find_cached_task(self, project: str, cache_key: str) -> TaskRecord | None:
        body = self.transport.json("GET",
                                   f"{self._p(project)}/cached-tasks/{segment(cache_key)}")
        data = self._data(body, "cached-tasks")
        return None if data is None else task_from_dict(data)

    def find_cached_outputs(self, project: str, cache_key: str
                            ) -> tuple[TaskRecord, list[Artifact]] | None:
        task = self.find_cached_task(project, cache_key)
        if task is None:
            return None
        return task, self.get_versions_by_id(list(dict.fromkeys(task.data.values())))


def _as_user(user: str | None) -> dict[str, str]:
    """The ``X-Archivist-User`` header: who the caller says it is (percent-encoded UTF-8).
    A server with API keys records the key instead; an insecure single-user one this."""
    return {USER_HEADER: quote(user, safe="")} if user else {}


class RemoteMaintenance:
    """``verify`` and ``gc`` of one project, run by the server (``POST …/verify``, ``/gc``;
    admin scope). The catalog's ``verify()``/``gc()`` call it through ``Opened``."""

    def __init__(self, backend: RemoteCatalogBackend, project: str) -> None:
        self.backend = backend
        self.project = project

    def verify(self) -> VerifyReport:
        """The server's report; the external references it does not read are checked
        here, with this machine's credentials."""
        body = self.backend.transport.json(
            "POST", f"{API}/projects/{segment(self.project)}/verify", idempotent=True)
        report = verify_report_from_dict(body)
        if not report.unchecked_references:
            return report
        changed = [a.id for a in self.backend.get_versions_by_id(report.unchecked_references)
                   if reference_changed(a.reference_uri, a.digest, a.size,
                                        a.metadata.get("etag"))]
        return replace(report, changed_references=sorted({*report.changed_references,
                                                          *changed}),
                       unchecked_references=[])

    def gc(self, *, dry_run: bool, grace: float, scratch: Path | None = None) -> GcReport:
        # ``scratch`` is the catalog's local folder of materializations in flight; a
        # remote catalog keeps its blobs on the server, whose gc sweeps its own temp files.
        del scratch
        body = self.backend.transport.json(
            # a repeated gc frees nothing more: safe to retry
            "POST", f"{API}/projects/{segment(self.project)}/gc", idempotent=True,
            json={"dry_run": dry_run, "grace": f"{grace:f}s"})
        return gc_report_from_dict(body)
