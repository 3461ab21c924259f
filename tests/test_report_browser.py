"""The HTML report as the sustainability lead opens it: in a real browser, checked for accessibility."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from cleanup.cli import main
from tests.browser_support import axe_violations, chromium, dom_after_load, print_to_pdf, screenshot
from tests.test_tally import GB, Act, clean_up_day, seed_inventory, write_run

pytestmark = pytest.mark.browser

SCRIPT_NAME = "<script>document.title='pwned'</script>.txt"


@pytest.fixture(scope="module")
def pages(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """An English detailed report and a French aggregated one of the same clean-up day."""
    chromium()
    tmp = tmp_path_factory.mktemp("browser")
    acts = [
        *clean_up_day(),
        Act(
            "gdrive",
            "ana@org.example",
            SCRIPT_NAME,
            "delete",
            3 * GB,
            outcome={"freed_bytes": 3 * GB},
        ),
    ]
    inv = seed_inventory(tmp / "inv.sqlite", acts)
    write_run(inv, acts)
    out = {}
    for name, args in (("en", ["--detailed"]), ("fr", ["--lang", "fr"])):
        path = tmp / f"report-{name}.html"
        result = CliRunner().invoke(main, ["--db", str(inv.path), "report", "-o", str(path), *args])
        assert result.exit_code == 0, result.output
        out[name] = path
    return out


def test_report_renders_and_a_screenshot_is_taken(pages: dict[str, Path], tmp_path: Path) -> None:
    png = screenshot(pages["en"], tmp_path / "report.png")
    data = png.read_bytes()
    assert (
        data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 20_000
    )  # a page with charts, not a blank one
    dom = dom_after_load(pages["en"])
    assert "Estimated storage footprint no longer attributed to this data" in dom
    assert dom.count("<svg") == 2


def test_a_file_named_like_a_script_stays_text_in_the_browser(pages: dict[str, Path]) -> None:
    dom = dom_after_load(pages["en"])
    assert "<title>Storage clean-up report</title>" in dom  # the script did not run
    assert "<script" not in dom
    assert "&lt;script&gt;document.title='pwned'&lt;/script&gt;.txt" in dom


@pytest.mark.parametrize("lang", ["en", "fr"])
def test_axe_finds_no_serious_or_critical_accessibility_violation(
    pages: dict[str, Path], tmp_path: Path, lang: str
) -> None:
    violations = axe_violations(pages[lang].read_text(encoding="utf-8"), tmp_path)
    bad = [
        (v["id"], v["impact"], v["help"], [n["target"] for n in v["nodes"]][:3])
        for v in violations
        if v["impact"] in ("serious", "critical")
    ]
    assert bad == []


def test_the_report_prints_on_several_a4_pages(pages: dict[str, Path], tmp_path: Path) -> None:
    pdf = print_to_pdf(pages["en"], tmp_path / "report.pdf")
    assert pdf.startswith(b"%PDF")
    pages_printed = pdf.count(b"/Type /Page") - pdf.count(b"/Type /Pages")
    assert pages_printed >= 3
    # A4 (595 × 842 points), from the page's @page rule.
    assert re.search(rb"/MediaBox \[0 0 59[45][.\d]* 84[12][.\d]*\]", pdf)
