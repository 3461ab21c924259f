"""Drive v3 clients built from the library's bundled discovery document, and the retry policy.

The base URL is the one seam between production and tests: the discovery document's
`rootUrl` is rewritten to it, which routes files, batch and upload requests alike.
"""

from __future__ import annotations

import email.utils
import json
import os
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import google.auth.exceptions
import google_auth_httplib2
import httplib2
from googleapiclient.discovery import build_from_document
from googleapiclient.discovery_cache import get_static_doc
from googleapiclient.errors import HttpError

from cleanup.errors import AuthError, ItemGone, ProviderError, ThrottledError
from cleanup.providers import ProviderOptions

GOOGLE_ROOT = "https://www.googleapis.com/"
SCOPE = "https://www.googleapis.com/auth/"
READ_SCOPE = SCOPE + "drive.metadata.readonly"
ACT_SCOPE = SCOPE + "drive"
DIRECTORY_SCOPE = SCOPE + "admin.directory.user.readonly"
RATE_LIMIT_REASONS = frozenset({"userRateLimitExceeded", "rateLimitExceeded"})
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})


def _config_dir() -> Path:
    from platformdirs import user_config_path

    return user_config_path("cleanup", appauthor=False)


@dataclass(slots=True)
class DriveSettings:
    """How to reach Drive: from `--set gdrive.KEY=VALUE`, else `CLEANUP_GDRIVE_KEY`, else defaults."""

    base_url: str = GOOGLE_ROOT
    token_uri: str | None = (
        None  # None: the one in the credentials file (or base_url/token off Google)
    )
    client_secrets: Path = Path()
    token_file: Path = Path()
    service_account: Path | None = None
    admin: str | None = None  # admin account the Directory is read as, for --all-accounts
    access: str = "read"  # login: "read" asks for metadata.readonly, "act" for drive
    console: bool | None = None  # login: copy-and-paste flow; None decides from the environment
    workers: int = 4  # accounts scanned in parallel in an admin scan
    page_size: int = 1000
    timeout: float = 60.0
    retry_budget: float = 300.0  # seconds of waiting one call may spend on retries
    backoff_base: float = 1.0
    backoff_cap: float = 32.0
    max_attempts: int = 12

    @classmethod
    def from_options(cls, options: ProviderOptions) -> DriveSettings:
        def get(key: str) -> str | None:
            value = options.settings.get(f"gdrive.{key}")
            if value is None:
                value = os.environ.get(f"CLEANUP_GDRIVE_{key.upper()}")
            return value or None

        config = _config_dir()
        s = cls(
            client_secrets=Path(
                get("client_secrets") or config / "gdrive-client.json"
            ).expanduser(),
            token_file=Path(get("token_file") or config / "gdrive-token.json").expanduser(),
        )
        s.base_url = (get("base_url") or GOOGLE_ROOT).rstrip("/") + "/"
        s.token_uri = get("token_uri")
        if s.token_uri is None and s.base_url != GOOGLE_ROOT:
            s.token_uri = s.base_url + "token"
        sa = get("service_account")
        s.service_account = Path(sa).expanduser() if sa else None
        s.admin = get("admin")
        s.access = get("access") or "read"
        console = get("console")
        s.console = None if console is None else console.lower() in ("1", "true", "yes")
        for name, kind in (
            ("workers", int),
            ("page_size", int),
            ("max_attempts", int),
            ("timeout", float),
            ("retry_budget", float),
            ("backoff_base", float),
            ("backoff_cap", float),
        ):
            raw = get(name)
            if raw is not None:
                try:
                    setattr(s, name, kind(raw))
                except ValueError as exc:
                    raise ProviderError(f"gdrive.{name} must be a number, not {raw!r}.") from exc
        s.page_size = max(1, min(s.page_size, 1000))
        return s


@cache
def _discovery(api: str, version: str, root: str) -> str:
    doc = json.loads(get_static_doc(api, version))
    doc["rootUrl"] = root
    if "mtlsRootUrl" in doc:
        doc["mtlsRootUrl"] = root
    return json.dumps(doc)


def build_service(api: str, version: str, credentials: Any, settings: DriveSettings) -> Any:
    """A client from the bundled discovery document, rooted at the configured base URL."""
    http = google_auth_httplib2.AuthorizedHttp(
        credentials, http=httplib2.Http(timeout=settings.timeout)
    )
    return build_from_document(_discovery(api, version, settings.base_url), http=http)


class ServicePool:
    """One service object per thread and account: httplib2 connections are not thread-safe."""

    def __init__(self, make: Callable[[str, str], Any]) -> None:
        self._make = make
        self._local = threading.local()

    def get(self, account: str, purpose: str = "drive") -> Any:
        cache = getattr(self._local, "services", None)
        if cache is None:
            cache = self._local.services = {}
        key = (account, purpose)
        if key not in cache:
            cache[key] = self._make(account, purpose)
        return cache[key]


def error_reason(err: HttpError) -> str:
    try:
        body = json.loads(err.content)
        return str(body["error"]["errors"][0].get("reason", ""))
    except (ValueError, KeyError, IndexError, TypeError):
        return ""


def error_message(err: HttpError) -> str:
    try:
        return str(json.loads(err.content)["error"]["message"])
    except (ValueError, KeyError, TypeError):
        return err.reason or f"HTTP {err.status_code}"


def retry_after(err: HttpError) -> float | None:
    """Seconds the server asked us to wait, from Retry-After (delta seconds or an HTTP date)."""
    value = err.resp.get("retry-after") if err.resp is not None else None
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        when = email.utils.parsedate_to_datetime(value)
        return max(0.0, when.timestamp() - time.time()) if when else None


def retryable(err: HttpError) -> bool:
    status = err.status_code
    return status in RETRY_STATUSES or (status == 403 and error_reason(err) in RATE_LIMIT_REASONS)


class MalformedResponse(Exception):
    """A 200 whose body was not the JSON object the method returns."""


class Retrier:
    """Truncated exponential backoff with jitter, honouring Retry-After, within a time budget."""

    def __init__(
        self,
        settings: DriveSettings,
        sleep: Callable[[float], None] = time.sleep,
        rng: random.Random | None = None,
    ) -> None:
        self.settings = settings
        self.sleep = sleep
        self.rng = rng or random.Random()
        self.retries = 0
        self.waited = 0.0
        self._lock = threading.Lock()

    def delay(self, attempt: int, hint: float | None) -> float:
        s = self.settings
        with self._lock:
            jitter = self.rng.uniform(0, s.backoff_base)
        backoff = min(s.backoff_cap, s.backoff_base * (2**attempt) + jitter)
        return max(backoff, hint) if hint is not None else backoff

    def call(self, request: Callable[[], Any], what: str, *, expect_body: bool = True) -> Any:
        """Run `request()` (which executes one API call) until it succeeds or the budget is spent."""
        s = self.settings
        waited = 0.0
        attempt = 0
        while True:
            try:
                result = request()
                if expect_body and not isinstance(result, dict):
                    raise MalformedResponse(str(result)[:80])
                return result
            except HttpError as err:
                if not retryable(err):
                    raise
                hint, problem = (
                    retry_after(err),
                    f"HTTP {err.status_code} {error_reason(err)}".strip(),
                )
            except (MalformedResponse, OSError, httplib2.HttpLib2Error) as err:
                hint, problem = None, f"{type(err).__name__}: {err}"
            except google.auth.exceptions.TransportError as err:
                hint, problem = None, f"sign-in service unreachable: {err}"
            pause = self.delay(attempt, hint)
            attempt += 1
            if attempt >= s.max_attempts or waited + pause > s.retry_budget:
                raise ThrottledError(
                    f"Google Drive kept refusing {what} ({problem}) for {waited:.0f} s over {attempt} attempts. "
                    "Run the same command again later: the scan resumes where it stopped."
                )
            with self._lock:
                self.retries += 1
                self.waited += pause
            self.sleep(pause)
            waited += pause


def not_found(err: HttpError) -> bool:
    return err.status_code == 404


def raise_for_action(err: HttpError, what: str) -> None:
    """Turn an HttpError from an action into the project's typed errors."""
    reason = error_reason(err)
    if err.status_code == 404:
        raise ItemGone(
            f"{what}: the item no longer exists or is no longer shared with this account."
        ) from err
    if reason == "insufficientPermissions":
        raise AuthError(
            f"{what}: signed in without permission to change files. Sign in again for acting: "
            "cleanup login gdrive --set gdrive.access=act (admins: allow the scope "
            f"{ACT_SCOPE} in domain-wide delegation)."
        ) from err
    if reason in (
        "insufficientFilePermissions",
        "cannotDeleteOnlyRevision",
        "illegalKeepForeverModification",
    ):
        raise ProviderError(f"{what}: {error_message(err)}") from err
    raise ProviderError(
        f"{what}: Google Drive answered {err.status_code}: {error_message(err)}"
    ) from err
