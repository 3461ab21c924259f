"""Microsoft Graph over requests: retries that honour throttling, typed errors, paging, $batch."""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import requests

from cleanup.errors import (
    AuthError,
    ItemGone,
    PreconditionFailed,
    ProviderError,
    ThrottledError,
)

from .signin import Credentials

MAX_BATCH = 20  # Graph's limit of requests in one $batch
RETRY_STATUSES = (429, 500, 502, 503, 504)
BACKOFF_BASE = 1.0
BACKOFF_CAP = 60.0


class ItemLocked(ProviderError):
    """The item is locked (checked out or open for editing); try again later."""


class QuotaExceeded(ProviderError):
    """The site or OneDrive is out of storage."""


class ResyncRequired(ProviderError):
    """A delta link is too old; the drive must be listed again from the start."""

    def __init__(self, message: str, location: str | None) -> None:
        super().__init__(message)
        self.location = location


@dataclass(slots=True)
class Reply:
    """One answer from Graph, direct or from inside a $batch."""

    status: int
    body: Any
    headers: dict[str, str]


class Graph:
    """A Graph v1.0 client bound to one base URL and one set of credentials."""

    def __init__(
        self,
        base_url: str,
        credentials: Credentials,
        *,
        max_wait: float = 900.0,
        sleep: Callable[[float], None] = time.sleep,
        session: requests.Session | None = None,
        seed: int | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.credentials = credentials
        self.max_wait = max_wait
        self.sleep = sleep
        self._shared_session = session
        self._local = threading.local()
        self._random = random.Random(seed)
        self._lock = threading.Lock()
        self.waited = 0.0  # total seconds spent waiting on throttling and errors
        self.retries = 0

    @property
    def session(self) -> requests.Session:
        """One HTTP session per thread: drives are listed in parallel."""
        if self._shared_session is not None:
            return self._shared_session
        session = getattr(self._local, "session", None)
        if session is None:
            session = self._local.session = requests.Session()
        return session

    def url(self, path: str) -> str:
        return path if path.startswith(("http://", "https://")) else self.base_url + path

    # ---- waiting -------------------------------------------------------------------------

    def _wait(self, attempt: int, retry_after: str | None, what: str) -> None:
        delay = _retry_after(retry_after)
        if delay is None:
            # exponential backoff with full jitter when the service gives no hint
            delay = self._random.uniform(0, min(BACKOFF_CAP, BACKOFF_BASE * 2**attempt))
        with self._lock:
            if self.waited + delay > self.max_wait:
                raise ThrottledError(
                    f"Microsoft Graph kept refusing requests ({what}) for {self.waited:.0f} s. "
                    "Try again later, or scan fewer sites at once; the scan resumes where it stopped."
                )
            self.waited += delay
            self.retries += 1
        self.sleep(delay)

    # ---- single requests -----------------------------------------------------------------

    def call(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, str] | None = None,
        json: Any = None,
        headers: dict[str, str] | None = None,
        ok: tuple[int, ...] = (),
    ) -> Reply:
        """Send one request, retrying throttling and transient failures within the budget.

        Statuses in `ok` are returned rather than raised.
        """
        refreshed = False
        attempt = 0
        token = self.credentials.token()
        while True:
            try:
                response = self.session.request(
                    method,
                    self.url(path),
                    params=params,
                    json=json,
                    headers={"Authorization": f"Bearer {token}", **(headers or {})},
                    timeout=(10, 120),
                )
            except (requests.ConnectionError, requests.Timeout) as exc:
                self._wait(attempt, None, f"{type(exc).__name__}")
                attempt += 1
                continue
            status = response.status_code
            if status == 401 and not refreshed:
                token = self.credentials.refresh(token)
                refreshed = True
                continue
            if status in RETRY_STATUSES and status not in ok:
                self._wait(attempt, response.headers.get("Retry-After"), f"HTTP {status}")
                attempt += 1
                continue
            reply = Reply(status, _json(response), dict(response.headers))
            if status >= 400 and status not in ok:
                raise error_for(reply, f"{method} {path.split('?')[0]}")
            return reply

    def get(self, path: str, **kwargs: Any) -> Any:
        return self.call("GET", path, **kwargs).body

    def pages(self, path: str, params: dict[str, str] | None = None) -> Iterator[dict[str, Any]]:
        """Every item of a collection, following @odata.nextLink."""
        body = self.get(path, params=params)
        while True:
            yield from body.get("value", [])
            link = body.get("@odata.nextLink")
            if not link:
                return
            body = self.get(link)

    # ---- batches -------------------------------------------------------------------------

    def batch(self, requests_: list[dict[str, Any]]) -> dict[str, Reply]:
        """Run up to 20 requests in one $batch; throttled members are retried, the rest returned."""
        if len(requests_) > MAX_BATCH:
            raise ValueError(f"a $batch holds at most {MAX_BATCH} requests")
        pending = {str(r["id"]): r for r in requests_}
        done: dict[str, Reply] = {}
        attempt = 0
        while pending:
            reply = self.call("POST", "/$batch", json={"requests": list(pending.values())})
            retry_after: list[str] = []
            for answer in reply.body.get("responses", []):
                key = str(answer.get("id"))
                status = int(answer.get("status", 500))
                headers = {k: str(v) for k, v in (answer.get("headers") or {}).items()}
                if status in RETRY_STATUSES:
                    retry_after.append(_header(headers, "Retry-After") or "")
                    continue
                done[key] = Reply(status, answer.get("body"), headers)
                pending.pop(key, None)
            if pending:
                hints = [h for h in retry_after if _retry_after(h) is not None]
                longest = max(hints, key=lambda h: _retry_after(h) or 0) if hints else None
                self._wait(attempt, longest, "throttled requests inside $batch")
                attempt += 1
        return done


def error_for(reply: Reply, what: str) -> ProviderError:
    """The typed error for a Graph error reply; the message says what to do."""
    error = reply.body.get("error", {}) if isinstance(reply.body, dict) else {}
    code = str(error.get("code", "")) if isinstance(error, dict) else ""
    message = str(error.get("message", "")) if isinstance(error, dict) else ""
    status = reply.status
    if status == 401:
        return AuthError("Microsoft Graph refused the sign-in token. Run: cleanup login sharepoint")
    if status == 403:
        return AuthError(
            f"Access denied for {what} ({message}). Scanning needs Files.Read.All and "
            "Sites.Read.All (admins: application permissions with admin consent, plus User.Read.All "
            "to list OneDrives); acting needs Files.ReadWrite.All or Sites.ReadWrite.All."
        )
    if status == 404:
        return ItemGone(f"Not found: {what}. It was deleted or moved since the scan.")
    if status == 410:
        return ResyncRequired(f"{what}: {message}", _header(reply.headers, "Location"))
    if status == 412:
        return PreconditionFailed(f"Changed since it was planned ({what}): skipped.")
    if status == 423:
        return ItemLocked(
            f"Locked ({what}): the file is checked out or open for editing. Try again when it is closed."
        )
    if status == 507:
        return QuotaExceeded(
            f"The site or OneDrive is out of storage ({what}). Free space (empty the recycle bin) "
            "or ask an administrator to raise the quota."
        )
    return ProviderError(f"Microsoft Graph answered {status} {code} for {what}: {message}")


def _header(headers: dict[str, str], name: str) -> str | None:
    for key, value in headers.items():
        if key.lower() == name.lower():
            return value
    return None


def _retry_after(value: str | None) -> float | None:
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        return None


def _json(response: requests.Response) -> Any:
    if not response.content:
        return None
    try:
        return response.json()
    except ValueError:
        return {"error": {"code": "notJson", "message": response.text[:200]}}
