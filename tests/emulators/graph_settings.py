"""Settings and stand-ins that point the sharepoint provider at a running Graph emulator."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from cleanup.providers import ProviderOptions
from tests.emulators.graph import GraphEmulator
from tests.emulators.graph_tenant import App

ADMIN_ROLES = {"Sites.Read.All", "Files.Read.All", "User.Read.All", "Sites.ReadWrite.All"}
STAFF_SCOPES = {"Files.Read.All", "Sites.Read.All", "Files.ReadWrite.All", "Sites.ReadWrite.All"}


@dataclass
class Waits:
    """Stands in for time.sleep: records every wait the provider asks for, returns at once."""

    seconds: list[float] = field(default_factory=list)

    def __call__(self, delay: float) -> None:
        self.seconds.append(delay)


def admin_settings(graph: GraphEmulator, app: App, **extra: str) -> dict[str, str]:
    settings = {
        "sharepoint.base_url": graph.graph_url,
        "sharepoint.login_url": graph.url,
        "sharepoint.tenant": graph.tenant.domain,
        "sharepoint.client_id": app.client_id,
        "sharepoint.client_secret": app.secret or "",
    }
    settings.update({f"sharepoint.{k}": v for k, v in extra.items()})
    return settings


def staff_settings(graph: GraphEmulator, app: App, cache: Path, **extra: str) -> dict[str, str]:
    settings = {
        "sharepoint.base_url": graph.graph_url,
        "sharepoint.login_url": graph.url,
        "sharepoint.tenant": graph.tenant.domain,
        "sharepoint.client_id": app.client_id,
        "sharepoint.token_cache": str(cache),
    }
    settings.update({f"sharepoint.{k}": v for k, v in extra.items()})
    return settings


def options(settings: dict[str, str], **kwargs: object) -> ProviderOptions:
    return ProviderOptions(settings=dict(settings), **kwargs)  # type: ignore[arg-type]
