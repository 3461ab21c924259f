"""Someone writes a policy file by hand: every mistake is reported at once, with where it is.

Unknown keys get a "did you mean", impossible values say what would be right, and the JSON
Schema that editors use is generated from the same registries as the checks.
"""

from __future__ import annotations

import json
import tomllib
from pathlib import Path

import jsonschema
import pytest

import policies
from cleanup.errors import PolicyError
from policies.actions import actions
from policies.conditions import conditions
from policies.decisions import ACTIONS
from policies.keep_rules import keep_rules

ROOT = Path(__file__).parent.parent


def problems(tmp_path: Path, text: str) -> list[str]:
    path = tmp_path / "mine.toml"
    path.write_text(text, encoding="utf-8")
    return [str(i) for i in policies.validate(str(path))]


def test_every_problem_is_listed_with_policy_key_and_line(tmp_path: Path) -> None:
    text = """\
[defaults]
min_age = "7d"
max_bytes = "-3 GB"

[[policy]]
name = "big"
min_sise = "1 GB"
modified_before = "3 fortnights"
action = "shred"

[[policy]]
name = "junk"
applies_to = "jnuk"
action = "trash"
keep = ["oldest"]
"""
    assert problems(tmp_path, text) == [
        "error: line 3, [defaults], key 'max_bytes': A size cannot be negative: '-3 GB'.",
        "error: line 7, policy 'big', key 'min_sise': unknown key 'min_sise' in the policy. Did you mean 'min_size'?",
        "error: line 8, policy 'big', key 'modified_before': '3 fortnights' is not an age. "
        'Write e.g. "90d", "6w", "18m" (months) or "3y".',
        "error: line 9, policy 'big', key 'action': unknown action 'shred'. "
        "Known: archive, delete, flag, trash, trim_versions.",
        "error: line 13, policy 'junk', key 'applies_to': applies_to cannot be 'jnuk'. Did you mean 'junk'? "
        "Choose one of: files, duplicates, old_versions, trash, junk, empty_files, empty_folders, stale, oversized.",
        "error: line 15, policy 'junk', key 'keep': keep rules choose the copy that stays, so they only belong "
        'in a policy with applies_to = "duplicates".',
    ]


def test_load_raises_one_error_listing_every_problem(tmp_path: Path) -> None:
    path = tmp_path / "two.toml"
    path.write_text('[[policy]]\nname = "a"\nmin_size = -3\naction = "archive"\n')
    with pytest.raises(PolicyError) as caught:
        policies.load(str(path))
    message = str(caught.value)
    assert message.startswith(f"The policy {path} has 2 problem(s):")
    assert "A size cannot be negative: -3." in message
    assert (
        'archive needs a destination: write action = { type = "archive", to = "/mnt/archive" }'
        in message
    )
    assert caught.value.exit_code == 2


@pytest.mark.parametrize(
    "text, expected",
    [
        ("[[policy]\nname = 1", "not valid TOML"),
        ('name = "x"', "no [[policy]] entries"),
        ('[[policy]]\naction = "flag"', "every policy needs a name"),
        ('[[policy]]\nname = "a"', "every policy needs an action"),
        (
            '[[policy]]\nname = "a"\naction = "flag"\n[[policy]]\nname = "a"\naction = "flag"',
            "names must be unique",
        ),
        ('[[policy]]\nname = "a"\napplies_to = "duplicates"\naction = "trash"', "needs keep rules"),
        (
            '[[policy]]\nname = "a"\napplies_to = "duplicates"\naction = "trash"\nkeep = ["oldset"]',
            "Did you mean 'oldest'?",
        ),
        (
            '[[policy]]\nname = "a"\napplies_to = "duplicates"\naction = "trash"\nkeep = ["under"]',
            "needs a setting",
        ),
        (
            '[[policy]]\nname = "a"\napplies_to = "duplicates"\naction = "trash"\nkeep = [{ oldest = 1 }]',
            "takes no setting",
        ),
        (
            '[[policy]]\nname = "a"\napplies_to = "old_versions"\naction = "trash"',
            "use one of: flag, trim_versions",
        ),
        (
            '[[policy]]\nname = "a"\napplies_to = "trash"\naction = "archive"\n[defaults]\narchive_to = "/a"',
            "use one of: flag, delete",
        ),
        (
            '[[policy]]\nname = "a"\naction = { type = "trim_versions" }',
            "needs keep, newer_than or both",
        ),
        (
            '[[policy]]\nname = "a"\naction = { type = "archive", to = "relative/dir" }',
            "should be an absolute folder",
        ),
        (
            '[[policy]]\nname = "a"\naction = { type = "archive", dest = "/x" }',
            "has no setting 'dest'. Its settings: to.",
        ),
        ('[[policy]]\nname = "a"\naction = { type = "archive", too = "/x" }', "Did you mean 'to'?"),
        ('[[policy]]\nname = "a"\naction = "flag"\nkind = "movies"', "unknown kind 'movies'"),
        ('[[policy]]\nname = "a"\naction = "flag"\nprovider = "gdirve"', "Did you mean 'gdrive'?"),
        (
            '[[policy]]\nname = "a"\naction = "flag"\nshared_externally = "yes"',
            "should be true or false",
        ),
        ('[[policy]]\nname = "a"\naction = "flag"\nmax_size = true', "is not a size"),
        ('[[policy]]\nname = "a"\naction = "flag"\nunless = { pth = "x" }', "Did you mean 'path'?"),
        (
            '[[policy]]\nname = "a"\naction = "flag"\nunless = "x"',
            "unless should be a table of conditions",
        ),
        ('[[policy]]\nname = "a"\naction = "flag"\nlisted_as = "dupes"', "unknown finding 'dupes'"),
        (
            '[protect]\npath = ["x"]\n[[policy]]\nname = "a"\naction = "flag"',
            "Did you mean 'paths'?",
        ),
        ('[defaults]\nmax_percent = 150\n[[policy]]\nname = "a"\naction = "flag"', "at most 100"),
        ('[defaults]\nmax_items = 0\n[[policy]]\nname = "a"\naction = "flag"', "at least 1"),
        ('[defualts]\n[[policy]]\nname = "a"\naction = "flag"', "Did you mean 'defaults'?"),
    ],
)
def test_bad_input_is_a_clear_error(tmp_path: Path, text: str, expected: str) -> None:
    found = problems(tmp_path, text)
    assert any(p.startswith("error:") and expected in p for p in found), found


def test_a_removing_policy_without_min_age_is_a_warning_not_an_error(tmp_path: Path) -> None:
    path = tmp_path / "p.toml"
    path.write_text('[[policy]]\nname = "junk"\napplies_to = "junk"\naction = "trash"\n')
    assert [i.level for i in policies.validate(str(path))] == ["warning"]
    assert "no min_age" in str(policies.load(str(path)).warnings[0])


def test_an_unknown_source_names_the_shipped_packs(tmp_path: Path) -> None:
    with pytest.raises(
        PolicyError, match=r"Did you mean 'staff'\? Shipped packs: admin-archive, admin-large"
    ):
        policies.load("staf")


def test_globs_that_match_nothing_in_the_inventory_are_warnings(tmp_path: Path) -> None:
    from cleanup.inventory import Inventory
    from cleanup.providers import parse_address
    from cleanup.scan import scan
    from tests.tree import write

    write(tmp_path / "tree/Documents/a.txt", b"a")
    inventory = Inventory(tmp_path / "inv.sqlite")
    scan(inventory, [parse_address(str(tmp_path / "tree"))])
    path = tmp_path / "p.toml"
    path.write_text(
        '[protect]\npaths = ["**/Documents/**", "**/Contracts/**"]\n'
        '[[policy]]\nname = "x"\naction = "flag"\npath = "**/Dokuments/**"\n'
    )
    issues = policies.validate(str(path), inventory)
    assert [str(i) for i in issues] == [
        "warning: line 2, [protect], key 'paths': the glob '**/Contracts/**' matches nothing in the inventory; "
        "check its spelling, or scan the folder it names.",
        "warning: line 6, policy 'x', key 'path': the glob '**/Dokuments/**' matches nothing in the inventory; "
        "check its spelling, or scan the folder it names.",
    ]


def test_every_action_is_ranked_and_every_registry_entry_is_documented() -> None:
    docs = (ROOT / "docs/policies.md").read_text(encoding="utf-8")
    assert sorted(actions.names()) == sorted(ACTIONS)
    for registry in (conditions, actions, keep_rules):
        for name, cls in registry:
            assert f"`{name}`" in docs, (
                f"docs/policies.md does not document {registry.what} {name!r}"
            )
            assert cls.doc and cls.example
    for key in (
        "[protect]",
        "[defaults]",
        "min_age",
        "max_items",
        "max_bytes",
        "max_percent",
        "approvals",
        "second_approval_above",
        "second_approval_for_delete",
        "archive_to",
        "applies_to",
        "unless",
    ):
        assert key in docs, key


def test_the_json_schema_comes_from_the_registries_and_agrees_with_the_packs() -> None:
    schema = policies.schema()
    jsonschema.Draft202012Validator.check_schema(schema)
    rule = schema["properties"]["policy"]["items"]
    assert set(conditions.names()) <= set(rule["properties"])
    assert set(rule["properties"]["unless"]["oneOf"][0]["properties"]) == set(conditions.names())
    for name in policies.packs():
        from policies.shipped import path

        jsonschema.validate(tomllib.loads(path(name).read_text()), schema)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(
            {"policy": [{"name": "a", "action": "flag", "min_sise": "1 GB"}]}, schema
        )
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({"policy": [{"name": "a", "action": "shred"}]}, schema)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(
            {"policy": [{"name": "a", "action": "flag", "keep": [{"under": 3}]}]}, schema
        )


@pytest.mark.parametrize(
    "pattern, path, matches",
    [
        ("*.iso", "/home/u/Downloads/big.iso", True),
        ("*.iso", "/home/u/big.iso.part", False),
        ("/home/u/*", "/home/u/a/b.txt", False),
        ("/home/u/**", "/home/u/a/b.txt", True),
        ("/home/u/**", "/home/u", False),
        ("Projects/old/**", "/data/Projects/old/x/y.c", True),
        ("Projects/old/**", "/data/MyProjects/old/x.c", False),
        ("**/node_modules/**", "/a/node_modules/b/c.js", True),
        ("/a/[!x]*.txt", "/a/b.txt", True),
        ("/a/[!x]*.txt", "/a/x.txt", False),
        ("/a/?.txt", "/a/bb.txt", False),
        ("My Drive/Reports/", "/My Drive/Reports/q1.pdf", True),
    ],
)
def test_path_globs_read_the_way_people_write_them(pattern: str, path: str, matches: bool) -> None:
    from policies.globs import Globs

    assert Globs([pattern]).match(path) is matches


def test_problems_in_sub_tables_point_at_their_own_lines(tmp_path: Path) -> None:
    text = """\
[defaults]
min_age = "1d"

[[policy]]
name = "a"
[policy.action]
type = "archive"
to = "relative"

[[policy]]
name = "b"
action = "flag"
[policy.unless]
path = 3
"""
    found = problems(tmp_path, text)
    assert [p.split(":", 2)[1] for p in found] == [
        " line 6, policy 'a', key 'action'",
        " line 14, policy 'b', key 'unless.path'",
    ]


def test_an_archive_destination_that_cannot_be_created_is_a_warning(tmp_path: Path) -> None:
    from cleanup.inventory import Inventory

    (tmp_path / "a-file").write_text("not a folder")
    path = tmp_path / "p.toml"
    path.write_text(
        f'[defaults]\nmin_age = "1d"\n[[policy]]\nname = "a"\naction = {{ type = "archive", to = "{tmp_path}/a-file/archive" }}\n'
    )
    issues = policies.validate(str(path), Inventory(tmp_path / "inv.sqlite"))
    assert [(i.level, i.key, i.line) for i in issues] == [("warning", "action", 5)]
    assert "cannot be created or written here" in issues[0].message
    path.write_text(path.read_text().replace("a-file/archive", "archive"))
    assert policies.validate(str(path), Inventory(tmp_path / "inv.sqlite")) == []


def _toml(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, list):
        return "[" + ", ".join(_toml(v) for v in value) + "]"
    assert isinstance(value, dict)
    return "{ " + ", ".join(f"{k} = {_toml(v)}" for k, v in value.items()) + " }"


def test_any_value_under_any_key_is_an_issue_never_a_crash(tmp_path: Path) -> None:
    from hypothesis import given, settings
    from hypothesis import strategies as st

    words = st.sampled_from(
        [
            "trash",
            "archive",
            "flag",
            "oldest",
            "1 GB",
            "-3 GB",
            "3y",
            "3 fortnights",
            "*.iso",
            "",
            "gdrive",
            "junk",
            "trim_versions",
            "duplicates",
            "/mnt/a",
            "~/x/**",
            "[",
            "**",
        ]
    )
    scalars = st.one_of(
        words, st.integers(-5, 10**10), st.booleans(), st.floats(-1, 1e6, allow_nan=False)
    )
    values = st.recursive(
        scalars,
        lambda inner: st.one_of(
            st.lists(inner, max_size=3),
            st.dictionaries(
                st.sampled_from(
                    ["type", "to", "keep", "newer_than", "under", "provider", "path", "ext"]
                ),
                inner,
                max_size=2,
            ),
        ),
        max_leaves=4,
    )
    rule_keys = st.sampled_from(
        [
            "name",
            "applies_to",
            "action",
            "keep",
            "unless",
            "approvals",
            *conditions.names(),
            "min_sise",
        ]
    )
    default_keys = st.sampled_from(
        ["min_age", "max_items", "max_bytes", "max_percent", "approvals", "archive_to", "x"]
    )

    @settings(max_examples=200, deadline=None)
    @given(
        st.dictionaries(default_keys, values, max_size=3),
        st.lists(st.dictionaries(rule_keys, values, max_size=5), max_size=3),
        st.dictionaries(
            st.sampled_from(["name", "description", "protect", "defaults", "polcy"]),
            values,
            max_size=2,
        ),
    )
    def check(
        defaults: dict[str, object], rules: list[dict[str, object]], top: dict[str, object]
    ) -> None:
        lines = [*(f"{k} = {_toml(v)}" for k, v in top.items())]
        if "defaults" not in top:
            lines += ["[defaults]", *(f"{k} = {_toml(v)}" for k, v in defaults.items())]
        for rule in rules:
            lines += ["[[policy]]", *(f"{k} = {_toml(v)}" for k, v in rule.items())]
        path = tmp_path / "fuzz.toml"
        path.write_text("\n".join(lines) + "\n")
        issues = policies.validate(str(path))
        assert all(i.level in ("error", "warning") and i.message for i in issues)
        if not any(i.level == "error" for i in issues):
            policies.load(str(path))
        else:
            with pytest.raises(PolicyError):
                policies.load(str(path))

    check()


def test_a_new_condition_documents_and_validates_itself(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Registering one class is all it takes: schema, validation and suggestions follow."""
    from cleanup.inventory import StoredFile
    from policies import values
    from policies.conditions import Condition, Context

    class MinVersionBytes(Condition):
        name = "min_version_bytes"
        doc = "Older versions hold at least this much storage."
        example = 'min_version_bytes = "100 MB"'
        schema = values.SIZE_SCHEMA

        def __init__(self, value: object) -> None:
            super().__init__(value)
            self.bytes = values.size(value)

        def matches(self, record: StoredFile, ctx: Context) -> bool:
            return bool(record.version_bytes >= self.bytes)

        def describe(self) -> str:
            return f"old versions hold at least {self.bytes} bytes"

        def fact(self, record: StoredFile, ctx: Context) -> str:
            return f"old versions hold {record.version_bytes} bytes"

    monkeypatch.setitem(conditions._classes, "min_version_bytes", MinVersionBytes)
    rule = policies.schema()["properties"]["policy"]["items"]
    assert rule["properties"]["min_version_bytes"]["description"] == MinVersionBytes.doc
    assert (
        problems(
            tmp_path,
            '[[policy]]\nname = "v"\napplies_to = "old_versions"\nmin_version_bytes = "1 MB"\naction = "flag"\n',
        )
        == []
    )
    assert (
        "Did you mean 'min_version_bytes'?"
        in problems(tmp_path, '[[policy]]\nname = "v"\nmin_version_byte = 1\naction = "flag"\n')[0]
    )
    assert (
        "A size cannot be negative"
        in problems(tmp_path, '[[policy]]\nname = "v"\nmin_version_bytes = -1\naction = "flag"\n')[
            0
        ]
    )
