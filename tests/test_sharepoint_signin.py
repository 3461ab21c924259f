"""Signing in to SharePoint: admin secrets and certificates, staff device code, and the
messages people see when a secret is wrong or expired, the tenant is wrong, or consent is missing."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

from cleanup.errors import AuthError, UsageError
from cleanup.inventory import Inventory
from cleanup.providers import Address
from cleanup.scan import scan
from providers.sharepoint import SharePointProvider
from tests.emulators.graph import GraphEmulator
from tests.emulators.graph_seed import seed_realistic
from tests.emulators.graph_settings import (
    ADMIN_ROLES,
    Waits,
    admin_settings,
    options,
    staff_settings,
)
from tests.emulators.graph_tenant import App

pytest_plugins = ["tests.emulators.graph_fixtures"]


def scan_sites(
    graph: GraphEmulator, settings: dict[str, str], tmp_path: Path, target: str = "HR"
) -> Inventory:
    inventory = Inventory(tmp_path / "inventory.db")
    scan(inventory, [Address("sharepoint", target)], options(settings))
    return inventory


def test_wrong_and_expired_secrets_say_what_to_do(
    graph: GraphEmulator, admin_app: App, waits: Waits, tmp_path: Path
) -> None:
    seed_realistic(graph.tenant)
    wrong = admin_settings(graph, admin_app) | {"sharepoint.client_secret": "tr0ub4dor"}
    with pytest.raises(
        AuthError, match=r"client secret for app .* is wrong.*Certificates & secrets"
    ):
        scan_sites(graph, wrong, tmp_path)
    admin_app.secret_expired = True
    with pytest.raises(AuthError, match=r"has expired. Create a new secret"):
        scan_sites(graph, admin_settings(graph, admin_app), tmp_path)


def test_wrong_tenant_and_missing_consent(
    graph: GraphEmulator, admin_app: App, waits: Waits, tmp_path: Path
) -> None:
    seed_realistic(graph.tenant)
    elsewhere = admin_settings(graph, admin_app) | {"sharepoint.tenant": "fabrikam.onmicrosoft.com"}
    with pytest.raises(AuthError, match=r"Tenant 'fabrikam.onmicrosoft.com' was not found"):
        scan_sites(graph, elsewhere, tmp_path)
    bare = graph.register_app("unconsented", secret="s")
    with pytest.raises(AuthError, match=r"has not been granted .* admin consent"):
        scan_sites(graph, admin_settings(graph, bare), tmp_path)
    reader = graph.register_app("reader", secret="r", application_roles={"Sites.Read.All"})
    with pytest.raises(AuthError, match="User.Read.All"):
        scan_sites(graph, admin_settings(graph, reader), tmp_path, target="all")


def test_admin_signs_in_with_a_certificate(
    graph: GraphEmulator, waits: Waits, tmp_path: Path
) -> None:
    seeded = seed_realistic(graph.tenant)
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "cleanup")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=365))
        .sign(key, hashes.SHA256())
    )
    cert_pem = cert.public_bytes(serialization.Encoding.PEM)
    pem = tmp_path / "cleanup-app.pem"
    pem.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        + cert_pem
    )
    app = graph.register_app(
        "cert-app", certificate_pem=cert_pem, application_roles=set(ADMIN_ROLES)
    )
    settings = admin_settings(graph, app) | {"sharepoint.certificate": str(pem)}
    del settings["sharepoint.client_secret"]
    inventory = scan_sites(graph, settings, tmp_path)
    hr = next(s for s in seeded.sites if s.name == "HR")
    accounts = {a for (a,) in inventory.db.execute("SELECT DISTINCT account FROM files")}
    assert accounts == {d.id for d in hr.drives} | {hr.id}  # its libraries and its recycle bin


def test_an_expired_token_is_refreshed_once_mid_scan(
    graph: GraphEmulator, admin_app: App, waits: Waits, tmp_path: Path
) -> None:
    seed_realistic(graph.tenant)
    provider = SharePointProvider(options(admin_settings(graph, admin_app)))
    drives = provider.drives("all")
    tokens = graph.calls["login.token"]
    graph.login.expire_tokens()  # the hour is up while the admin scan runs
    assert len(provider.drives("all")) == len(drives)
    assert graph.calls["login.token"] == tokens + 1
    # a token refused even after refreshing is a sign-in problem, not a loop
    graph.faults.fail("sites.getAllSites", 401, times=2)
    with pytest.raises(AuthError, match="refused the sign-in token"):
        provider.drives("all")


def test_staff_must_sign_in_first_and_admins_cannot_scan_me(
    graph: GraphEmulator, staff_app: App, admin_app: App, waits: Waits, tmp_path: Path
) -> None:
    seeded = seed_realistic(graph.tenant)
    settings = staff_settings(graph, staff_app, tmp_path / "cache.json")
    with pytest.raises(AuthError, match="Run: cleanup login sharepoint"):
        scan_sites(graph, settings, tmp_path, target="me")
    with pytest.raises(UsageError, match="needs admin sign-in"):
        scan_sites(graph, settings, tmp_path, target="all")
    with pytest.raises(UsageError, match="sharepoint:me is a person's OneDrive"):
        scan_sites(graph, admin_settings(graph, admin_app), tmp_path, target="me")

    def approve(message: str) -> None:
        graph.login.approve(message.split("enter the code ")[1].split()[0], seeded.users[0])

    SharePointProvider.login(options(settings), approve)
    # acting asks for write scopes silently with the same sign-in
    provider = SharePointProvider(options(settings))
    onedrive = graph.tenant.onedrives[seeded.users[0].id]
    inventory = scan_sites(graph, settings, tmp_path, target="me")
    some_file = next(f for f in inventory.files("kind = 'file'") if f.account == onedrive.id)
    assert provider.fingerprint(some_file) == some_file.fingerprint
    grants = [g for g in graph.login.tokens.values() if g.user is seeded.users[0]]
    assert any("Files.ReadWrite.All" in g.scopes for g in grants)
    assert all("Files.ReadWrite.All" not in g.scopes for g in grants[:1])  # scanning read only


def test_device_code_needs_public_client_flows(
    graph: GraphEmulator, waits: Waits, tmp_path: Path
) -> None:
    closed = graph.register_app("closed", delegated_scopes={"Files.Read.All", "Sites.Read.All"})
    settings = staff_settings(graph, closed, tmp_path / "cache.json")
    with pytest.raises(AuthError, match="Allow public client flows"):
        SharePointProvider.login(options(settings), lambda message: None)
    assert not (tmp_path / "cache.json").exists()


def test_staff_can_ask_for_write_access_at_sign_in(
    graph: GraphEmulator, staff_app: App, waits: Waits, tmp_path: Path
) -> None:
    seeded = seed_realistic(graph.tenant)
    settings = staff_settings(graph, staff_app, tmp_path / "cache.json", write="yes")

    def approve(message: str) -> None:
        graph.login.approve(message.split("enter the code ")[1].split()[0], seeded.users[1])

    SharePointProvider.login(options(settings), approve)
    (grant,) = [g for g in graph.login.tokens.values() if g.user is seeded.users[1]]
    assert grant.scopes == {"Files.ReadWrite.All", "Sites.ReadWrite.All"}
    with pytest.raises(UsageError, match="Unknown setting sharepoint.colour"):
        SharePointProvider(options(settings | {"sharepoint.colour": "blue"}))
