"""`cleanup policy`: list the packs, validate a file, print the schema, explain a file's fate."""

from __future__ import annotations

import json
import os
from pathlib import Path

import jsonschema
import pytest
from click.testing import CliRunner

from cleanup.cli import main
from tests.tree import write


def run(db: Path, *args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, ["--db", str(db), *args], catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


def test_packs_lists_every_shipped_pack_with_its_description(tmp_path: Path) -> None:
    code, out, _ = run(tmp_path / "inv.sqlite", "policy", "packs")
    assert code == 0
    lines = out.splitlines()
    assert [line.split()[0] for line in lines] == [
        "admin-archive",
        "admin-large",
        "admin-versions",
        "staff",
    ]
    assert "trash exact duplicates and junk files" in lines[3]


def test_validate_reports_every_error_with_its_line_and_exits_2(tmp_path: Path) -> None:
    path = tmp_path / "mine.toml"
    path.write_text(
        '[defaults]\nmin_age = "1w"\n[[policy]]\nname = "big"\nmin_sise = "1 GB"\naction = "trash"\n'
    )
    code, out, err = run(tmp_path / "inv.sqlite", "policy", "validate", str(path))
    assert code == 2
    assert (
        "error: line 5, policy 'big', key 'min_sise': unknown key 'min_sise' in the policy. Did you mean 'min_size'?"
        in err
    )
    assert "mine.toml: 1 error(s), 0 warning(s). Fix the errors and validate again." in err
    assert not (tmp_path / "inv.sqlite").exists(), "validating never creates an inventory"


def test_validate_accepts_a_good_file_and_warns_about_globs_that_match_nothing(
    tmp_path: Path,
) -> None:
    write(tmp_path / "tree/Documents/a.txt", b"a")
    db = tmp_path / "inv.sqlite"
    assert run(db, "scan", str(tmp_path / "tree"))[0] == 0
    path = tmp_path / "mine.toml"
    path.write_text(
        '[defaults]\nmin_age = "1w"\n[[policy]]\nname = "docs"\npath = "**/Dokuments/**"\naction = "trash"\n'
    )
    code, out, _ = run(db, "policy", "validate", str(path))
    assert code == 0
    assert (
        "warning: line 5, policy 'docs', key 'path': the glob '**/Dokuments/**' matches nothing"
        in out
    )
    assert out.rstrip().endswith("mine.toml: valid, 1 warning(s).")
    code, out, _ = run(db, "policy", "validate", "--no-inventory", str(path))
    assert (code, out) == (0, f"{path}: valid.\n")


def test_validate_takes_a_pack_name(tmp_path: Path) -> None:
    code, out, _ = run(tmp_path / "inv.sqlite", "policy", "validate", "staff")
    assert (code, out) == (0, "staff: valid.\n")


def test_schema_is_json_schema_that_accepts_the_documented_example(tmp_path: Path) -> None:
    import tomllib

    code, out, _ = run(tmp_path / "inv.sqlite", "policy", "schema")
    assert code == 0
    schema = json.loads(out)
    jsonschema.Draft202012Validator.check_schema(schema)
    docs = (Path(__file__).parent.parent / "docs/policies.md").read_text()
    example = docs.split("A complete example:\n\n```toml\n", 1)[1].split("```", 1)[0]
    jsonschema.validate(tomllib.loads(example), schema)


def test_explain_says_why_a_file_would_be_trashed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    home = Path(os.environ["HOME"])
    data = os.urandom(10_000)
    write(home / "Documents/annual.pdf", data, age_days=300)
    copy = write(home / "Downloads/annual.pdf", data, age_days=200)
    db = tmp_path / "inv.sqlite"
    assert run(db, "scan", str(home))[0] == 0
    monkeypatch.chdir(home / "Downloads")
    code, out, _ = run(db, "policy", "explain", "staff", "annual.pdf")
    assert code == 0
    lines = out.splitlines()
    assert lines[0] == str(copy)
    assert lines[1] == "  not protected"
    assert "  policy 'duplicates' (duplicates, then trash): matches" in lines
    assert (
        f"    - one of 2 copies; the copy kept is {home / 'Documents/annual.pdf'} "
        "(under ~/Documents/** or ~/Desktop/**)"
    ) in lines
    assert lines[-1] == (
        f"  decision: trash (policy 'duplicates'): duplicate of {home / 'Documents/annual.pdf'} "
        "(kept: under ~/Documents/** or ~/Desktop/**)"
    )


def test_explain_of_a_path_not_scanned_is_a_clear_error(tmp_path: Path) -> None:
    code, _, err = run(
        tmp_path / "inv.sqlite", "policy", "explain", "staff", str(tmp_path / "nowhere.txt")
    )
    assert code == 2
    assert "is not in the inventory. Scan the folder or drive that holds it first." in err


def test_a_broken_policy_is_a_clear_error_for_explain(tmp_path: Path) -> None:
    path = tmp_path / "broken.toml"
    path.write_text("[[policy]\n")
    code, _, err = run(tmp_path / "inv.sqlite", "policy", "explain", str(path), "x")
    assert code == 2
    assert "has 1 problem(s):" in err and "not valid TOML" in err and "line 1" in err


def test_the_staff_pack_becomes_a_plan_that_keeps_every_content(tmp_path: Path) -> None:
    home = Path(os.environ["HOME"])
    data = os.urandom(10_000)
    write(home / "Documents/annual.pdf", data, age_days=300)
    write(home / "Downloads/annual.pdf", data, age_days=200)
    write(home / "Downloads/~$draft.docx", b"lock", age_days=30)
    db = tmp_path / "inv.sqlite"
    assert run(db, "scan", str(home))[0] == 0
    code, out, err = run(db, "plan", "--policy", "staff", "-o", str(tmp_path / "plan.json"))
    assert code == 0, err
    body = json.loads((tmp_path / "plan.json").read_text())["plan"]
    got = sorted((e["path"], e["action"], e["policy"]) for e in body["entries"])
    assert got == [
        (str(home / "Downloads/annual.pdf"), "trash", "duplicates"),
        (str(home / "Downloads/~$draft.docx"), "trash", "junk"),
    ]
    assert (home / "Documents/annual.pdf").exists() and (home / "Downloads/annual.pdf").exists()
