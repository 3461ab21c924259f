"""Pytest fixtures for the SharePoint provider tests (load with pytest_plugins)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from providers.sharepoint import SharePointProvider
from tests.emulators.graph import GraphEmulator
from tests.emulators.graph_settings import ADMIN_ROLES, STAFF_SCOPES, Waits
from tests.emulators.graph_tenant import App


@pytest.fixture
def waits(monkeypatch: pytest.MonkeyPatch) -> Waits:
    recorder = Waits()
    monkeypatch.setattr(SharePointProvider, "sleep", recorder)
    return recorder


@pytest.fixture
def graph() -> Iterator[GraphEmulator]:
    with GraphEmulator(seed=5) as running:
        running.login.device_interval = 0
        yield running


@pytest.fixture
def admin_app(graph: GraphEmulator) -> App:
    return graph.register_app(
        "cleanup-admin", secret="correct horse", application_roles=set(ADMIN_ROLES)
    )


@pytest.fixture
def staff_app(graph: GraphEmulator) -> App:
    return graph.register_app(
        "cleanup-staff", public_client=True, delegated_scopes=set(STAFF_SCOPES)
    )
