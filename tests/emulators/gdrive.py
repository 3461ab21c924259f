"""A Google Drive v3 emulator on loopback, for tests that drive the real google-api-python-client.

Start it with `running_emulator()` (or the `DriveEmulator` class), seed it, then build a
client from the bundled discovery document with `rootUrl` set to `emulator.url`; files,
batch (`/batch/drive/v3`) and the token endpoint (`/token`) then all reach this server.

It speaks the wire format of the public reference: paths and parameters, JSON shapes
(int64 as strings), `fields` partial responses checked against the discovery schemas,
`q`, paging, multipart/mixed batch, Google's error body, OAuth 2.0 token grants
(refresh token, authorization code, service-account JWT with domain-wide delegation) and
the Admin SDK Directory `users.list`. Faults can be injected with a seeded RNG.
"""

from __future__ import annotations

import base64
import contextlib
import datetime as dt
import hashlib
import json
import random
import re
import threading
import time
import urllib.parse
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from email.parser import BytesParser
from email.policy import HTTP
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import SimpleNamespace
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from tests.emulators.gdrive_model import (
    DOC,
    EDIT_ROLES,
    FOLDER,
    SHEET,
    SLIDES,
    DriveFile,
    DriveState,
    rfc3339,
)
from tests.emulators.gdrive_wire import (
    ApiError,
    auth_error,
    evaluate,
    insufficient_file_permissions,
    insufficient_scopes,
    invalid_value,
    make_page_token,
    parse_fields,
    parse_q,
    project,
    query_key,
    rate_limited,
    read_page_token,
    schemas_for,
    validate_fields,
)

SCOPE = "https://www.googleapis.com/auth/"
DRIVE = SCOPE + "drive"
DRIVE_READONLY = SCOPE + "drive.readonly"
DRIVE_METADATA_READONLY = SCOPE + "drive.metadata.readonly"
READ_SCOPES = frozenset(
    {DRIVE, DRIVE_READONLY, DRIVE_METADATA_READONLY, SCOPE + "drive.metadata", SCOPE + "drive.file"}
)
WRITE_SCOPES = frozenset({DRIVE, SCOPE + "drive.file"})
DIRECTORY_SCOPES = frozenset(
    {
        SCOPE + "admin.directory.user",
        SCOPE + "admin.directory.user.readonly",
        SCOPE + "cloud-platform",
    }
)
JWT_GRANT = "urn:ietf:params:oauth:grant-type:jwt-bearer"


class TokenError(Exception):
    """An OAuth 2.0 error answered by the token endpoint."""

    def __init__(self, status: int, error: str, description: str) -> None:
        super().__init__(description)
        self.status, self.error, self.description = status, error, description


@dataclass
class Faults:
    """Fault injection. Rates are fractions of API responses; the RNG is seeded."""

    rate: float = 0.0  # share of responses that fail with one of `statuses`
    statuses: tuple[int, ...] = (429, 503)
    retry_after: float | None = None  # seconds sent as Retry-After (None: no header)
    retry_after_share: float = 1.0  # share of failures that carry Retry-After when set
    rate_limit_403: float = 0.0  # share of 403 userRateLimitExceeded
    slow_rate: float = 0.0
    slow_seconds: float = 0.0
    malformed_rate: float = 0.0  # 200 with a truncated JSON body
    expire_tokens_after: int | None = None  # after this many API calls every live token expires
    endpoints: frozenset[str] | None = None  # only these endpoints misbehave (None: all API ones)
    batch_parts: bool = True  # faults also hit the parts of a batch one by one
    scripted: list[list[Any]] = field(default_factory=list)  # [endpoint, status, retry_after, skip]

    def fail_next(
        self, endpoint: str, count: int = 1, status: int = 503, retry_after: float | None = None
    ) -> None:
        """The next `count` calls of `endpoint` (e.g. "files.list") fail with `status`."""
        self.fail_after(endpoint, 0, count, status, retry_after)

    def fail_after(
        self,
        endpoint: str,
        after: int,
        count: int,
        status: int = 503,
        retry_after: float | None = None,
    ) -> None:
        """Let `after` calls of `endpoint` through, then fail the next `count` of them."""
        for n in range(count):
            self.scripted.append([endpoint, status, retry_after, after if n == 0 else 0])


@dataclass
class AccessToken:
    user: str
    scopes: frozenset[str]
    expires_at: float
    client_id: str


@dataclass
class ServiceAccount:
    email: str
    client_id: str
    keys: dict[str, Any]  # key id -> public key
    delegated_scopes: frozenset[str] = frozenset()  # domain-wide delegation allow-list


# Which scopes each endpoint accepts (any one of them).
ENDPOINT_SCOPES: dict[str, frozenset[str]] = {
    "files.list": READ_SCOPES,
    "files.get": READ_SCOPES,
    "files.create": WRITE_SCOPES,
    "files.update": WRITE_SCOPES | {SCOPE + "drive.metadata"},
    "files.delete": WRITE_SCOPES,
    "files.emptyTrash": frozenset({DRIVE}),
    "about.get": READ_SCOPES,
    "changes.getStartPageToken": READ_SCOPES,
    "changes.list": READ_SCOPES,
    "drives.list": READ_SCOPES,
    "drives.get": READ_SCOPES,
    "revisions.list": READ_SCOPES,
    "revisions.get": READ_SCOPES,
    "revisions.update": WRITE_SCOPES,
    "revisions.delete": WRITE_SCOPES,
    "directory.users.list": DIRECTORY_SCOPES,
}

# Response schema of each endpoint, for checking `fields`.
RESPONSE_SCHEMA = {
    "files.list": ("drive", "FileList"),
    "files.get": ("drive", "File"),
    "files.create": ("drive", "File"),
    "files.update": ("drive", "File"),
    "about.get": ("drive", "About"),
    "changes.getStartPageToken": ("drive", "StartPageToken"),
    "changes.list": ("drive", "ChangeList"),
    "drives.list": ("drive", "DriveList"),
    "drives.get": ("drive", "Drive"),
    "revisions.list": ("drive", "RevisionList"),
    "revisions.get": ("drive", "Revision"),
    "revisions.update": ("drive", "Revision"),
    "directory.users.list": ("admin", "Users"),
}

# What a response holds when the request names no `fields` (the reference's defaults).
DEFAULT_FIELDS = {
    "files.list": "kind,incompleteSearch,nextPageToken,files(kind,id,name,mimeType)",
    "files.get": "kind,id,name,mimeType",
    "files.create": "kind,id,name,mimeType",
    "files.update": "kind,id,name,mimeType",
    "changes.list": "kind,nextPageToken,newStartPageToken,changes(kind,type,changeType,time,removed,fileId,driveId,file(kind,id,name,mimeType))",
    "drives.list": "kind,nextPageToken,drives(kind,id,name)",
    "revisions.list": "kind,nextPageToken,revisions(kind,id,mimeType,modifiedTime)",
    "revisions.get": "kind,id,mimeType,modifiedTime",
    "revisions.update": "kind,id,mimeType,modifiedTime",
}

ROUTES: list[tuple[str, re.Pattern[str], str]] = [
    ("GET", re.compile(r"/drive/v3/files"), "files.list"),
    ("POST", re.compile(r"/drive/v3/files"), "files.create"),
    ("DELETE", re.compile(r"/drive/v3/files/trash"), "files.emptyTrash"),
    ("GET", re.compile(r"/drive/v3/files/(?P<fileId>[^/]+)/revisions"), "revisions.list"),
    (
        "GET",
        re.compile(r"/drive/v3/files/(?P<fileId>[^/]+)/revisions/(?P<revisionId>[^/]+)"),
        "revisions.get",
    ),
    (
        "PATCH",
        re.compile(r"/drive/v3/files/(?P<fileId>[^/]+)/revisions/(?P<revisionId>[^/]+)"),
        "revisions.update",
    ),
    (
        "DELETE",
        re.compile(r"/drive/v3/files/(?P<fileId>[^/]+)/revisions/(?P<revisionId>[^/]+)"),
        "revisions.delete",
    ),
    ("GET", re.compile(r"/drive/v3/files/(?P<fileId>[^/]+)"), "files.get"),
    ("PATCH", re.compile(r"/drive/v3/files/(?P<fileId>[^/]+)"), "files.update"),
    ("DELETE", re.compile(r"/drive/v3/files/(?P<fileId>[^/]+)"), "files.delete"),
    ("GET", re.compile(r"/drive/v3/about"), "about.get"),
    ("GET", re.compile(r"/drive/v3/changes/startPageToken"), "changes.getStartPageToken"),
    ("GET", re.compile(r"/drive/v3/changes"), "changes.list"),
    ("GET", re.compile(r"/drive/v3/drives"), "drives.list"),
    ("GET", re.compile(r"/drive/v3/drives/(?P<driveId>[^/]+)"), "drives.get"),
    ("POST", re.compile(r"/batch/drive/v3"), "batch"),
    ("POST", re.compile(r"/token"), "token"),
    ("GET", re.compile(r"/o/oauth2/auth"), "authorize"),
    ("GET", re.compile(r"/admin/directory/v1/users"), "directory.users.list"),
]

READ_ONLY_FIELDS = {
    "id",
    "kind",
    "size",
    "md5Checksum",
    "sha1Checksum",
    "sha256Checksum",
    "quotaBytesUsed",
    "owners",
    "headRevisionId",
    "version",
    "capabilities",
    "driveId",
    "explicitlyTrashed",
    "ownedByMe",
    "spaces",
}


class Response(SimpleNamespace):
    status: int
    headers: dict[str, str]
    body: bytes


def json_response(status: int, obj: Any, headers: dict[str, str] | None = None) -> Response:
    h = {"Content-Type": "application/json; charset=UTF-8"}
    h.update(headers or {})
    return Response(status=status, headers=h, body=json.dumps(obj, indent=1).encode())


class DriveEmulator:
    """The emulated Drive, Directory and OAuth endpoints, and the state behind them."""

    def __init__(self, seed: int = 0) -> None:
        self.state = DriveState(seed=seed)
        self.fault_rng = random.Random(seed + 1)
        self.faults = Faults()
        self.calls: Counter[str] = Counter()
        self.call_log: list[tuple[str, str, int]] = []  # (endpoint, path?query, status)
        self.lock = threading.RLock()
        self.tokens: dict[str, AccessToken] = {}
        self.refresh_tokens: dict[
            str, tuple[str, str, frozenset[str]]
        ] = {}  # -> (user, client, scopes)
        self.revoked: set[str] = set()
        self.oauth_clients: dict[str, str] = {}  # client_id -> secret
        self.service_accounts: dict[str, ServiceAccount] = {}
        self.auth_codes: dict[str, tuple[str, str, frozenset[str], str]] = {}
        self.consent_user: str | None = None
        self.token_lifetime = 3599
        self._api_calls = 0
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> DriveEmulator:
        emulator = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def _serve(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                headers = {k.lower(): v for k, v in self.headers.items()}
                resp = emulator.dispatch(self.command, self.path, headers, body)
                self.send_response(resp.status)
                for k, v in resp.headers.items():
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(resp.body)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(resp.body)

            do_GET = do_POST = do_PATCH = do_DELETE = do_PUT = _serve

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    @property
    def url(self) -> str:
        assert self._server is not None, "start() the emulator first"
        return f"http://127.0.0.1:{self._server.server_address[1]}/"

    @property
    def token_uri(self) -> str:
        return self.url + "token"

    # ------------------------------------------------------------------ seeding API

    def add_user(self, email: str, display_name: str | None = None, **kw: Any) -> Any:
        return self.state.add_user(email, display_name, **kw)

    def add_shared_drive(self, name: str, members: dict[str, str]) -> Any:
        for email in members:
            self.state.add_user(email)
        return self.state.add_shared_drive(name, members)

    def add_file(self, name: str, **kw: Any) -> DriveFile:
        return self.state.add_file(name, **kw)

    def add_folder(self, name: str, **kw: Any) -> DriveFile:
        return self.state.add_file(name, mime_type=FOLDER, **kw)

    def add_doc(self, name: str, kind: str = "document", **kw: Any) -> DriveFile:
        mime = {"document": DOC, "spreadsheet": SHEET, "presentation": SLIDES}[kind]
        return self.state.add_file(name, mime_type=mime, **kw)

    def add_shortcut(self, name: str, target: str, **kw: Any) -> DriveFile:
        return self.state.add_file(name, shortcut_to=target, **kw)

    def edit_file(self, file_id: str, content: bytes | None = None, **kw: Any) -> DriveFile:
        return self.state.edit_content(file_id, content, **kw)

    def rename_file(self, file_id: str, name: str) -> DriveFile:
        return self.state.rename(file_id, name)

    def trash_file(self, file_id: str) -> None:
        with self.state.lock:
            f = self.state.files[file_id]
            who = f.owner or next(
                e
                for e, r in self.state.drives[f.drive_id or ""].members.items()
                if r == "organizer"
            )
            self.state.set_trashed(who, f, True)

    def delete_file(self, file_id: str) -> None:
        with self.state.lock:
            f = self.state.files[file_id]
            who = f.owner or next(
                e
                for e, r in self.state.drives[f.drive_id or ""].members.items()
                if r == "organizer"
            )
            self.state.delete(who, f)

    def file(self, file_id: str) -> DriveFile | None:
        return self.state.files.get(file_id)

    def is_trashed(self, file_id: str) -> bool:
        with self.state.lock:
            return self.state.is_trashed(self.state.files[file_id])

    # ------------------------------------------------------------------ credentials API

    def issue_token(
        self, user: str, scopes: tuple[str, ...] | list[str] = (DRIVE,), ttl: float | None = None
    ) -> str:
        """An access token for `user`, as if a sign-in had happened."""
        with self.lock:
            token = "ya29." + self._random(60)
            life = self.token_lifetime if ttl is None else ttl
            self.tokens[token] = AccessToken(user, frozenset(scopes), time.time() + life, "test")
            return token

    def expire_tokens(self) -> None:
        """Every access token issued so far stops working (as an hour passing would)."""
        with self.lock:
            for t in self.tokens.values():
                t.expires_at = 0

    def register_oauth_client(
        self,
        client_id: str = "cleanup-test.apps.googleusercontent.com",
        client_secret: str = "test-secret",
    ) -> tuple[str, str]:
        self.oauth_clients[client_id] = client_secret
        return client_id, client_secret

    def issue_refresh_token(
        self, user: str, client_id: str, scopes: tuple[str, ...] | list[str] = (DRIVE,)
    ) -> str:
        token = "1//" + self._random(40)
        self.refresh_tokens[token] = (user, client_id, frozenset(scopes))
        return token

    def revoke_refresh_token(self, token: str) -> None:
        self.revoked.add(token)
        with self.lock:
            user, client, _ = self.refresh_tokens.get(token, ("", "", frozenset()))
            for t in self.tokens.values():
                if t.user == user and t.client_id == client:
                    t.expires_at = 0

    def register_service_account(
        self,
        email: str,
        public_key_pem: bytes,
        *,
        key_id: str = "key-1",
        client_id: str | None = None,
        delegated_scopes: tuple[str, ...] | list[str] = (),
    ) -> ServiceAccount:
        """Register a service account's public key; `delegated_scopes` is its domain-wide delegation."""
        key = serialization.load_pem_public_key(public_key_pem)
        sa = self.service_accounts.get(email)
        if sa is None:
            sa = ServiceAccount(
                email, client_id or str(self.state.rng.randrange(10**20, 10**21)), {}
            )
            self.service_accounts[email] = sa
        sa.keys[key_id] = key
        sa.delegated_scopes = frozenset(delegated_scopes)
        return sa

    def service_account_info(
        self,
        email: str = "cleanup@cleanup-test.iam.gserviceaccount.com",
        delegated_scopes: tuple[str, ...] | list[str] = (),
    ) -> dict[str, Any]:
        """Make an RSA key, register it, and return the service-account JSON a console would give."""
        private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        pem = private.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ).decode()
        public = private.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        key_id = hashlib.sha1(public).hexdigest()
        sa = self.register_service_account(
            email, public, key_id=key_id, delegated_scopes=delegated_scopes
        )
        return {
            "type": "service_account",
            "project_id": "cleanup-test",
            "private_key_id": key_id,
            "private_key": pem,
            "client_email": email,
            "client_id": sa.client_id,
            "auth_uri": self.url + "o/oauth2/auth",
            "token_uri": self.token_uri,
        }

    def _random(self, n: int) -> str:
        with self.lock:
            return "".join(
                self.state.rng.choice(
                    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
                )
                for _ in range(n)
            )

    # ------------------------------------------------------------------ dispatch

    def dispatch(
        self,
        method: str,
        raw_path: str,
        headers: dict[str, str],
        body: bytes,
        *,
        in_batch: bool = False,
        outer_auth: str | None = None,
    ) -> Response:
        parsed = urllib.parse.urlsplit(raw_path)
        path = parsed.path
        query = {
            k: v[-1] for k, v in urllib.parse.parse_qs(parsed.query, keep_blank_values=True).items()
        }
        endpoint, params = self._route(method, path)
        with self.lock:
            self.calls[endpoint or "unknown"] += 1
        if endpoint is None:
            resp = Response(
                status=404,
                headers={"Content-Type": "text/html; charset=UTF-8"},
                body=b"<html><title>Error 404 (Not Found)!!1</title></html>",
            )
            self._log(endpoint, raw_path, resp.status)
            return resp
        try:
            if endpoint == "token":
                resp = self._token_endpoint(headers, body)
            elif endpoint == "authorize":
                resp = self._authorize(query)
            elif endpoint == "batch":
                resp = self._batch(headers, body)
            else:
                resp = self._api(endpoint, params, query, headers, body, in_batch, outer_auth)
        except ApiError as err:
            resp = json_response(err.code, err.body(), err.headers)
        self._log(endpoint, raw_path, resp.status)
        return resp

    def _log(self, endpoint: str | None, path: str, status: int) -> None:
        with self.lock:
            if len(self.call_log) < 200_000:
                self.call_log.append((endpoint or "unknown", path, status))

    def _route(self, method: str, path: str) -> tuple[str | None, dict[str, str]]:
        for m, pattern, name in ROUTES:
            if m == method:
                hit = pattern.fullmatch(path)
                if hit:
                    return name, {k: urllib.parse.unquote(v) for k, v in hit.groupdict().items()}
        return None, {}

    def _api(
        self,
        endpoint: str,
        params: dict[str, str],
        query: dict[str, str],
        headers: dict[str, str],
        body: bytes,
        in_batch: bool,
        outer_auth: str | None,
    ) -> Response:
        faults = self.faults
        applies = faults.endpoints is None or endpoint in faults.endpoints
        with self.lock:
            self._api_calls += 1
            if (
                faults.expire_tokens_after is not None
                and self._api_calls >= faults.expire_tokens_after
            ):
                faults.expire_tokens_after = None
                self.expire_tokens()
            slow = applies and faults.slow_rate > 0 and self.fault_rng.random() < faults.slow_rate
        if slow:
            time.sleep(faults.slow_seconds)
        token = self._authenticate(headers.get("authorization") or outer_auth)
        if not (token.scopes & ENDPOINT_SCOPES[endpoint]):
            raise insufficient_scopes()
        malformed = False
        if applies and (not in_batch or faults.batch_parts):
            with self.lock:
                for i, entry in enumerate(faults.scripted):
                    if entry[0] == endpoint:
                        if entry[3] > 0:
                            entry[3] -= 1
                            break
                        del faults.scripted[i]
                        raise rate_limited(entry[1], entry[2])
                roll = self.fault_rng.random()
                if roll < faults.rate:
                    status = self.fault_rng.choice(faults.statuses)
                    ra = faults.retry_after
                    if ra is not None and self.fault_rng.random() >= faults.retry_after_share:
                        ra = None
                    raise rate_limited(status, ra)
                roll -= faults.rate
                if roll < faults.rate_limit_403:
                    raise rate_limited(403, faults.retry_after)
                roll -= faults.rate_limit_403
                malformed = roll < faults.malformed_rate
        user = token.user
        if "fields" in query:
            selector = parse_fields(query["fields"])
            api, schema = RESPONSE_SCHEMA.get(endpoint, ("drive", ""))
            if schema:
                validate_fields(
                    selector, schemas_for(api, "directory_v1" if api == "admin" else "v3"), schema
                )
        elif endpoint in DEFAULT_FIELDS:
            selector = parse_fields(DEFAULT_FIELDS[endpoint])
        else:
            selector = None
        try:
            payload = json.loads(body) if body.strip() else {}
        except ValueError as exc:
            raise ApiError(400, "Invalid JSON payload received.", "parseError") from exc
        handler: Callable[..., Any] = getattr(self, "_" + endpoint.replace(".", "_"))
        with self.state.lock:
            result = handler(user, params, query, payload)
        if result is None:
            return Response(status=204, headers={"Content-Length": "0"}, body=b"")
        resp = json_response(200, project(result, selector))
        if malformed:
            resp.body = resp.body[: max(1, len(resp.body) // 2)]
        return resp

    def _authenticate(self, header: str | None) -> AccessToken:
        if not header or not header.lower().startswith("bearer "):
            raise ApiError(
                401,
                "Request is missing required authentication credential.",
                "required",
                location="Authorization",
                location_type="header",
            )
        with self.lock:
            token = self.tokens.get(header[7:].strip())
        if token is None or token.expires_at <= time.time():
            raise auth_error()
        return token

    # ------------------------------------------------------------------ OAuth 2.0

    def _token_endpoint(self, headers: dict[str, str], body: bytes) -> Response:
        form = {k: v[-1] for k, v in urllib.parse.parse_qs(body.decode()).items()}
        form["__authorization__"] = headers.get("authorization", "")
        try:
            grant = form.get("grant_type")
            if grant == "refresh_token":
                result = self._grant_refresh(form)
            elif grant == JWT_GRANT:
                result = self._grant_jwt(form)
            elif grant == "authorization_code":
                result = self._grant_code(form)
            else:
                raise TokenError(400, "unsupported_grant_type", f"Invalid grant_type: {grant}")
        except TokenError as err:
            return json_response(
                err.status, {"error": err.error, "error_description": err.description}
            )
        return json_response(
            200, result, {"Cache-Control": "no-cache, no-store, max-age=0, must-revalidate"}
        )

    def _client(self, form: dict[str, str]) -> str:
        """The OAuth client, authenticated by form fields or HTTP Basic (client_secret_basic)."""
        client_id, secret = form.get("client_id", ""), form.get("client_secret")
        basic = form.get("__authorization__", "")
        if basic.lower().startswith("basic "):
            raw = base64.b64decode(basic[6:]).decode()
            user, _, password = raw.partition(":")
            client_id, secret = urllib.parse.unquote_plus(user), urllib.parse.unquote_plus(password)
        if not client_id or self.oauth_clients.get(client_id) != secret:
            raise TokenError(401, "invalid_client", "The OAuth client was not found.")
        return client_id

    def _access_token(self, user: str, scopes: frozenset[str], client_id: str) -> dict[str, Any]:
        token = "ya29." + self._random(60)
        with self.lock:
            self.tokens[token] = AccessToken(
                user, scopes, time.time() + self.token_lifetime, client_id
            )
        return {
            "access_token": token,
            "expires_in": self.token_lifetime,
            "scope": " ".join(sorted(scopes)),
            "token_type": "Bearer",
        }

    def _grant_refresh(self, form: dict[str, str]) -> dict[str, Any]:
        client_id = self._client(form)
        rt = form.get("refresh_token", "")
        record = self.refresh_tokens.get(rt)
        if record is None or rt in self.revoked or record[1] != client_id:
            raise TokenError(400, "invalid_grant", "Token has been expired or revoked.")
        user, _, granted = record
        wanted = frozenset(form.get("scope", "").split()) or granted
        if not wanted <= granted:
            raise TokenError(400, "invalid_scope", "Bad Request")
        return self._access_token(user, wanted, client_id)

    def _grant_code(self, form: dict[str, str]) -> dict[str, Any]:
        client_id = self._client(form)
        code = self.auth_codes.pop(form.get("code", ""), None)
        if code is None or code[1] != client_id:
            raise TokenError(400, "invalid_grant", "Malformed auth code.")
        user, _, scopes, redirect = code
        if form.get("redirect_uri") != redirect:
            raise TokenError(400, "redirect_uri_mismatch", "Bad Request")
        result = self._access_token(user, scopes, client_id)
        result["refresh_token"] = self.issue_refresh_token(user, client_id, sorted(scopes))
        return result

    def _authorize(self, query: dict[str, str]) -> Response:
        """The consent page: approves at once as `consent_user` and redirects with a code."""
        client_id = query.get("client_id", "")
        redirect = query.get("redirect_uri", "")
        if client_id not in self.oauth_clients or not redirect:
            return Response(
                status=400,
                headers={"Content-Type": "text/html"},
                body=b"Error 400: invalid_request",
            )
        user = query.get("login_hint") or self.consent_user or next(iter(self.state.users), "")
        code = "4/" + self._random(40)
        scopes = frozenset(query.get("scope", "").split())
        self.auth_codes[code] = (user, client_id, scopes, redirect)
        params = {"code": code, "scope": " ".join(sorted(scopes))}
        if "state" in query:
            params["state"] = query["state"]
        sep = "&" if "?" in redirect else "?"
        return Response(
            status=302,
            headers={"Location": redirect + sep + urllib.parse.urlencode(params)},
            body=b"",
        )

    def _grant_jwt(self, form: dict[str, str]) -> dict[str, Any]:
        assertion = form.get("assertion", "")
        try:
            head_b64, body_b64, sig_b64 = assertion.split(".")
            header = json.loads(_b64decode(head_b64))
            claims = json.loads(_b64decode(body_b64))
            signature = _b64decode(sig_b64)
        except (ValueError, json.JSONDecodeError) as exc:
            raise TokenError(
                400, "invalid_grant", "Invalid JWT: Token must be a short-lived token."
            ) from exc
        sa = self.service_accounts.get(claims.get("iss", ""))
        if sa is None:
            raise TokenError(400, "invalid_grant", "Invalid grant: account not found")
        if header.get("alg") != "RS256":
            raise TokenError(400, "invalid_grant", "Invalid JWT Signature.")
        keys = [sa.keys[header["kid"]]] if header.get("kid") in sa.keys else list(sa.keys.values())
        signed = f"{head_b64}.{body_b64}".encode()
        for key in keys:
            try:
                key.verify(signature, signed, padding.PKCS1v15(), hashes.SHA256())
                break
            except InvalidSignature:
                continue
        else:
            raise TokenError(400, "invalid_grant", "Invalid JWT Signature.")
        now = time.time()
        # google-auth always names Google's own token endpoint as the audience.
        if claims.get("aud") not in (
            self.token_uri,
            "https://oauth2.googleapis.com/token",
            "https://www.googleapis.com/oauth2/v4/token",
        ):
            raise TokenError(400, "invalid_grant", "Invalid JWT: Failed audience check.")
        if (
            not (claims.get("iat", 0) - 300 <= now <= claims.get("exp", 0) + 300)
            or claims["exp"] - claims["iat"] > 3600
        ):
            raise TokenError(
                400,
                "invalid_grant",
                "Invalid JWT: Token must be a short-lived token (60 minutes) and in a reasonable timeframe.",
            )
        scopes = frozenset(str(claims.get("scope", "")).split())
        if not scopes:
            raise TokenError(
                400, "invalid_scope", "Invalid OAuth scope or ID token audience provided."
            )
        subject = claims.get("sub")
        if subject and subject != sa.email:
            if not sa.delegated_scopes or not scopes <= sa.delegated_scopes:
                raise TokenError(
                    401,
                    "unauthorized_client",
                    "Client is unauthorized to retrieve access tokens using this method, or client not "
                    "authorized for any of the scopes requested.",
                )
            user = self.state.users.get(subject)
            if user is None or user.suspended:
                raise TokenError(400, "invalid_grant", "Invalid email or User ID")
            return self._access_token(subject, scopes, sa.client_id)
        self.state.add_user(sa.email, sa.email.split("@")[0], quota_limit=15 * 1024**3)
        self.state.users[sa.email].robot = True
        return self._access_token(sa.email, scopes, sa.client_id)

    # ------------------------------------------------------------------ batch

    def _batch(self, headers: dict[str, str], body: bytes) -> Response:
        ctype = headers.get("content-type", "")
        if not ctype.startswith("multipart/mixed"):
            raise ApiError(400, "Content-Type must be multipart/mixed.", "badContent")
        message = BytesParser(policy=HTTP).parsebytes(
            b"Content-Type: " + ctype.encode() + b"\r\n\r\n" + body
        )
        parts = list(message.iter_parts())
        if len(parts) > 100:
            raise ApiError(400, "A batch request holds at most 100 calls.", "batchSizeTooLarge")
        outer_auth = headers.get("authorization")
        boundary = "batch_" + self._random(24)
        out: list[bytes] = []
        for part in parts:
            content_id = (part.get("Content-ID") or "").strip()
            raw = part.get_payload(decode=True) or b""
            inner = self._inner_request(raw, outer_auth)
            resp_id = (
                f"<response-{content_id[1:-1]}>"
                if content_id.startswith("<")
                else f"response-{content_id}"
            )
            reason = {200: "OK", 204: "No Content"}.get(inner.status, "Error")
            lines = [f"HTTP/1.1 {inner.status} {reason}"]
            hdrs = dict(inner.headers)
            hdrs.setdefault("Content-Type", "application/json; charset=UTF-8")
            hdrs["Content-Length"] = str(len(inner.body))
            lines += [f"{k}: {v}" for k, v in hdrs.items()]
            out.append(
                f"--{boundary}\r\nContent-Type: application/http\r\nContent-ID: {resp_id}\r\n\r\n".encode()
                + "\r\n".join(lines).encode()
                + b"\r\n\r\n"
                + inner.body
                + b"\r\n"
            )
        out.append(f"--{boundary}--\r\n".encode())
        return Response(
            status=200,
            headers={"Content-Type": f"multipart/mixed; boundary={boundary}"},
            body=b"".join(out),
        )

    def _inner_request(self, raw: bytes, outer_auth: str | None) -> Response:
        text = raw.decode("utf-8")
        head, _, body = text.replace("\r\n", "\n").partition("\n\n")
        lines = head.split("\n")
        method, target = lines[0].split(" ")[:2]
        headers = {}
        for line in lines[1:]:
            if ":" in line:
                k, v = line.split(":", 1)
                headers[k.strip().lower()] = v.strip()
        target = urllib.parse.urlsplit(target)._replace(scheme="", netloc="").geturl()
        return self.dispatch(
            method, target, headers, body.encode(), in_batch=True, outer_auth=outer_auth
        )

    # ------------------------------------------------------------------ Drive: files

    def _flag(self, query: dict[str, str], name: str) -> bool:
        value = query.get(name, "false").lower()
        if value not in ("true", "false"):
            raise invalid_value(name, f"Invalid boolean value: '{query.get(name)}'.")
        return value == "true"

    def _page_size(self, query: dict[str, str], default: int, maximum: int) -> int:
        raw = query.get("pageSize") or query.get("maxResults")
        if raw is None:
            return default
        try:
            n = int(raw)
        except ValueError as exc:
            raise invalid_value(
                "pageSize",
                f"Invalid value '{raw}'. Values must match the following regular expression: '-?\\d+'",
            ) from exc
        if n < 1:
            raise invalid_value(
                "pageSize",
                f"Invalid value '{raw}'. Values must be within the range: [1, {maximum}]",
            )
        return min(n, maximum)

    def _files_list(
        self, user: str, params: dict[str, str], query: dict[str, str], body: Any
    ) -> dict[str, Any]:
        st = self.state
        supports = self._flag(query, "supportsAllDrives") or self._flag(query, "supportsTeamDrives")
        include = self._flag(query, "includeItemsFromAllDrives") or self._flag(
            query, "includeTeamDriveItems"
        )
        corpora = query.get("corpora") or "user"
        drive_id = query.get("driveId") or query.get("teamDriveId")
        if corpora not in ("user", "domain", "drive", "allDrives"):
            raise invalid_value("corpora", f"Invalid value '{corpora}'.")
        if (corpora == "drive") != bool(drive_id):
            raise ApiError(
                400,
                "The driveId parameter must be specified if and only if corpora is set to drive.",
                "teamDriveIdRequiresTeamDriveCorpora",
                location="driveId",
            )
        if corpora in ("drive", "allDrives") and not (include and supports):
            raise ApiError(
                403,
                "The includeItemsFromAllDrives parameter must be set to true when driveId is "
                "specified or corpora contains drive or allDrives.",
                "teamDriveIncludeItemsRequired",
                location="includeItemsFromAllDrives",
            )
        if drive_id and (drive_id not in st.drives or user not in st.drives[drive_id].members):
            raise ApiError(
                404, f"Shared drive not found: {drive_id}", "notFound", location="driveId"
            )
        size = self._page_size(query, 100, 1000)
        term = parse_q(query["q"]) if query.get("q") else None
        me = st.users[user].root_id if user in st.users else ""
        member_of = {d.id for d in st.drives.values() if user in d.members}

        def in_corpus(f: DriveFile) -> bool:
            if f.is_root:
                return False
            if f.drive_id is None:
                return corpora in ("user", "domain", "allDrives") and st.visible(user, f)
            if corpora == "drive":
                return f.drive_id == drive_id
            return corpora == "allDrives" and f.drive_id in member_of

        def getter(f: DriveFile) -> Callable[[Any], Any]:
            def get(name: Any) -> Any:
                if isinstance(name, tuple):
                    coll = name[1]
                    if coll == "parents":
                        return set(f.parents) | ({"root"} if me in f.parents else set())
                    if coll == "owners":
                        return {f.owner, "me"} if f.owner == user else {f.owner}
                    roles = (
                        EDIT_ROLES if coll == "writers" else EDIT_ROLES | {"reader", "commenter"}
                    )
                    people = {e for e, r in f.permissions.items() if r in roles}
                    if f.owner:
                        people.add(f.owner)
                    return people | ({"me"} if user in people else set())
                if name == "trashed":
                    return st.is_trashed(f)
                if name == "starred":
                    return f.starred
                if name == "sharedWithMe":
                    return f.owner != user and user in f.permissions
                if name in ("name", "fullText"):
                    return f.name
                if name == "mimeType":
                    return f.mime_type
                if name == "modifiedTime":
                    return rfc3339(f.modified)
                if name == "createdTime":
                    return rfc3339(f.created)
                if name == "viewedByMeTime":
                    return rfc3339(f.viewed[user]) if user in f.viewed else None
                return None

            return get

        key = query_key(
            "files",
            user,
            query.get("q"),
            corpora,
            drive_id,
            supports,
            include,
            query.get("orderBy"),
        )
        order_by = query.get("orderBy")
        files = [
            f
            for f in st.files.values()
            if in_corpus(f) and (term is None or evaluate(term, getter(f)))
        ]
        if order_by:
            files = self._ordered(files, order_by, user)
            start = read_page_token(query["pageToken"], key) if query.get("pageToken") else 0
            page = files[start : start + size]
            more = start + size < len(files)
            next_pos: Any = start + size
        else:
            cursor = read_page_token(query["pageToken"], key) if query.get("pageToken") else 0
            rest = [f for f in files if f.seq > cursor]
            page = rest[:size]
            more = len(rest) > size
            next_pos = page[-1].seq if page else cursor
        result: dict[str, Any] = {
            "kind": "drive#fileList",
            "incompleteSearch": False,
            "files": [st.file_json(f, user) for f in page],
        }
        if more:
            result["nextPageToken"] = make_page_token(next_pos, key)
        return result

    def _ordered(self, files: list[DriveFile], order_by: str, user: str) -> list[DriveFile]:
        keys = []
        for part in order_by.split(","):
            bits = part.strip().split()
            if not bits:
                continue
            name, desc = bits[0], len(bits) > 1 and bits[1].lower() == "desc"
            getters: dict[str, Callable[[DriveFile], Any]] = {
                "name": lambda f: f.name.lower(),
                "name_natural": lambda f: f.name.lower(),
                "modifiedTime": lambda f: f.modified,
                "createdTime": lambda f: f.created,
                "quotaBytesUsed": lambda f: f.quota_bytes(),
                "folder": lambda f: f.mime_type != FOLDER,
                "starred": lambda f: not f.starred,
                "viewedByMeTime": lambda f: f.viewed.get(
                    user, dt.datetime.min.replace(tzinfo=dt.UTC)
                ),
            }
            if name not in getters:
                raise invalid_value("orderBy")
            keys.append((getters[name], desc))
        for getter, desc in reversed(keys):
            files = sorted(files, key=getter, reverse=desc)
        return files

    def _files_get(
        self, user: str, params: dict[str, str], query: dict[str, str], body: Any
    ) -> dict[str, Any]:
        f = self.state.file_for(user, params["fileId"], self._flag(query, "supportsAllDrives"))
        return self.state.file_json(f, user)

    def _files_create(
        self, user: str, params: dict[str, str], query: dict[str, str], body: Any
    ) -> dict[str, Any]:
        st = self.state
        parents = body.get("parents") or []
        parent = None
        if parents:
            parent = st.file_for(user, parents[0], self._flag(query, "supportsAllDrives"))
            if st.role(user, parent) not in EDIT_ROLES or parent.mime_type != FOLDER:
                raise insufficient_file_permissions()
        mime = body.get("mimeType", "application/octet-stream")
        if parent is not None and parent.drive_id is not None:
            f = st.add_file(
                body.get("name", "Untitled"), parent=parent.id, mime_type=mime, content=b""
            )
        else:
            f = st.add_file(
                body.get("name", "Untitled"),
                owner=user,
                parent=parent.id if parent else None,
                mime_type=mime,
                content=b"" if not mime.startswith("application/vnd.google-apps") else None,
            )
        f.last_modifier = user
        return st.file_json(f, user)

    def _files_update(
        self, user: str, params: dict[str, str], query: dict[str, str], body: Any
    ) -> dict[str, Any]:
        st = self.state
        f = st.file_for(user, params["fileId"], self._flag(query, "supportsAllDrives"))
        bad = sorted(set(body) & READ_ONLY_FIELDS)
        if bad:
            raise ApiError(
                403,
                "The resource body includes fields which are not directly writable.",
                "fieldNotWritable",
            )
        add = [p for p in query.get("addParents", "").split(",") if p]
        remove = [p for p in query.get("removeParents", "").split(",") if p]
        if "parents" in body:
            raise ApiError(
                403,
                "The parents field is not directly writable in update requests. Use the "
                "addParents and removeParents parameters instead.",
                "fieldNotWritable",
            )
        if add or remove:
            st.move(user, f, add, remove)
        if "name" in body and body["name"] != f.name:
            st.require(st.capabilities(user, f)["canRename"])
            f.name = body["name"]
            st.touch(f, user)
        if "starred" in body:
            f.starred = bool(body["starred"])
        if "trashed" in body:
            st.set_trashed(user, f, bool(body["trashed"]))
        return st.file_json(f, user)

    def _files_delete(
        self, user: str, params: dict[str, str], query: dict[str, str], body: Any
    ) -> None:
        st = self.state
        f = st.file_for(user, params["fileId"], self._flag(query, "supportsAllDrives"))
        st.delete(user, f)
        return None

    def _files_emptyTrash(
        self, user: str, params: dict[str, str], query: dict[str, str], body: Any
    ) -> None:
        st = self.state
        drive_id = query.get("driveId")
        if drive_id:
            drive = st.drives.get(drive_id)
            if drive is None or user not in drive.members:
                raise ApiError(
                    404, f"Shared drive not found: {drive_id}", "notFound", location="driveId"
                )
            if drive.members[user] != "organizer":
                raise insufficient_file_permissions()
            doomed = [
                f for f in st.files.values() if f.drive_id == drive_id and f.explicitly_trashed
            ]
        else:
            doomed = [
                f for f in st.owned_files(user) if f.explicitly_trashed and f.drive_id is None
            ]
        for f in doomed:
            if f.id in st.files:
                st.delete(user if f.drive_id is None else user, f)
        return None

    # ------------------------------------------------------------------ Drive: about, drives, changes

    def _about_get(
        self, user: str, params: dict[str, str], query: dict[str, str], body: Any
    ) -> dict[str, Any]:
        if "fields" not in query:
            raise ApiError(
                400,
                "The 'fields' parameter is required for this method.",
                "required",
                location="fields",
            )
        st = self.state
        if user not in st.users:
            st.add_user(user)
        return {
            "kind": "drive#about",
            "user": st.user_json(user, user),
            "storageQuota": st.quota(user),
            "maxUploadSize": str(5 * 1024**4),
            "appInstalled": False,
            "canCreateDrives": True,
            "importFormats": {},
            "exportFormats": {
                DOC: ["application/pdf"],
                SHEET: ["text/csv"],
                SLIDES: ["application/pdf"],
            },
            "folderColorPalette": [],
            "maxImportSizes": {},
        }

    def _drive_json(self, user: str, drive: Any) -> dict[str, Any]:
        role = drive.members.get(user)
        return {
            "kind": "drive#drive",
            "id": drive.id,
            "name": drive.name,
            "createdTime": rfc3339(drive.created),
            "hidden": drive.hidden,
            "capabilities": {
                "canAddChildren": role in EDIT_ROLES,
                "canDeleteChildren": role == "organizer",
                "canTrashChildren": role in ("organizer", "fileOrganizer"),
                "canListChildren": role is not None,
                "canManageMembers": role == "organizer",
                "canReadRevisions": role in EDIT_ROLES,
            },
            "restrictions": {"adminManagedRestrictions": False, "domainUsersOnly": False},
        }

    def _drives_list(
        self, user: str, params: dict[str, str], query: dict[str, str], body: Any
    ) -> dict[str, Any]:
        st = self.state
        admin = self._flag(query, "useDomainAdminAccess")
        if admin and not (user in st.users and st.users[user].is_admin):
            raise ApiError(
                403,
                "The user does not have sufficient permissions for this operation.",
                "insufficientAdministratorPrivileges",
            )
        size = self._page_size(query, 10, 100)
        drives = [d for d in st.drives.values() if admin or user in d.members]
        key = query_key("drives", user, admin)
        start = read_page_token(query["pageToken"], key) if query.get("pageToken") else 0
        page = drives[start : start + size]
        out: dict[str, Any] = {
            "kind": "drive#driveList",
            "drives": [self._drive_json(user, d) for d in page],
        }
        if start + size < len(drives):
            out["nextPageToken"] = make_page_token(start + size, key)
        return out

    def _drives_get(
        self, user: str, params: dict[str, str], query: dict[str, str], body: Any
    ) -> dict[str, Any]:
        drive = self.state.drives.get(params["driveId"])
        if drive is None or (
            user not in drive.members and not self._flag(query, "useDomainAdminAccess")
        ):
            raise ApiError(
                404, f"Shared drive not found: {params['driveId']}", "notFound", location="driveId"
            )
        return self._drive_json(user, drive)

    def _changes_getStartPageToken(
        self, user: str, params: dict[str, str], query: dict[str, str], body: Any
    ) -> dict[str, Any]:
        drive_id = query.get("driveId")
        if drive_id:
            if not self._flag(query, "supportsAllDrives"):
                raise ApiError(
                    403,
                    "The supportsAllDrives parameter must be set to true when driveId is set.",
                    "teamDrivesParameterRequired",
                    location="supportsAllDrives",
                )
            drive = self.state.drives.get(drive_id)
            if drive is None or user not in drive.members:
                raise ApiError(
                    404, f"Shared drive not found: {drive_id}", "notFound", location="driveId"
                )
        return {"kind": "drive#startPageToken", "startPageToken": self.state.start_page_token()}

    def _changes_list(
        self, user: str, params: dict[str, str], query: dict[str, str], body: Any
    ) -> dict[str, Any]:
        st = self.state
        raw = query.get("pageToken")
        if not raw:
            raise ApiError(400, "Required parameter: pageToken", "required", location="pageToken")
        try:
            start = int(raw)
            if start < 1 or start > len(st.changes) + 1:
                raise ValueError
        except ValueError as exc:
            raise invalid_value("pageToken") from exc
        supports = self._flag(query, "supportsAllDrives")
        include = self._flag(query, "includeItemsFromAllDrives")
        include_removed = query.get("includeRemoved", "true") != "false"
        restrict = self._flag(query, "restrictToMyDrive")
        drive_id = query.get("driveId")
        if drive_id:
            drive = st.drives.get(drive_id)
            if not supports:
                raise ApiError(
                    403,
                    "The supportsAllDrives parameter must be set to true when driveId is set.",
                    "teamDrivesParameterRequired",
                    location="supportsAllDrives",
                )
            if drive is None or user not in drive.members:
                raise ApiError(
                    404, f"Shared drive not found: {drive_id}", "notFound", location="driveId"
                )
        size = self._page_size(query, 100, 1000)
        latest: dict[str, int] = {}
        for c in st.changes[start - 1 :]:
            latest[c.file_id] = c.id
        member_of = {d.id for d in st.drives.values() if user in d.members}
        out_changes: list[dict[str, Any]] = []
        index = start - 1
        while index < len(st.changes) and len(out_changes) < size:
            c = st.changes[index]
            index += 1
            if latest.get(c.file_id) != c.id:
                continue  # a later change of the same file stands for it
            if drive_id:
                if c.drive_id != drive_id:
                    continue
            elif c.drive_id is None:
                if user not in c.audience:
                    continue
            elif restrict or not (include and supports) or c.drive_id not in member_of:
                continue
            f = st.files.get(c.file_id)
            removed = c.removed or f is None or not st.visible(user, f)
            if removed and not include_removed:
                continue
            entry: dict[str, Any] = {
                "kind": "drive#change",
                "type": "file",
                "changeType": "file",
                "time": rfc3339(c.time),
                "removed": removed,
                "fileId": c.file_id,
            }
            if not removed and f is not None:
                entry["file"] = st.file_json(f, user)
            out_changes.append(entry)
        result: dict[str, Any] = {"kind": "drive#changeList", "changes": out_changes}
        if index < len(st.changes):
            result["nextPageToken"] = str(index + 1)
        else:
            result["newStartPageToken"] = st.start_page_token()
        return result

    # ------------------------------------------------------------------ Drive: revisions

    def _revision_file(self, user: str, params: dict[str, str]) -> DriveFile:
        f = self.state.file_for(user, params["fileId"], True)
        if not self.state.capabilities(user, f)["canReadRevisions"]:
            raise insufficient_file_permissions()
        return f

    def _find_revision(self, f: DriveFile, rev_id: str) -> Any:
        if rev_id == "head" and f.revisions:
            return f.revisions[-1]
        for rev in f.revisions:
            if rev.id == rev_id:
                return rev
        raise ApiError(404, f"Revision not found: {rev_id}.", "notFound", location="revisionId")

    def _revisions_list(
        self, user: str, params: dict[str, str], query: dict[str, str], body: Any
    ) -> dict[str, Any]:
        f = self._revision_file(user, params)
        size = self._page_size(query, 200, 1000)
        key = query_key("revisions", f.id)
        start = read_page_token(query["pageToken"], key) if query.get("pageToken") else 0
        page = f.revisions[start : start + size]
        out: dict[str, Any] = {
            "kind": "drive#revisionList",
            "revisions": [self.state.revision_json(f, r, user) for r in page],
        }
        if start + size < len(f.revisions):
            out["nextPageToken"] = make_page_token(start + size, key)
        return out

    def _revisions_get(
        self, user: str, params: dict[str, str], query: dict[str, str], body: Any
    ) -> dict[str, Any]:
        f = self._revision_file(user, params)
        return self.state.revision_json(f, self._find_revision(f, params["revisionId"]), user)

    def _revisions_update(
        self, user: str, params: dict[str, str], query: dict[str, str], body: Any
    ) -> dict[str, Any]:
        st = self.state
        f = self._revision_file(user, params)
        rev = self._find_revision(f, params["revisionId"])
        if "keepForever" in body:
            if not f.binary:
                raise ApiError(
                    400,
                    "keepForever can only be set on revisions of files with binary content.",
                    "badRequest",
                )
            kept = sum(1 for r in f.revisions if r.keep_forever and r is not rev)
            if body["keepForever"] and kept >= 200:
                raise ApiError(
                    400,
                    "At most 200 revisions can be kept forever.",
                    "revisionsKeepForeverLimitExceeded",
                )
            if rev.keep_forever != bool(body["keepForever"]):
                rev.keep_forever = bool(body["keepForever"])
                f.version += 1
                st.log_change(f)
        return st.revision_json(f, rev, user)

    def _revisions_delete(
        self, user: str, params: dict[str, str], query: dict[str, str], body: Any
    ) -> None:
        st = self.state
        f = self._revision_file(user, params)
        rev = self._find_revision(f, params["revisionId"])
        if not f.binary:
            raise ApiError(
                403,
                "Revisions of Google Workspace files cannot be deleted.",
                "cannotDeleteRevision",
            )
        if len(f.revisions) == 1:
            raise ApiError(
                400,
                "The last remaining revision of a file cannot be deleted.",
                "cannotDeleteOnlyRevision",
            )
        if rev.keep_forever:
            raise ApiError(
                400,
                "A revision kept forever must be unpinned before it can be deleted.",
                "illegalKeepForeverModification",
            )
        was_head = rev is f.revisions[-1]
        f.revisions.remove(rev)
        if was_head:
            head = f.revisions[-1]
            f.size, f.md5 = head.size, head.md5
        f.version += 1
        st.log_change(f)
        return None

    # ------------------------------------------------------------------ Admin SDK Directory

    def _directory_users_list(
        self, user: str, params: dict[str, str], query: dict[str, str], body: Any
    ) -> dict[str, Any]:
        st = self.state
        if not query.get("customer") and not query.get("domain"):
            raise ApiError(400, "Bad Request", "badRequest")
        caller = st.users.get(user)
        if caller is None or not caller.is_admin:
            raise ApiError(403, "Not Authorized to access this resource/api", "forbidden")
        size = self._page_size(query, 100, 500)
        people = [u for u in st.users.values() if not u.robot]
        if query.get("domain"):
            people = [u for u in people if u.email.endswith("@" + query["domain"])]
        people.sort(key=lambda u: u.email)
        key = query_key("users", query.get("customer"), query.get("domain"))
        start = read_page_token(query["pageToken"], key) if query.get("pageToken") else 0
        page = people[start : start + size]
        out: dict[str, Any] = {
            "kind": "admin#directory#users",
            "etag": '"' + hashlib.sha1(str(len(people)).encode()).hexdigest() + '"',
            "users": [
                {
                    "kind": "admin#directory#user",
                    "id": u.directory_id,
                    "primaryEmail": u.email,
                    "name": {
                        "givenName": u.display_name.split(" ")[0],
                        "familyName": " ".join(u.display_name.split(" ")[1:]) or u.display_name,
                        "fullName": u.display_name,
                    },
                    "isAdmin": u.is_admin,
                    "isDelegatedAdmin": False,
                    "suspended": u.suspended,
                    "archived": False,
                    "orgUnitPath": "/",
                    "customerId": "C01abcde2",
                    "isMailboxSetup": True,
                    "agreedToTerms": True,
                }
                for u in page
            ],
        }
        if start + size < len(people):
            out["nextPageToken"] = make_page_token(start + size, key)
        return out

    # ------------------------------------------------------------------ seeders

    def seed_realistic(self) -> SimpleNamespace:
        """A small but varied organisation; returns the ids a test needs by name."""
        now = dt.datetime.now(dt.UTC)
        ago = lambda days: now - dt.timedelta(days=days)  # noqa: E731
        alice, bob, carol = "alice@example.org", "bob@example.org", "carol@example.org"
        self.add_user(alice, "Alice Admin", is_admin=True, other_usage=2 * 1024**3)
        self.add_user(bob, "Bob Builder", quota_limit=30 * 1024**3)
        self.add_user(carol, "Carol Chen", quota_limit=None)
        self.add_user("dave@example.org", "Dave Departed", suspended=True)
        marketing = self.add_shared_drive("Marketing", {alice: "organizer", bob: "writer"})
        engineering = self.add_shared_drive(
            "Engineering", {bob: "organizer", carol: "fileOrganizer"}
        )

        projects = self.add_folder("Projects", owner=alice)
        y2021 = self.add_folder("2021", owner=alice, parent=projects.id)
        photos = self.add_folder("Photos", owner=alice)
        exports = self.add_folder("Exports", owner=alice, parent=projects.id)
        report_bytes = b"%PDF-1.7 quarterly report " * 400
        report = self.add_file(
            "Q3 report.pdf",
            owner=alice,
            parent=projects.id,
            mime_type="application/pdf",
            content=report_bytes,
            modified=ago(400),
            viewed=ago(200),
        )
        report_copy = self.add_file(
            "Q3 report (1).pdf",
            owner=alice,
            parent=y2021.id,
            mime_type="application/pdf",
            content=report_bytes,
            modified=ago(390),
        )
        bob_copy = self.add_file(
            "Q3 report.pdf",
            owner=bob,
            mime_type="application/pdf",
            content=report_bytes,
            modified=ago(380),
        )
        video = self.add_file(
            "launch-video.mp4",
            owner=alice,
            parent=exports.id,
            mime_type="video/mp4",
            size=3 * 1024**3,
            md5="0f343b0931126a20f133d67c2b018a3b",
            modified=ago(700),
            viewed=ago(650),
            revisions=[
                {
                    "size": 2900 * 1024**2,
                    "md5": "b1946ac92492d2347c6235b4d2611184",
                    "keep_forever": True,
                    "modified": ago(760),
                },
                {
                    "size": 2800 * 1024**2,
                    "md5": "591785b794601e212b260e25925636fd",
                    "keep_forever": True,
                    "modified": ago(740),
                },
                {
                    "size": 2700 * 1024**2,
                    "md5": "6f5902ac237024bdd0c176cb93063dc4",
                    "modified": ago(730),
                },
            ],
        )
        holiday = self.add_file(
            "holiday.jpg",
            owner=alice,
            parent=photos.id,
            mime_type="image/jpeg",
            content=b"\xff\xd8\xff\xe0 holiday " * 1000,
            modified=ago(1500),
        )
        backup = self.add_file(
            "old-backup.zip",
            owner=alice,
            mime_type="application/zip",
            size=2 * 1024**3,
            md5="d41d8cd98f00b204e9800998ecf8427f",
            modified=ago(1200),
            trashed=True,
        )
        empty = self.add_file(
            "empty.txt", owner=alice, parent=projects.id, mime_type="text/plain", content=b""
        )
        plan = self.add_doc(
            "Roadmap", owner=alice, parent=projects.id, modified=ago(30), viewed=ago(2)
        )
        budget = self.add_doc(
            "Budget 2021",
            kind="spreadsheet",
            owner=alice,
            parent=y2021.id,
            size=48_213,
            modified=ago(900),
        )
        shortcut = self.add_shortcut("Q3 report shortcut", report.id, owner=alice, parent=photos.id)
        shared_in = self.add_file(
            "carol-notes.txt",
            owner=carol,
            mime_type="text/plain",
            content=b"notes from carol\n" * 50,
            shared_with={alice: "writer"},
        )
        brand = self.add_folder("Brand", drive=marketing.id)
        logo = self.add_file(
            "logo.png",
            parent=brand.id,
            mime_type="image/png",
            content=b"\x89PNG logo" * 300,
            modified=ago(100),
        )
        logo_copy = self.add_file(
            "logo-final.png",
            drive=marketing.id,
            mime_type="image/png",
            content=b"\x89PNG logo" * 300,
            modified=ago(90),
        )
        deck = self.add_doc("Pitch deck", kind="presentation", drive=marketing.id)
        design = self.add_file(
            "design.fig",
            drive=engineering.id,
            mime_type="application/octet-stream",
            content=b"figma" * 2000,
        )
        return SimpleNamespace(
            alice=alice,
            bob=bob,
            carol=carol,
            marketing=marketing.id,
            engineering=engineering.id,
            projects=projects.id,
            y2021=y2021.id,
            photos=photos.id,
            exports=exports.id,
            report=report.id,
            report_copy=report_copy.id,
            bob_copy=bob_copy.id,
            video=video.id,
            holiday=holiday.id,
            backup=backup.id,
            empty=empty.id,
            roadmap=plan.id,
            budget=budget.id,
            shortcut=shortcut.id,
            shared_in=shared_in.id,
            brand=brand.id,
            logo=logo.id,
            logo_copy=logo_copy.id,
            deck=deck.id,
            design=design.id,
            report_bytes=report_bytes,
        )

    def seed_bulk(
        self, owner: str, n_files: int = 20_000, *, fanout: int = 8, depth: int = 3, seed: int = 7
    ) -> list[str]:
        """`n_files` binary files spread over a tree of nested folders; returns the file ids."""
        rng = random.Random(seed)
        st = self.state
        st.add_user(owner)
        with st.lock:
            folders: list[str] = []
            level = [None]
            for d in range(depth):
                nxt = []
                for parent in level:
                    for i in range(fanout):
                        f = st.add_file(
                            f"folder-{d}-{i}",
                            owner=owner,
                            parent=parent,
                            mime_type=FOLDER,
                            log=False,
                        )
                        nxt.append(f.id)
                folders.extend(nxt)
                level = nxt
            ids = []
            when = dt.datetime(2022, 1, 1, tzinfo=dt.UTC)
            for i in range(n_files):
                parent = folders[rng.randrange(len(folders))]
                md5 = f"{rng.getrandbits(128):032x}"
                f = st.add_file(
                    f"file-{i:05d}.bin",
                    owner=owner,
                    parent=parent,
                    size=rng.randrange(1, 10**7),
                    md5=md5,
                    modified=when + dt.timedelta(minutes=i),
                    log=False,
                )
                ids.append(f.id)
            return ids


def _b64decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@contextlib.contextmanager
def running_emulator(seed: int = 0) -> Iterator[DriveEmulator]:
    """Start an emulator on 127.0.0.1 (port 0) and stop it afterwards."""
    emulator = DriveEmulator(seed=seed).start()
    try:
        yield emulator
    finally:
        emulator.stop()
