"""Signing in to Google Drive: staff through installed-app OAuth, admins through a service account.

Staff run `cleanup login gdrive` once; the token (with its refresh token) is saved in the
user's config directory readable by them alone, and refreshed silently afterwards. Admins
give a service-account key with domain-wide delegation and act as one user or as each user
the Directory lists.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import sys
import urllib.parse
from collections.abc import Callable
from pathlib import Path
from typing import Any

import google.auth.exceptions
import google_auth_httplib2
import httplib2
from google.oauth2 import credentials as user_credentials
from google.oauth2 import service_account

from cleanup.errors import AuthError

from .client import ACT_SCOPE, DIRECTORY_SCOPE, READ_SCOPE, DriveSettings

CONSOLE_REDIRECT = "http://localhost:1/"
GOOGLE_TOKEN_URI = "https://oauth2.googleapis.com/token"


def scopes_for(access: str) -> list[str]:
    """Scanning asks only to read metadata; acting asks for the full drive scope."""
    return [ACT_SCOPE] if access == "act" else [READ_SCOPE]


def explain_refresh_error(
    err: google.auth.exceptions.RefreshError,
    who: str,
    settings: DriveSettings,
    sa_info: dict[str, Any] | None = None,
) -> AuthError:
    """A message saying what to do about a failed sign-in."""
    text = str(err)
    if "unauthorized_client" in text and sa_info is not None:
        return AuthError(
            f"The service account {sa_info.get('client_email')} may not act as {who}: domain-wide "
            "delegation is missing. In the Google Admin console, Security > Access and data control > "
            f"API controls > Domain-wide delegation, add client ID {sa_info.get('client_id')} with the "
            f"scopes {READ_SCOPE} (scan), {ACT_SCOPE} (apply) and {DIRECTORY_SCOPE} (--all-accounts)."
        )
    if "invalid_grant" in text and sa_info is not None:
        return AuthError(
            f"Google refused to let the service account act as {who} ({text.split(',')[0].strip('(')}). "
            "Check that the user exists and is not suspended, and that the key is still active."
        )
    if "invalid_grant" in text:
        return AuthError(
            f"Your Google sign-in for {who} was revoked or has expired. Sign in again: cleanup login gdrive"
        )
    if "invalid_scope" in text:
        return AuthError(
            f"The saved Google sign-in for {who} does not cover what this needs. Sign in again with "
            "cleanup login gdrive --set gdrive.access=act"
        )
    return AuthError(f"Signing in to Google as {who} failed: {text}")


# ----------------------------------------------------------------------------- staff


def load_client_secrets(settings: DriveSettings) -> dict[str, Any]:
    path = settings.client_secrets
    if not path.is_file():
        raise AuthError(
            f"No Google OAuth client file at {path}. Create an OAuth client ID of type 'Desktop app' "
            "in the Google Cloud console (APIs & Services > Credentials), download its JSON and save it "
            "there, or point to it with --set gdrive.client_secrets=FILE (env CLEANUP_GDRIVE_CLIENT_SECRETS)."
        )
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise AuthError(f"The OAuth client file {path} is not readable JSON: {exc}") from exc
    info = data.get("installed") or data.get("web")
    if not info or "client_id" not in info:
        raise AuthError(f"{path} is not an OAuth client file (it has no 'installed' section).")
    if settings.token_uri:
        info["token_uri"] = settings.token_uri
    return {"installed": info}


def save_token(creds: user_credentials.Credentials, path: Path, account: str | None = None) -> None:
    """Write the token readable by the user alone (0600), replacing the old one atomically."""
    data = json.loads(creds.to_json())
    if account:
        data["account"] = account
    elif path.is_file():
        try:
            data["account"] = json.loads(path.read_text()).get("account", "")
        except (OSError, ValueError):
            pass
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        json.dump(data, f)
    os.chmod(tmp, 0o600)
    os.replace(tmp, path)


def load_staff_credentials(
    settings: DriveSettings, need: list[str]
) -> user_credentials.Credentials:
    """The saved staff token, refreshed when needed (and saved again)."""
    path = settings.token_file
    if not path.is_file():
        raise AuthError("Not signed in to Google Drive. Sign in first: cleanup login gdrive")
    try:
        info = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise AuthError(
            f"The saved Google sign-in at {path} is unreadable ({exc}). Sign in again: cleanup login gdrive"
        ) from exc
    if settings.token_uri:
        info["token_uri"] = settings.token_uri
    granted = set(info.get("scopes") or [])
    if not _covers(granted, need):
        raise AuthError(
            "The saved Google sign-in may only read file details; changing files needs more. "
            "Sign in again for acting: cleanup login gdrive --set gdrive.access=act"
        )
    # from_authorized_user_info always puts Google's token endpoint in; build it by hand to keep ours.
    expiry = None
    if info.get("expiry"):
        expiry = dt.datetime.strptime(info["expiry"].rstrip("Z").split(".")[0], "%Y-%m-%dT%H:%M:%S")
    try:
        creds = user_credentials.Credentials(
            token=info.get("token"),
            refresh_token=info["refresh_token"],
            token_uri=info.get("token_uri") or GOOGLE_TOKEN_URI,
            client_id=info["client_id"],
            client_secret=info["client_secret"],
            scopes=sorted(granted) or None,
            expiry=expiry,
            account=info.get("account", ""),
        )
    except KeyError as exc:
        raise AuthError(
            f"The saved Google sign-in at {path} lacks {exc}. Sign in again: cleanup login gdrive"
        ) from exc
    if not creds.valid:
        try:
            creds.refresh(google_auth_httplib2.Request(httplib2.Http(timeout=settings.timeout)))
        except google.auth.exceptions.RefreshError as err:
            raise explain_refresh_error(
                err, info.get("account") or "this account", settings
            ) from err
        save_token(creds, path)
    return creds


def _covers(granted: set[str], need: list[str]) -> bool:
    if ACT_SCOPE in granted:
        return True
    return all(n in granted for n in need)


def login(
    settings: DriveSettings,
    say: Callable[[str], None],
    ask: Callable[[str], str] | None = None,
    open_browser: bool = True,
) -> user_credentials.Credentials:
    """Run the installed-app flow (browser, or copy-and-paste on a headless machine); save the token."""
    from google_auth_oauthlib.flow import InstalledAppFlow

    flow = InstalledAppFlow.from_client_config(
        load_client_secrets(settings), scopes=scopes_for(settings.access)
    )
    console = settings.console
    if console is None:
        console = not (
            os.environ.get("DISPLAY")
            or os.environ.get("WAYLAND_DISPLAY")
            or sys.platform in ("darwin", "win32")
        )
    if console:
        flow.redirect_uri = CONSOLE_REDIRECT
        url, _ = flow.authorization_url(access_type="offline", prompt="consent")
        say("Open this address in a browser on any device and allow access:")
        say(url)
        say(
            "The browser then fails to load a page on localhost; copy that page's whole address (or just its code=... value)."
        )
        answer = (ask or input)("Address or code: ").strip()
        code = urllib.parse.unquote(answer)  # a code copied from the address bar may be %-encoded
        if answer.startswith("http"):
            params = urllib.parse.parse_qs(urllib.parse.urlsplit(answer).query)
            if "error" in params:
                raise AuthError(f"Google sign-in was refused: {params['error'][0]}")
            code = params.get("code", [""])[0]
        if not code:
            raise AuthError("No authorisation code was given; run cleanup login gdrive again.")
        try:
            flow.fetch_token(code=code)
        except Exception as exc:  # oauthlib raises many kinds; all mean the same to the user
            raise AuthError(
                f"Google did not accept the code: {exc}. Run cleanup login gdrive again."
            ) from exc
    else:
        say("Opening a browser to sign in to Google...")
        flow.run_local_server(
            port=0,
            open_browser=open_browser,
            timeout_seconds=300,
            authorization_prompt_message="If no browser opened, visit: {url}",
        )
    creds = flow.credentials
    if not isinstance(creds, user_credentials.Credentials):
        raise AuthError("Google sign-in returned no usable credentials.")
    return creds


# ----------------------------------------------------------------------------- admins


def load_service_account(settings: DriveSettings) -> dict[str, Any]:
    path = settings.service_account
    if path is None:
        raise AuthError(
            "Scanning as another user needs a service account with domain-wide delegation. Give its "
            "JSON key with --set gdrive.service_account=FILE (env CLEANUP_GDRIVE_SERVICE_ACCOUNT)."
        )
    if not path.is_file():
        raise AuthError(
            f"No service-account key file at {path}. Download a JSON key for the service account and give its path."
        )
    try:
        info = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise AuthError(f"The service-account key {path} is not readable JSON: {exc}") from exc
    if info.get("type") != "service_account":
        raise AuthError(f"{path} is not a service-account key (its type is {info.get('type')!r}).")
    if settings.token_uri:
        info["token_uri"] = settings.token_uri
    return dict(info)


def delegated_credentials(
    info: dict[str, Any], subject: str, scopes: list[str]
) -> service_account.Credentials:
    return service_account.Credentials.from_service_account_info(
        info, scopes=scopes, subject=subject
    )
