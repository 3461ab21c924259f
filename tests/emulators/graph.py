"""A loopback Microsoft Graph v1.0 and login emulator for SharePoint and OneDrive tests.

Start it with `GraphEmulator()` as a context manager; `url` is http://127.0.0.1:PORT,
Graph lives under `/v1.0`, and the login endpoints under `/{tenant}/...` as on
login.microsoftonline.com. `LoginRoutedSession` sends msal's https login traffic there.
"""

from __future__ import annotations

import json
import random
import re
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote, urlencode, urlsplit

import requests

from tests.emulators.graph_login import LOGIN, Grant, Login
from tests.emulators.graph_tenant import (
    App,
    BinEntry,
    Drive,
    Item,
    Tenant,
    User,
    Version,
    content_bytes,
    decode_token,
    encode_token,
    iso,
)

READ = ("Files.Read.All", "Sites.Read.All", "Files.ReadWrite.All", "Sites.ReadWrite.All")
WRITE = ("Files.ReadWrite.All", "Sites.ReadWrite.All")
MAX_BATCH = 20

STATUS_CODES = {
    400: "invalidRequest",
    401: "InvalidAuthenticationToken",
    403: "accessDenied",
    404: "itemNotFound",
    409: "nameAlreadyExists",
    410: "resyncRequired",
    412: "resourceModified",
    423: "resourceLocked",
    429: "activityLimitReached",
    500: "generalException",
    501: "notSupported",
    503: "serviceNotAvailable",
    507: "quotaLimitReached",
}


class GraphError(Exception):
    """An error response in Graph's shape."""

    def __init__(
        self,
        status: int,
        message: str,
        code: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code or STATUS_CODES.get(status, "generalException")
        self.message = message
        self.headers = headers or {}


@dataclass
class Response:
    status: int
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    raw: bytes | None = None


@dataclass
class Faults:
    """Injected failures: a throttling rate, queued errors, locked items; with a seeded RNG."""

    seed: int = 0
    throttle_rate: float = 0.0
    throttle_statuses: tuple[int, ...] = (429, 503)
    retry_after: int = 1
    throttle_endpoints: set[str] | None = None
    queued: dict[str, list[int]] = field(default_factory=dict)
    locked: set[str] = field(default_factory=set)
    rng: random.Random = field(init=False)
    throttled: Counter[str] = field(default_factory=Counter)

    def __post_init__(self) -> None:
        self.rng = random.Random(self.seed)

    def throttle(
        self,
        rate: float,
        statuses: tuple[int, ...] = (429, 503),
        retry_after: int = 1,
        endpoints: set[str] | None = None,
    ) -> None:
        """Answer this fraction of Graph requests with a throttling status and Retry-After."""
        self.throttle_rate = rate
        self.throttle_statuses = statuses
        self.retry_after = retry_after
        self.throttle_endpoints = endpoints

    def fail(self, endpoint: str, status: int, times: int = 1) -> None:
        """The next `times` calls to endpoint fail with status."""
        self.queued.setdefault(endpoint, []).extend([status] * times)

    def lock(self, item_id: str) -> None:
        """Changes to the item answer 423 Locked, as when it is checked out or open."""
        self.locked.add(item_id)

    def check(self, endpoint: str) -> None:
        queue = self.queued.get(endpoint)
        if queue:
            status = queue.pop(0)
            headers = {"Retry-After": str(self.retry_after)} if status in (429, 503) else {}
            raise GraphError(status, _status_message(status), headers=headers)
        if not self.throttle_rate:
            return
        if self.throttle_endpoints is not None and endpoint not in self.throttle_endpoints:
            return
        if self.rng.random() < self.throttle_rate:
            status = self.rng.choice(self.throttle_statuses)
            self.throttled[endpoint] += 1
            raise GraphError(
                status, _status_message(status), headers={"Retry-After": str(self.retry_after)}
            )


def _status_message(status: int) -> str:
    return {
        429: "The request has been throttled",
        503: "The service is not available. Try the request again after a delay.",
        507: "Insufficient Storage: the site has reached its storage quota.",
        423: "The resource you are attempting to access is locked",
        500: "An unexpected error occurred.",
    }.get(status, "The request failed.")


Route = tuple[str, re.Pattern[str], str, Callable[..., Response]]


class GraphEmulator:
    """Graph v1.0 + login on 127.0.0.1, backed by an in-memory Tenant."""

    def __init__(self, tenant: Tenant | None = None, seed: int = 0, page_size: int = 200) -> None:
        self.tenant = tenant or Tenant()
        self.login = Login(self.tenant)
        self.faults = Faults(seed=seed)
        self.page_size = page_size
        self.calls: Counter[str] = Counter()
        self.requests_log: list[tuple[str, str]] = []
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self.url = ""
        self._routes: list[Route] = self._build_routes()

    # ---- lifecycle -------------------------------------------------------------------

    def start(self) -> GraphEmulator:
        emulator = self

        class Handler(_Handler):
            owner = emulator

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> GraphEmulator:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def graph_url(self) -> str:
        return self.url + "/v1.0"

    # ---- conveniences for tests ------------------------------------------------------

    def register_app(self, display_name: str = "cleanup", **kwargs: Any) -> App:
        app = App(str(uuid.uuid5(uuid.NAMESPACE_URL, display_name)), display_name, **kwargs)
        self.tenant.apps[app.client_id] = app
        return app

    def token_for(self, app: App, user: User | None = None, scopes: set[str] | None = None) -> str:
        """An access token without going through sign-in."""
        with self.tenant.lock:
            granted = (
                scopes
                if scopes is not None
                else (app.application_roles if user is None else app.delegated_scopes)
            )
            return self.login.issue(app, user, set(granted))

    def item_by_path(self, drive: Drive, path: str) -> Item:
        """The live item at a path like 'Budgets/plan.xlsx'."""
        node = drive.items[drive.root_id]
        for part in [p for p in path.split("/") if p]:
            matches = [
                i
                for i in drive.items.values()
                if i.parent_id == node.id and i.name == part and not i.deleted and not i.purged
            ]
            if not matches:
                raise KeyError(path)
            node = matches[0]
        return node

    def change(
        self, drive: Drive, item: Item, new_size: int | None = None, seed: int | None = None
    ) -> None:
        """Someone edits a file: a new version, new content, new eTag."""
        from cleanup.quickxor import quickxor_bytes

        with self.tenant.lock:
            item.versions.append(
                Version(f"{item.version_major}.0", item.size, item.modified, item.modified_by)
            )
            item.version_major += 1
            item.size = new_size if new_size is not None else item.size + 1
            item.seed = seed if seed is not None else item.seed + 1
            item.quickxor = quickxor_bytes(content_bytes(item.seed, item.size))
            item.modified = datetime.now(UTC)
            drive.touch(item, content=True)

    # ---- routing ---------------------------------------------------------------------

    def _build_routes(self) -> list[Route]:
        d = r"(?P<drive>[^/]+)"
        i = r"(?P<item>[^/]+)"
        table: list[tuple[str, str, str, Callable[..., Response]]] = [
            ("GET", r"/sites/getAllSites", "sites.getAllSites", self._get_all_sites),
            ("GET", r"/sites", "sites.search", self._search_sites),
            ("GET", r"/sites/(?P<site>[^/]+)", "sites.get", self._get_site),
            ("GET", r"/sites/(?P<site>[^/:]+:/.+)", "sites.get", self._get_site),
            ("GET", r"/sites/(?P<site>[^/]+)/drives", "sites.drives", self._site_drives),
            (
                "GET",
                r"/sites/(?P<site>[^/]+)/recycleBin/items",
                "sites.recycleBin",
                self._recycle_bin,
            ),
            ("GET", r"/users", "users.list", self._list_users),
            ("GET", r"/users/(?P<user>[^/]+)/drive", "users.drive", self._user_drive),
            ("GET", r"/me/drive", "me.drive", self._my_drive),
            ("GET", r"/me/followedSites", "me.followedSites", self._followed_sites),
            ("GET", rf"/drives/{d}", "drives.get", self._get_drive),
            ("GET", rf"/drives/{d}/root/delta", "drives.delta", self._delta),
            ("GET", rf"/drives/{d}/items/{i}", "items.get", self._get_item),
            ("GET", rf"/drives/{d}/root:(?P<path>/.*?):?", "items.getByPath", self._get_by_path),
            ("GET", rf"/drives/{d}/items/{i}/children", "items.children", self._children),
            ("POST", rf"/drives/{d}/items/{i}/children", "items.create", self._create_folder),
            ("PATCH", rf"/drives/{d}/items/{i}", "items.update", self._update_item),
            ("DELETE", rf"/drives/{d}/items/{i}", "items.delete", self._delete_item),
            (
                "POST",
                rf"/drives/{d}/items/{i}/permanentDelete",
                "items.permanentDelete",
                self._permanent_delete,
            ),
            ("POST", rf"/drives/{d}/items/{i}/restore", "items.restore", self._restore_item),
            ("GET", rf"/drives/{d}/items/{i}/content", "items.content", self._content),
            ("GET", rf"/drives/{d}/items/{i}/versions", "items.versions", self._versions),
            (
                "DELETE",
                rf"/drives/{d}/items/{i}/versions/(?P<version>[^/]+)",
                "versions.delete",
                self._delete_version,
            ),
            (
                "POST",
                rf"/drives/{d}/items/{i}/versions/(?P<version>[^/]+)/restoreVersion",
                "versions.restore",
                self._restore_version,
            ),
            ("POST", r"/\$batch", "batch", self._batch),
        ]
        return [(m, re.compile(p + "$"), name, fn) for m, p, name, fn in table]

    def handle_graph(
        self,
        method: str,
        path: str,
        query: dict[str, str],
        headers: dict[str, str],
        body: Any,
        host: str,
        in_batch: bool = False,
    ) -> Response:
        """Answer one Graph request (path without /v1.0); errors come back as Responses."""
        try:
            for route_method, pattern, name, fn in self._routes:
                match = pattern.match(path)
                if match is None:
                    continue
                if route_method != method:
                    continue
                self.calls[name] += 1
                self.requests_log.append((method, path))
                if name == "batch" and in_batch:
                    raise GraphError(400, "A batch cannot contain another batch.")
                grant = self._authorize(headers)
                self.faults.check(name)
                with self.tenant.lock:
                    return fn(
                        grant=grant,
                        query=query,
                        headers=headers,
                        body=body,
                        host=host,
                        **match.groupdict(),
                    )
            raise GraphError(
                400, f"Invalid request: {method} {path} is not a Graph v1.0 resource.", "BadRequest"
            )
        except GraphError as exc:
            return _error_response(exc)

    def _authorize(self, headers: dict[str, str]) -> Grant:
        value = headers.get("authorization", "")
        if not value.lower().startswith("bearer "):
            raise GraphError(401, "Access token is empty.")
        grant = self.login.tokens.get(value[7:].strip())
        if grant is None:
            raise GraphError(401, "IDX14100: JWT is not well formed.")
        if grant.expires_at < time.time():
            raise GraphError(
                401,
                "Lifetime validation failed, the token is expired.",
                headers={"WWW-Authenticate": 'Bearer realm="", error="invalid_token"'},
            )
        return grant

    # ---- sites, users, drives --------------------------------------------------------

    def _get_all_sites(self, grant: Grant, query: dict[str, str], host: str, **_: Any) -> Response:
        if not grant.application:
            raise GraphError(
                403, "getAllSites needs an application permission (Sites.Read.All).", "accessDenied"
            )
        _need(grant, READ)
        sites = [s.resource() for s in self.tenant.sites.values()]
        return self._paged(sites, query, host, "/sites/getAllSites")

    def _search_sites(self, grant: Grant, query: dict[str, str], host: str, **_: Any) -> Response:
        _need(grant, READ)
        if "search" not in query:
            raise GraphError(400, "Listing sites needs a search query: /sites?search=...")
        term = query["search"].strip().strip('"').lower()
        sites = [
            s.resource()
            for s in self.tenant.sites.values()
            if term in ("*", "") or term in s.display_name.lower() or term in s.name.lower()
        ]
        return self._paged(sites, query, host, "/sites")

    def _site(self, site: str) -> Any:
        found = self.tenant.sites.get(site)
        if found is None:
            # /sites/{hostname}:/sites/{path} addressing
            for candidate in self.tenant.sites.values():
                if unquote(site).lower().endswith(":/sites/" + candidate.name.lower()):
                    return candidate
            raise GraphError(404, "Requested site could not be found", "itemNotFound")
        return found

    def _get_site(self, grant: Grant, site: str, query: dict[str, str], **_: Any) -> Response:
        _need(grant, READ)
        return Response(200, _select(self._site(site).resource(), query))

    def _site_drives(self, grant: Grant, site: str, query: dict[str, str], **_: Any) -> Response:
        _need(grant, READ)
        drives = [_select(d.resource(), query) for d in self._site(site).drives]
        return Response(200, {"value": drives})

    def _recycle_bin(
        self, grant: Grant, site: str, query: dict[str, str], host: str, **_: Any
    ) -> Response:
        _need(grant, ("Sites.Read.All", "Sites.ReadWrite.All"))
        found = self._site(site)
        rows = [
            _select(entry.resource(), query)
            for drive in found.drives
            for entry in sorted(drive.bin, key=lambda e: e.deleted_at, reverse=True)
        ]
        return self._paged(rows, query, host, f"/sites/{site}/recycleBin/items")

    def _list_users(self, grant: Grant, query: dict[str, str], host: str, **_: Any) -> Response:
        if not grant.allows("User.Read.All", "Directory.Read.All"):
            raise GraphError(
                403,
                "Insufficient privileges to complete the operation.",
                "Authorization_RequestDenied",
            )
        users = [_select(u.resource(), query) for u in self.tenant.users.values()]
        return self._paged(users, query, host, "/users", default_top=100)

    def _user_drive(self, grant: Grant, user: str, query: dict[str, str], **_: Any) -> Response:
        _need(grant, READ)
        drive = self.tenant.onedrives.get(user)
        if drive is None:
            for candidate in self.tenant.users.values():
                if candidate.mail.lower() == user.lower():
                    drive = self.tenant.onedrives.get(candidate.id)
        if drive is None:
            raise GraphError(404, "User's mysite not found.", "itemNotFound")
        return Response(200, _select(drive.resource(), query))

    def _my_drive(self, grant: Grant, query: dict[str, str], **_: Any) -> Response:
        if grant.user is None:
            raise GraphError(
                400, "/me request is only valid with delegated authentication flow.", "BadRequest"
            )
        _need(grant, READ + ("Files.Read",))
        drive = self.tenant.onedrives.get(grant.user.id)
        if drive is None:
            raise GraphError(404, "User's mysite not found.", "itemNotFound")
        return Response(200, _select(drive.resource(), query))

    def _followed_sites(self, grant: Grant, query: dict[str, str], **_: Any) -> Response:
        if grant.user is None:
            raise GraphError(
                400, "/me request is only valid with delegated authentication flow.", "BadRequest"
            )
        _need(grant, ("Sites.Read.All", "Sites.ReadWrite.All"))
        ids = self.tenant.followed.get(grant.user.id, [])
        return Response(
            200, {"value": [_select(self.tenant.sites[s].resource(), query) for s in ids]}
        )

    def _drive(self, drive: str) -> Drive:
        found = self.tenant.drives.get(drive)
        if found is None:
            raise GraphError(404, "The requested drive was not found.", "itemNotFound")
        return found

    def _get_drive(self, grant: Grant, drive: str, query: dict[str, str], **_: Any) -> Response:
        _need(grant, READ)
        return Response(200, _select(self._drive(drive).resource(), query))

    def _paged(
        self,
        rows: list[dict[str, Any]],
        query: dict[str, str],
        host: str,
        path: str,
        default_top: int = 200,
    ) -> Response:
        top = int(query.get("$top", default_top))
        skip = int(decode_token(query["$skiptoken"])["skip"]) if "$skiptoken" in query else 0  # type: ignore[call-overload]
        body: dict[str, Any] = {"value": rows[skip : skip + top]}
        if skip + top < len(rows):
            rest = {k: v for k, v in query.items() if k != "$skiptoken"}
            rest["$skiptoken"] = encode_token({"skip": skip + top})
            body["@odata.nextLink"] = f"http://{host}/v1.0{path}?{urlencode(rest)}"
        return Response(200, body)

    # ---- delta -----------------------------------------------------------------------

    def _delta(
        self,
        grant: Grant,
        drive: str,
        query: dict[str, str],
        headers: dict[str, str],
        host: str,
        **_: Any,
    ) -> Response:
        _need(grant, READ + ("Files.Read",))
        target = self._drive(drive)
        top = min(int(query.get("$top", self.page_size)), 1000)
        raw = query.get("token")
        if raw == "latest":
            link = self._delta_link(host, target, query, {"f": self.tenant.last_seq})
            return Response(200, {"value": [], "@odata.deltaLink": link})
        state: dict[str, Any] = {"f": 0}
        if raw:
            try:
                state = decode_token(raw)
            except ValueError:
                raise GraphError(400, "Invalid delta token.", "invalidRequest") from None
        since = int(state.get("f", 0))
        if since and since < target.oldest_valid_token:
            fresh = self._delta_link(host, target, query, None)
            raise GraphError(
                410,
                "The delta token is no longer valid: resync the drive from the start.",
                "resyncRequired",
                headers={"Location": fresh},
            )
        upto = int(state.get("u", self.tenant.last_seq))
        after = tuple(state["a"]) if "a" in state else None
        items, last = target.delta_page(since, upto, after, top)  # type: ignore[arg-type]
        sizes = _folder_sizes(target)
        body: dict[str, Any] = {
            "@odata.context": f"http://{host}/v1.0/$metadata#Collection(driveItem)",
            "value": [_select(self._render(target, i, sizes, delta=True), query) for i in items],
        }
        if last is not None:
            body["@odata.nextLink"] = self._delta_link(
                host, target, query, {"f": since, "u": upto, "a": list(last)}
            )
        else:
            body["@odata.deltaLink"] = self._delta_link(host, target, query, {"f": upto})
        return Response(200, body)

    def _delta_link(
        self, host: str, drive: Drive, query: dict[str, str], state: dict[str, Any] | None
    ) -> str:
        keep = {k: v for k, v in query.items() if k in ("$select", "$top")}
        if state is not None:
            keep["token"] = encode_token(state)
        suffix = f"?{urlencode(keep)}" if keep else ""
        return f"http://{host}/v1.0/drives/{drive.id}/root/delta{suffix}"

    def invalidate_delta_tokens(self, drive: Drive) -> None:
        """Older delta tokens of this drive answer 410 resyncRequired from now on."""
        with self.tenant.lock:
            drive.oldest_valid_token = self.tenant.last_seq + 1

    # ---- items -----------------------------------------------------------------------

    def _render(
        self, drive: Drive, item: Item, sizes: dict[str, int] | None = None, delta: bool = False
    ) -> dict[str, Any]:
        parent_ref: dict[str, Any] = {"driveType": drive.drive_type, "driveId": drive.id}
        if item.parent_id:
            parent_ref["id"] = item.parent_id
            if not delta:
                # delta never gives paths: renaming a folder does not list its descendants
                parent_ref["path"] = drive.path_of(item)
        if item.deleted or item.purged:
            gone: dict[str, Any] = {
                "id": item.id,
                "parentReference": parent_ref,
                "deleted": {"state": "deleted"},
                "lastModifiedDateTime": iso(item.deleted_at or item.modified),
            }
            gone["folder" if item.folder else "file"] = {}
            return gone
        out: dict[str, Any] = {
            "id": item.id,
            "name": item.name,
            "eTag": item.etag,
            "size": (sizes or _folder_sizes(drive)).get(item.id, 0) if item.folder else item.size,
            "createdDateTime": iso(item.created),
            "lastModifiedDateTime": iso(item.modified),
            "webUrl": drive.web_url
            + (
                ""
                if not item.parent_id
                else drive.path_of(item)[len("/drive/root:") :] + "/" + item.name
            ),
            "createdBy": item.created_by.identity(),
            "lastModifiedBy": item.modified_by.identity(),
            "parentReference": parent_ref,
            "fileSystemInfo": {
                "createdDateTime": iso(item.created),
                "lastModifiedDateTime": iso(item.modified),
            },
        }
        if not delta:
            # OneDrive for Business leaves cTag out of delta results
            out["cTag"] = item.ctag
        if item.parent_id is None:
            out["root"] = {}
            out["name"] = "root"
        if item.folder:
            out["folder"] = {"childCount": item.child_count}
        else:
            out["file"] = {"mimeType": item.mime, "hashes": {"quickXorHash": item.quickxor}}
        return out

    def _item(self, drive: Drive, item: str) -> Item:
        if item == "root":
            return drive.items[drive.root_id]
        found = drive.live(item)
        if found is None:
            raise GraphError(404, "The resource could not be found.", "itemNotFound")
        return found

    def _precondition(self, item: Item, headers: dict[str, str]) -> None:
        wanted = headers.get("if-match")
        if wanted and wanted != "*" and wanted not in (item.etag, item.ctag):
            raise GraphError(
                412,
                "ETag does not match current item's value",
                "resourceModified",
            )

    def _writable(self, grant: Grant, item: Item) -> None:
        _need(grant, WRITE)
        if item.id in self.faults.locked:
            raise GraphError(423, _status_message(423), "resourceLocked")

    def _get_item(
        self, grant: Grant, drive: str, item: str, query: dict[str, str], **_: Any
    ) -> Response:
        _need(grant, READ + ("Files.Read",))
        target = self._drive(drive)
        return Response(200, _select(self._render(target, self._item(target, item)), query))

    def _get_by_path(
        self, grant: Grant, drive: str, path: str, query: dict[str, str], **_: Any
    ) -> Response:
        _need(grant, READ + ("Files.Read",))
        target = self._drive(drive)
        node = target.items[target.root_id]
        for part in [unquote(p) for p in path.split("/") if p]:
            node = next(
                (
                    i
                    for i in target.items.values()
                    if i.parent_id == node.id
                    and i.name.lower() == part.lower()
                    and not i.deleted
                    and not i.purged
                ),
                None,
            )  # type: ignore[assignment]
            if node is None:
                raise GraphError(404, "The resource could not be found.", "itemNotFound")
        return Response(200, _select(self._render(target, node), query))

    def _children(
        self, grant: Grant, drive: str, item: str, query: dict[str, str], host: str, **_: Any
    ) -> Response:
        _need(grant, READ + ("Files.Read",))
        target = self._drive(drive)
        parent = self._item(target, item)
        rows = [
            _select(self._render(target, i), query)
            for i in target.items.values()
            if i.parent_id == parent.id and not i.deleted and not i.purged
        ]
        return self._paged(rows, query, host, f"/drives/{drive}/items/{item}/children")

    def _create_folder(self, grant: Grant, drive: str, item: str, body: Any, **_: Any) -> Response:
        target = self._drive(drive)
        parent = self._item(target, item)
        self._writable(grant, parent)
        if not isinstance(body, dict) or not body.get("name") or "folder" not in body:
            raise GraphError(400, "Only folders can be created here: give name and folder {}.")
        name = str(body["name"])
        behavior = body.get("@microsoft.graph.conflictBehavior", "fail")
        existing = [
            i
            for i in target.items.values()
            if i.parent_id == parent.id
            and i.name.lower() == name.lower()
            and not i.deleted
            and not i.purged
        ]
        if existing and behavior == "fail":
            raise GraphError(
                409,
                "An item with the same name already exists under the parent",
                "nameAlreadyExists",
            )
        if existing and behavior == "rename":
            name = f"{name} 1"
        now = datetime.now(UTC)
        by = grant.user or self.tenant.system_user
        folder = target.add(
            Item(self.tenant.new_item_id(), name, parent.id, True, now, now, by, by)
        )
        target.touch(parent)
        return Response(201, self._render(target, folder))

    def _update_item(
        self, grant: Grant, drive: str, item: str, headers: dict[str, str], body: Any, **_: Any
    ) -> Response:
        target = self._drive(drive)
        found = self._item(target, item)
        self._writable(grant, found)
        self._precondition(found, headers)
        if not isinstance(body, dict):
            raise GraphError(400, "The request body must be a driveItem object.")
        parent_ref = body.get("parentReference")
        new_parent = found.parent_id
        if isinstance(parent_ref, dict):
            if parent_ref.get("driveId") not in (None, target.id):
                raise GraphError(
                    400,
                    "Moving items between drives is not supported with PATCH; use copy.",
                    "invalidRequest",
                )
            parent = self._item(target, str(parent_ref.get("id", "")))
            if not parent.folder:
                raise GraphError(400, "The new parent must be a folder.", "invalidRequest")
            new_parent = parent.id
        new_name = str(body.get("name", found.name))
        clash = [
            i
            for i in target.items.values()
            if i.parent_id == new_parent
            and i.name == new_name
            and i is not found
            and not i.deleted
            and not i.purged
        ]
        if clash:
            raise GraphError(
                409,
                "An item with the same name already exists under the parent",
                "nameAlreadyExists",
            )
        if new_parent != found.parent_id:
            old_parent = target.items[found.parent_id] if found.parent_id else None
            if old_parent is not None:
                old_parent.child_count -= 1
                target.touch(old_parent)
            target.items[new_parent].child_count += 1  # type: ignore[index]
            found.parent_id = new_parent
        found.name = new_name
        found.modified = datetime.now(UTC)
        target.touch(found)
        return Response(200, self._render(target, found))

    def _delete_item(
        self, grant: Grant, drive: str, item: str, headers: dict[str, str], **_: Any
    ) -> Response:
        target = self._drive(drive)
        found = self._item(target, item)
        self._writable(grant, found)
        self._precondition(found, headers)
        if found.parent_id is None:
            raise GraphError(403, "The root of a drive cannot be deleted.", "accessDenied")
        target.recycle(found, datetime.now(UTC))
        return Response(204)

    def _permanent_delete(
        self, grant: Grant, drive: str, item: str, headers: dict[str, str], **_: Any
    ) -> Response:
        target = self._drive(drive)
        found = self._item(target, item)
        self._writable(grant, found)
        self._precondition(found, headers)
        if found.parent_id is None:
            raise GraphError(403, "The root of a drive cannot be deleted.", "accessDenied")
        target.purge(found)
        return Response(204)

    def _restore_item(self, grant: Grant, drive: str, item: str, **_: Any) -> Response:
        _need(grant, WRITE)
        target = self._drive(drive)
        if target.drive_type != "personal":
            # v1.0 documents restore for OneDrive Personal only
            raise GraphError(
                501,
                "Restoring a driveItem is only supported for OneDrive Personal; restore it from the site's recycle bin.",
                "notSupported",
            )
        found = target.items.get(item)
        if found is None or not found.deleted:
            raise GraphError(404, "The resource could not be found.", "itemNotFound")
        target.restore(found)
        return Response(200, self._render(target, found))

    def _content(self, grant: Grant, drive: str, item: str, **_: Any) -> Response:
        _need(grant, READ + ("Files.Read",))
        target = self._drive(drive)
        found = self._item(target, item)
        if found.folder:
            raise GraphError(400, "Folders have no content.", "invalidRequest")
        return Response(
            200,
            raw=content_bytes(found.seed, found.size),
            headers={"Content-Type": found.mime, "ETag": found.etag},
        )

    def _versions(
        self, grant: Grant, drive: str, item: str, query: dict[str, str], **_: Any
    ) -> Response:
        _need(grant, READ + ("Files.Read",))
        target = self._drive(drive)
        found = self._item(target, item)
        if found.folder:
            raise GraphError(400, "Folders have no versions.", "invalidRequest")
        current = {
            "id": f"{found.version_major}.0",
            "lastModifiedDateTime": iso(found.modified),
            "lastModifiedBy": found.modified_by.identity(),
            "size": found.size,
        }
        older = [
            {
                "id": v.id,
                "lastModifiedDateTime": iso(v.modified),
                "lastModifiedBy": v.modified_by.identity(),
                "size": v.size,
            }
            for v in reversed(found.versions)
        ]
        return Response(200, {"value": [_select(v, query) for v in [current, *older]]})

    def _version(self, found: Item, version: str) -> Version:
        for v in found.versions:
            if v.id == version:
                return v
        raise GraphError(404, "The requested version was not found.", "itemNotFound")

    def _delete_version(
        self, grant: Grant, drive: str, item: str, version: str, headers: dict[str, str], **_: Any
    ) -> Response:
        target = self._drive(drive)
        found = self._item(target, item)
        self._writable(grant, found)
        self._precondition(found, headers)
        if version == f"{found.version_major}.0":
            raise GraphError(
                403, "The current version of a file cannot be deleted.", "accessDenied"
            )
        old = self._version(found, version)
        found.versions.remove(old)
        # SharePoint sends deleted versions to the site recycle bin
        target.bin.append(
            BinEntry(
                found.id,
                old.size,
                datetime.now(UTC),
                version_id=old.id,
                name=found.name,
                location=target.location_of(found),
            )
        )
        # the current version is untouched (same eTag), but delta lists the item again
        found.seq = self.tenant.next_seq()
        return Response(204)

    def _restore_version(
        self, grant: Grant, drive: str, item: str, version: str, headers: dict[str, str], **_: Any
    ) -> Response:
        target = self._drive(drive)
        found = self._item(target, item)
        self._writable(grant, found)
        old = self._version(found, version)
        if target.used_bytes() + found.size > target.quota_total:
            raise GraphError(507, _status_message(507), "quotaLimitReached")
        found.versions.append(
            Version(f"{found.version_major}.0", found.size, found.modified, found.modified_by)
        )
        found.version_major += 1
        found.size = old.size
        found.modified = datetime.now(UTC)
        target.touch(found, content=True)
        return Response(204)

    # ---- batch -----------------------------------------------------------------------

    def _batch(
        self, grant: Grant, body: Any, host: str, headers: dict[str, str], **_: Any
    ) -> Response:
        requests_ = body.get("requests") if isinstance(body, dict) else None
        if not isinstance(requests_, list) or not requests_:
            raise GraphError(400, "Invalid batch payload format.", "BadRequest")
        if len(requests_) > MAX_BATCH:
            raise GraphError(
                400, f"Number of batch requests exceeds the limit of {MAX_BATCH}.", "BadRequest"
            )
        ids = [r.get("id") for r in requests_]
        if len(set(ids)) != len(ids) or any(not isinstance(x, str) for x in ids):
            raise GraphError(400, "Batch request ids must be unique strings.", "BadRequest")
        answers = []
        # inner requests run outside the tenant lock so each takes it in turn, like Graph
        self.tenant.lock.release()
        try:
            for request in requests_:
                url = urlsplit(str(request.get("url", "")))
                inner_headers = {
                    k.lower(): str(v) for k, v in (request.get("headers") or {}).items()
                }
                inner_headers.setdefault("authorization", headers.get("authorization", ""))
                path = url.path if url.path.startswith("/") else "/" + url.path
                answer = self.handle_graph(
                    str(request.get("method", "GET")).upper(),
                    path,
                    {k: v[-1] for k, v in parse_qs(url.query).items()},
                    inner_headers,
                    request.get("body"),
                    host,
                    in_batch=True,
                )
                entry: dict[str, Any] = {"id": request["id"], "status": answer.status}
                entry["headers"] = (
                    {"Content-Type": "application/json", **answer.headers}
                    if answer.body is not None
                    else dict(answer.headers)
                )
                if answer.body is not None:
                    entry["body"] = answer.body
                answers.append(entry)
        finally:
            self.tenant.lock.acquire()
        return Response(200, {"responses": answers})

    # ---- login -----------------------------------------------------------------------

    def handle_login(
        self, method: str, path: str, query: dict[str, str], form: dict[str, str]
    ) -> Response:
        parts = [p for p in path.split("/") if p]
        with self.tenant.lock:
            if parts[:3] == ["common", "discovery", "instance"]:
                self.calls["login.instance"] += 1
                return Response(
                    200, self.login.instance_discovery(query.get("authorization_endpoint", ""))
                )
            if len(parts) == 4 and parts[1:] == ["v2.0", ".well-known", "openid-configuration"]:
                self.calls["login.openid"] += 1
                status, body = self.login.openid_configuration(parts[0])
                return Response(status, body)
            if len(parts) == 4 and parts[1:3] == ["oauth2", "v2.0"] and method == "POST":
                tenant = parts[0]
                if parts[3] == "token":
                    self.calls["login.token"] += 1
                    endpoint = f"{LOGIN}/{tenant}/oauth2/v2.0/token"
                    status, body = self.login.token(tenant, form, endpoint)
                    return Response(status, body)
                if parts[3] == "devicecode":
                    self.calls["login.devicecode"] += 1
                    status, body = self.login.device_code(tenant, form)
                    return Response(status, body)
        return Response(
            404, {"error": "not_found", "error_description": f"No login endpoint at {path}"}
        )


def _need(grant: Grant, scopes: tuple[str, ...]) -> None:
    if not grant.allows(*scopes):
        raise GraphError(
            403,
            f"Access denied: the token needs one of {', '.join(scopes)}.",
            "accessDenied",
        )


def _select(resource: dict[str, Any], query: dict[str, str]) -> dict[str, Any]:
    wanted = query.get("$select")
    if not wanted:
        return resource
    fields = {f.strip() for f in wanted.split(",") if f.strip()}
    return {k: v for k, v in resource.items() if k in fields or k.startswith("@")}


def _folder_sizes(drive: Drive) -> dict[str, int]:
    """Folder sizes as OneDrive for Business reports them: the total of everything inside."""
    cached = getattr(drive, "_sizes_cache", None)
    stamp = drive.tenant.last_seq
    if cached is not None and cached[0] == stamp:
        return cached[1]  # type: ignore[no-any-return]
    sizes: dict[str, int] = {}
    for item in drive.items.values():
        if item.folder or item.deleted or item.purged:
            continue
        parent_id = item.parent_id
        while parent_id is not None:
            sizes[parent_id] = sizes.get(parent_id, 0) + item.size
            parent = drive.items.get(parent_id)
            parent_id = parent.parent_id if parent else None
    drive._sizes_cache = (stamp, sizes)  # type: ignore[attr-defined]
    return sizes


def _error_response(exc: GraphError) -> Response:
    now = datetime.now(UTC)
    body = {
        "error": {
            "code": exc.code,
            "message": exc.message,
            "innerError": {
                "date": now.strftime("%Y-%m-%dT%H:%M:%S"),
                "request-id": str(uuid.uuid4()),
                "client-request-id": str(uuid.uuid4()),
            },
        }
    }
    return Response(exc.status, body, dict(exc.headers))


class _Handler(BaseHTTPRequestHandler):
    owner: GraphEmulator
    protocol_version = "HTTP/1.1"
    # headers and body go out as separate writes: without this, delayed ACKs add ~40 ms each
    disable_nagle_algorithm = True

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        pass

    def _dispatch(self) -> None:
        split = urlsplit(self.path)
        query = {k: v[-1] for k, v in parse_qs(split.query, keep_blank_values=True).items()}
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        headers = {k.lower(): v for k, v in self.headers.items()}
        host = self.headers.get("Host", f"127.0.0.1:{self.server.server_address[1]}")
        if split.path.startswith("/v1.0/"):
            body: Any = None
            if raw:
                try:
                    body = json.loads(raw)
                except ValueError:
                    self._send(
                        _error_response(
                            GraphError(400, "Unable to read JSON request payload.", "BadRequest")
                        )
                    )
                    return
            self._send(
                self.owner.handle_graph(
                    self.command, split.path[len("/v1.0") :], query, headers, body, host
                )
            )
            return
        form = {k: v[-1] for k, v in parse_qs(raw.decode()).items()} if raw else {}
        self._send(self.owner.handle_login(self.command, split.path, query, form))

    def _send(self, response: Response) -> None:
        if response.raw is not None:
            payload = response.raw
        elif response.body is not None:
            payload = json.dumps(response.body).encode()
        else:
            payload = b""
        self.send_response(response.status)
        if response.body is not None:
            self.send_header("Content-Type", "application/json; odata.metadata=minimal")
        for key, value in response.headers.items():
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(payload)))
        self.send_header("request-id", str(uuid.uuid4()))
        self.end_headers()
        self.wfile.write(payload)

    do_GET = _dispatch
    do_POST = _dispatch
    do_PATCH = _dispatch
    do_DELETE = _dispatch


class LoginRoutedSession(requests.Session):
    """A requests session that sends https://login.microsoftonline.com traffic to the emulator."""

    def __init__(self, emulator_url: str) -> None:
        super().__init__()
        self.emulator_url = emulator_url.rstrip("/")

    def request(
        self, method: str | bytes, url: str | bytes, *args: Any, **kwargs: Any
    ) -> requests.Response:  # type: ignore[override]
        text = url.decode() if isinstance(url, bytes) else url
        if text.startswith(LOGIN):
            text = self.emulator_url + text[len(LOGIN) :]
        return super().request(method, text, *args, **kwargs)
