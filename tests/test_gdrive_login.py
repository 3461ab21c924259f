"""Staff sign-in to Google Drive: browser or copy-and-paste, token kept private and reused."""

from __future__ import annotations

import json
import stat
import threading
import webbrowser

import pytest
import requests
from click.testing import CliRunner

from cleanup.cli import main
from cleanup.errors import AuthError
from cleanup.inventory import Inventory
from cleanup.providers import Address
from cleanup.scan import scan
from providers.gdrive import DriveProvider
from tests.emulators.gdrive import running_emulator
from tests.emulators.gdrive_fixtures import admin_settings, client_secrets, options


@pytest.fixture
def drive(monkeypatch):
    # The emulator's token endpoint is plain http on loopback; oauthlib insists on https otherwise.
    monkeypatch.setenv("OAUTHLIB_INSECURE_TRANSPORT", "1")
    with running_emulator(seed=5) as emulator:
        emulator.seed_realistic()
        emulator.consent_user = "alice@example.org"
        yield emulator


def consent(url: str) -> str:
    """What a person does in the browser: approve, and copy the address it lands on."""
    answer = requests.get(url, allow_redirects=False, timeout=10)
    assert answer.status_code == 302
    return answer.headers["Location"]


def login_settings(drive, tmp_path, **extra):
    return {
        "gdrive.base_url": drive.url,
        "gdrive.client_secrets": str(client_secrets(drive, tmp_path)),
        "gdrive.token_file": str(tmp_path / "config" / "gdrive-token.json"),
        **extra,
    }


def test_console_login_saves_a_private_token_that_scans_use(drive, tmp_path, monkeypatch):
    settings = login_settings(drive, tmp_path, **{"gdrive.console": "1"})
    said: list[str] = []
    monkeypatch.setattr(
        "builtins.input", lambda prompt="": consent(next(s for s in said if s.startswith("http")))
    )

    who = DriveProvider.login(options(settings), said.append)

    assert who == "alice@example.org"
    token_file = tmp_path / "config" / "gdrive-token.json"
    assert stat.S_IMODE(token_file.stat().st_mode) == 0o600
    saved = json.loads(token_file.read_text())
    assert saved["account"] == "alice@example.org" and saved["refresh_token"]
    assert saved["scopes"] == ["https://www.googleapis.com/auth/drive.metadata.readonly"]

    with Inventory(tmp_path / "inventory.sqlite") as inventory:
        scan(inventory, [Address("gdrive", "me")], options(settings))
        assert inventory.count() > 10


def test_console_login_accepts_just_the_code(drive, tmp_path, monkeypatch):
    settings = login_settings(drive, tmp_path, **{"gdrive.console": "1", "gdrive.access": "act"})
    said: list[str] = []

    def paste_code(prompt=""):
        landing = consent(next(s for s in said if s.startswith("http")))
        return landing.split("code=")[1].split("&")[0]

    monkeypatch.setattr("builtins.input", paste_code)
    DriveProvider.login(options(settings), said.append)
    saved = json.loads((tmp_path / "config" / "gdrive-token.json").read_text())
    assert saved["scopes"] == ["https://www.googleapis.com/auth/drive"]


def test_browser_login_on_a_desktop(drive, tmp_path, monkeypatch):
    settings = login_settings(drive, tmp_path, **{"gdrive.console": "0"})

    class Browser:
        def open(self, url, new=0, autoraise=True):
            # Follow the consent redirect back to the flow's local server, as a browser would.
            threading.Thread(
                target=requests.get, args=(url,), kwargs={"timeout": 10}, daemon=True
            ).start()
            return True

    monkeypatch.setattr(webbrowser, "get", lambda using=None: Browser())
    assert DriveProvider.login(options(settings), lambda line: None) == "alice@example.org"
    assert (tmp_path / "config" / "gdrive-token.json").is_file()


def test_cli_login_through_the_real_command(drive, tmp_path, monkeypatch):
    client = client_secrets(drive, tmp_path)
    captured: list[str] = []
    monkeypatch.setattr("click.echo", lambda message="", **kw: captured.append(str(message)))
    monkeypatch.setattr(
        "builtins.input",
        lambda prompt="": consent(next(s for s in captured if s.startswith("http"))),
    )
    result = CliRunner().invoke(
        main,
        [
            "login",
            "gdrive",
            "--set",
            f"gdrive.base_url={drive.url}",
            "--set",
            f"gdrive.client_secrets={client}",
            "--set",
            "gdrive.console=1",
        ],
    )
    assert result.exit_code == 0, result.output
    assert any("Signed in to gdrive as alice@example.org" in line for line in captured)


def test_a_missing_client_file_says_how_to_get_one(drive, tmp_path):
    settings = {"gdrive.base_url": drive.url, "gdrive.client_secrets": str(tmp_path / "nope.json")}
    with pytest.raises(AuthError, match="Desktop app"):
        DriveProvider.login(options(settings), lambda line: None)


def test_admin_login_checks_the_delegation(drive, tmp_path):
    allowed = admin_settings(drive, tmp_path, "alice@example.org")
    assert (
        DriveProvider.login(options(allowed, as_user="bob@example.org"), lambda line: None)
        == "bob@example.org"
    )
    refused = admin_settings(drive, tmp_path, "alice@example.org", scopes=())
    with pytest.raises(AuthError, match="delegation"):
        DriveProvider.login(options(refused, as_user="bob@example.org"), lambda line: None)
