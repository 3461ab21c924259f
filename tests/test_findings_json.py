"""Scripts read `cleanup findings --format json`; it must match its documented schema."""

from __future__ import annotations

import csv
import io
import json
import os
import re
from pathlib import Path

import jsonschema
from click.testing import CliRunner

from cleanup.cli import main
from tests.tree import clean_day_tree

SCHEMA = json.loads((Path(__file__).parent.parent / "docs/findings.schema.json").read_text())


def test_findings_json_matches_the_documented_schema(tmp_path: Path) -> None:
    docs = clean_day_tree(tmp_path / "Documents")
    with open(os.path.join(os.fsencode(docs), b"r\xe9sum\xe9.pdf"), "wb") as f:
        f.write((docs / "Reports/annual-2023.pdf").read_bytes())
    db = str(tmp_path / "inv.sqlite")
    runner = CliRunner()
    assert runner.invoke(main, ["--db", db, "scan", str(docs)]).exit_code == 0
    result = runner.invoke(main, ["--db", db, "findings", "--format", "json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    jsonschema.validate(data, SCHEMA)
    files = {p for g in data["duplicates"] for p in g["files"]}
    assert str(docs / "r\\xe9sum\\xe9.pdf") in files
    assert data["totals"]["duplicates"]["storage_bytes"] == sum(
        g["reclaimable_bytes"] for g in data["duplicates"]
    )


def test_findings_csv_has_one_row_per_file(tmp_path: Path) -> None:
    docs = clean_day_tree(tmp_path / "Documents")
    db = str(tmp_path / "inv.sqlite")
    runner = CliRunner()
    runner.invoke(main, ["--db", db, "scan", str(docs)])
    result = runner.invoke(main, ["--db", db, "findings", "--format", "csv"])
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    dupes = [r for r in rows if r["finding"] == "duplicate"]
    assert len(dupes) == 13  # 3 copies of the report, 2 of each of 5 photos
    assert all(re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", r["modified"]) for r in dupes)
    assert {r["finding"] for r in rows} >= {
        "duplicate",
        "duplicate_folder",
        "stale",
        "junk",
        "empty_files",
    }
