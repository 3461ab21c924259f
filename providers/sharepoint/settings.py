"""Where and how the sharepoint provider connects, from --set sharepoint.KEY=VALUE or the environment."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from cleanup.errors import UsageError

GRAPH = "https://graph.microsoft.com/v1.0"
AUTHORITY_HOST = "https://login.microsoftonline.com"

READ_SCOPES = ("Files.Read.All", "Sites.Read.All")
WRITE_SCOPES = ("Files.ReadWrite.All", "Sites.ReadWrite.All")

KEYS = {
    "base_url": "Graph endpoint (default https://graph.microsoft.com/v1.0)",
    "tenant": "tenant ID or domain, e.g. contoso.onmicrosoft.com (default: organizations)",
    "client_id": "app registration (client) ID",
    "client_secret": "admin: client secret of the app registration",
    "certificate": "admin: PEM file holding the app's private key and certificate",
    "authority_host": "identity platform (default https://login.microsoftonline.com)",
    "login_url": "reach the identity platform at this URL instead (a proxy or a test double)",
    "token_cache": "staff: token cache file (default: in the user's config directory)",
    "versions_min_bytes": "fetch version history only where it could hold this much (default 256 KiB)",
    "max_wait": "longest total wait for throttling, in seconds (default 900)",
    "page_size": "items per delta page (default: Graph's)",
    "region": "country or region where the tenant's data lives, e.g. FR (for the footprint)",
    "write": "staff sign-in: also ask for write access now (yes/no; default no)",
}


@dataclass(slots=True)
class SharePointSettings:
    """Connection settings; a secret or a certificate means admin (application) sign-in."""

    base_url: str = GRAPH
    tenant: str = "organizations"
    client_id: str | None = None
    client_secret: str | None = None
    certificate: str | None = None
    authority_host: str = AUTHORITY_HOST
    login_url: str | None = None
    token_cache: Path | None = None
    versions_min_bytes: int = 256 * 1024
    max_wait: float = 900.0
    page_size: int | None = None
    region: str | None = None
    write: bool = False

    @property
    def application(self) -> bool:
        """Whether the app signs in as itself (admin) rather than for a person (staff)."""
        return bool(self.client_secret or self.certificate)

    @property
    def cache_path(self) -> Path:
        if self.token_cache is not None:
            return self.token_cache
        from platformdirs import user_config_path

        return user_config_path("cleanup") / "sharepoint-token-cache.json"

    @classmethod
    def from_options(cls, settings: dict[str, str]) -> SharePointSettings:
        """Read sharepoint.* settings, falling back to CLEANUP_SHAREPOINT_* variables."""
        values: dict[str, str] = {}
        for key in KEYS:
            env = os.environ.get(f"CLEANUP_SHAREPOINT_{key.upper()}")
            if env:
                values[key] = env
        for key, value in settings.items():
            name = key.removeprefix("sharepoint.")
            if key.startswith("sharepoint.") and name not in KEYS:
                known = ", ".join(f"sharepoint.{k}" for k in KEYS)
                raise UsageError(f"Unknown setting {key}. SharePoint settings are: {known}.")
            if key.startswith("sharepoint."):
                values[name] = value
        out = cls()
        for key, value in values.items():
            if key in ("versions_min_bytes", "page_size"):
                setattr(out, key, _integer(key, value))
            elif key == "max_wait":
                setattr(out, key, float(_integer(key, value)))
            elif key == "write":
                out.write = value.strip().lower() in ("1", "true", "yes", "on")
            elif key == "token_cache":
                out.token_cache = Path(value).expanduser()
            else:
                setattr(out, key, value.rstrip("/") if key.endswith(("url", "host")) else value)
        return out


def _integer(key: str, value: str) -> int:
    try:
        return int(value)
    except ValueError:
        raise UsageError(f"sharepoint.{key} must be a whole number, not {value!r}.") from None
