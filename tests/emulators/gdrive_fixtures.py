"""Sign-in files and settings that point the gdrive provider at a running emulator."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

from cleanup.providers import ProviderOptions
from tests.emulators.gdrive import DRIVE, DRIVE_METADATA_READONLY, DriveEmulator

DIRECTORY = "https://www.googleapis.com/auth/admin.directory.user.readonly"


def client_secrets(emulator: DriveEmulator, folder: Path) -> Path:
    """An installed-app OAuth client file whose endpoints are the emulator's."""
    client_id, secret = emulator.register_oauth_client()
    path = folder / "client.json"
    path.write_text(
        json.dumps(
            {
                "installed": {
                    "client_id": client_id,
                    "client_secret": secret,
                    "auth_uri": emulator.url + "o/oauth2/auth",
                    "token_uri": emulator.token_uri,
                    "redirect_uris": ["http://localhost"],
                }
            }
        )
    )
    return path


def staff_settings(
    emulator: DriveEmulator,
    folder: Path,
    email: str,
    *,
    act: bool = False,
    fresh: bool = True,
) -> dict[str, str]:
    """Settings for a staff member who has signed in (token file written as `cleanup login` would)."""
    secrets = client_secrets(emulator, folder)
    client_id, secret = next(iter(emulator.oauth_clients.items()))
    scopes = [DRIVE] if act else [DRIVE_METADATA_READONLY]
    refresh = emulator.issue_refresh_token(email, client_id, scopes)
    token = emulator.issue_token(email, scopes) if fresh else None
    expiry = dt.datetime.now(dt.UTC) + dt.timedelta(minutes=50 if fresh else -5)
    path = folder / "token.json"
    path.write_text(
        json.dumps(
            {
                "token": token,
                "refresh_token": refresh,
                "token_uri": emulator.token_uri,
                "client_id": client_id,
                "client_secret": secret,
                "scopes": scopes,
                "account": email,
                "expiry": expiry.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
            }
        )
    )
    path.chmod(0o600)
    return {
        "gdrive.base_url": emulator.url,
        "gdrive.client_secrets": str(secrets),
        "gdrive.token_file": str(path),
        "gdrive.backoff_base": "0.001",
        "gdrive.backoff_cap": "0.05",
    }


def admin_settings(
    emulator: DriveEmulator,
    folder: Path,
    admin: str,
    scopes: tuple[str, ...] = (DRIVE, DRIVE_METADATA_READONLY, DIRECTORY),
) -> dict[str, str]:
    """Settings for an admin with a service account the org has granted domain-wide delegation."""
    info = emulator.service_account_info(delegated_scopes=list(scopes))
    path = folder / "service-account.json"
    path.write_text(json.dumps(info))
    return {
        "gdrive.base_url": emulator.url,
        "gdrive.service_account": str(path),
        "gdrive.admin": admin,
        "gdrive.backoff_base": "0.001",
        "gdrive.backoff_cap": "0.05",
    }


def options(settings: dict[str, str], **kw: Any) -> ProviderOptions:
    return ProviderOptions(settings=dict(settings), **kw)
