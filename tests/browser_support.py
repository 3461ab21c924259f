"""Headless Chromium for the HTML report tests: screenshots, the DOM after load, and axe-core results."""

from __future__ import annotations

import base64
import json
import os
import re
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[1]
AXE = ROOT / ".ci" / "node_modules" / "axe-core" / "axe.min.js"
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
    "--hide-scrollbars",
)


SETUP = ROOT / ".ci" / "setup-browser"
_setup_tried: list[bool] = []


def _find() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


def _set_up() -> None:
    """Install chromium and axe-core once per test run, where this machine lets us (root or sudo)."""
    if _setup_tried:
        return
    _setup_tried.append(True)
    can_install = os.geteuid() == 0 or shutil.which("sudo") is not None
    if can_install and shutil.which("apt-get") and SETUP.exists():
        subprocess.run(["bash", str(SETUP)], capture_output=True, timeout=900, check=False)


def chromium() -> str:
    """The chromium binary (installed by the test set-up when missing), or a skip saying how."""
    if _find() is None or not AXE.exists():
        _set_up()
    found = _find()
    if not found:
        pytest.skip("chromium is not installed; run .ci/setup-browser (apt-get install chromium)")
    return found


def run_chromium(*args: str, timeout: float = 90) -> subprocess.CompletedProcess[str]:
    """One headless run with a throwaway profile."""
    with tempfile.TemporaryDirectory(prefix="chromium-profile-") as profile:
        return subprocess.run(
            [chromium(), *FLAGS, f"--user-data-dir={profile}", *args],
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )


def screenshot(page: Path, png: Path, width: int = 1200, height: int = 2400) -> Path:
    result = run_chromium(f"--window-size={width},{height}", f"--screenshot={png}", page.as_uri())
    assert png.exists(), result.stderr[-2000:]
    return png


def print_to_pdf(page: Path, pdf: Path) -> bytes:
    """The page as the browser prints it."""
    result = run_chromium("--no-pdf-header-footer", f"--print-to-pdf={pdf}", page.as_uri())
    assert pdf.exists(), result.stderr[-2000:]
    return pdf.read_bytes()


def dom_after_load(page: Path, budget_ms: int = 5000) -> str:
    """The page's DOM once loaded and its scripts (if any) have run."""
    result = run_chromium(f"--virtual-time-budget={budget_ms}", "--dump-dom", page.as_uri())
    assert result.returncode == 0 and "<html" in result.stdout, result.stderr[-2000:]
    return result.stdout


def axe_violations(html: str, workdir: Path) -> list[dict[str, Any]]:
    """Run axe-core inside a copy of the page and return its violations."""
    if not AXE.exists():
        _set_up()
    if not AXE.exists():
        pytest.fail(f"axe-core is missing at {AXE}; run .ci/setup-browser")
    # The report forbids every script by its Content-Security-Policy; the checker's copy lifts it.
    page = re.sub(r'<meta http-equiv="Content-Security-Policy"[^>]*>', "", html)
    runner = (
        "<script>" + AXE.read_text(encoding="utf-8") + "</script>"
        "<script>axe.run(document, {resultTypes: ['violations']}).then(function (r) {"
        "  var out = document.createElement('pre'); out.id = 'axe-results';"
        "  out.textContent = btoa(unescape(encodeURIComponent(JSON.stringify(r.violations))));"
        "  document.documentElement.appendChild(out);"
        "});</script>"
    )
    page = page.replace("</body>", runner + "</body>")
    path = workdir / "axe-page.html"
    path.write_text(page, encoding="utf-8")
    dom = dom_after_load(path, budget_ms=30000)
    match = re.search(r'<pre id="axe-results">([A-Za-z0-9+/=]+)</pre>', dom)
    assert match, "axe-core did not report; the page may have failed to load"
    return list(json.loads(base64.b64decode(match.group(1)).decode("utf-8")))
