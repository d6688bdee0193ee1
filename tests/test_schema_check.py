"""The breaking-change check (`relhealth schema-check`, README "Schema"): this code's schema
against the released baseline `schema.released.graphql`, with graphql-core's
`find_breaking_changes` and `find_dangerous_changes`. A break fails unless
`schema-breaks.toml` announces it with an entry of the CHANGELOG.md section it names;
additions and dangerous changes pass. The first test is the CI gate of this repository."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from gql.schema import build_schema
from gql.schema_check import SchemaCheckError, changelog_sections, check, parse_announcements, render
from gql.sdl import print_sdl

ROOT = Path(__file__).resolve().parents[1]

BASELINE = """
enum Period { DAY WEEK }
type Release { version: String! health(period: Period = DAY): Int sessions: Int }
type Query { release(version: String!): Release hasHealthData: Boolean }
"""
# Query.hasHealthData removed; Release.sessions changed type; Release.adoption added.
CURRENT = """
enum Period { DAY WEEK }
type Release { version: String! health(period: Period = DAY): Int sessions: String adoption: Float }
type Query { release(version: String!): Release }
"""
REMOVED = "FIELD_REMOVED: Field Query.hasHealthData was removed."
CHANGED = "FIELD_CHANGED_KIND: Field Release.sessions changed type from Int to String."
CHANGELOG = """# Changelog

## [Unreleased]

### Removed
- `Query.hasHealthData`: ask `Project.hasHealthData` instead
  (it answers per project).
- `Release.sessions` is a string.

## [0.1.0]

### Added
- `Query.hasHealthData`.
"""


def _announce(
    changes: list[str],
    entry: str = "`Query.hasHealthData`: ask `Project.hasHealthData` instead (it answers per project).",
    section: str = "Unreleased",
) -> str:
    listed = "".join(f'  "{c}",\n' for c in changes)
    return f'[[announcement]]\nchangelog = "{section}"\nentry = "{entry}"\nchanges = [\n{listed}]\n'


def test_this_repository_has_no_unannounced_break():
    """CI: the code's schema against the release, with this repository's announcements."""
    report = check(
        (ROOT / "schema.released.graphql").read_text(),
        print_sdl(build_schema()),
        (ROOT / "schema-breaks.toml").read_text(),
        (ROOT / "CHANGELOG.md").read_text(),
    )
    assert report.ok, render(report, "schema.released.graphql", "schema-breaks.toml")


def test_removing_a_released_field_of_this_schema_is_caught():
    released = (ROOT / "schema.released.graphql").read_text()
    field = '  """\n  The caller\'s query-cost budget after this operation; null outside /graphql.\n  """\n  rateLimit: RateLimit\n'
    assert field in released
    report = check(
        released, released.replace(field, ""), (ROOT / "schema-breaks.toml").read_text(), CHANGELOG
    )
    assert report.unannounced == ["FIELD_REMOVED: Field Query.rateLimit was removed."]


def test_an_unannounced_removed_field_fails_and_is_listed():
    report = check(BASELINE, CURRENT, "", CHANGELOG)
    assert report.breaking == [CHANGED, REMOVED]  # sorted
    assert report.unannounced == [CHANGED, REMOVED]
    assert not report.ok
    text = render(report, "base.graphql", "breaks.toml")
    assert f"Breaking changes not announced in breaks.toml:\n  {CHANGED}\n  {REMOVED}\n" in text
    # the message holds an announcement to paste, which parses
    stub = text[text.index("[[announcement]]") : text.index("]\n", text.index("changes = [")) + 2]
    assert parse_announcements(stub)[0].changes == (CHANGED, REMOVED)
    assert text.endswith("FAILED")


def test_announced_breaks_pass():
    announcements = (
        _announce([REMOVED]) + "\n" + _announce([CHANGED], entry="`Release.sessions` is a string.")
    )
    report = check(BASELINE, CURRENT, announcements, CHANGELOG)
    assert report.unannounced == [] and report.stale == [] and report.changelog_problems == []
    assert report.ok
    assert render(report, "b", "a").endswith("OK")


def test_one_announced_break_does_not_cover_another():
    report = check(BASELINE, CURRENT, _announce([REMOVED]), CHANGELOG)
    assert report.unannounced == [CHANGED]
    assert not report.ok


def test_additions_pass_without_announcement():
    added = BASELINE.replace("sessions: Int }", "sessions: Int adoption: Float }").replace(
        "enum Period { DAY WEEK }", "enum Period { DAY WEEK }\ntype Environment { name: String! }"
    )
    added = added.replace(
        "hasHealthData: Boolean }", "hasHealthData: Boolean environments: [Environment!]! }"
    )
    report = check(BASELINE, added, "", CHANGELOG)
    assert (report.breaking, report.dangerous, report.ok) == ([], [], True)


def test_dangerous_changes_are_reported_and_pass():
    dangerous = BASELINE.replace("enum Period { DAY WEEK }", "enum Period { DAY WEEK MONTH }").replace(
        "health(period: Period = DAY)", "health(period: Period = WEEK)"
    )
    report = check(BASELINE, dangerous, "", CHANGELOG)
    assert report.ok and report.breaking == []
    assert report.dangerous == [
        "ARG_DEFAULT_VALUE_CHANGE: Release.health(period:) has changed defaultValue from DAY to WEEK.",
        "VALUE_ADDED_TO_ENUM: Enum value Period.MONTH was added.",
    ]
    assert "Dangerous (allowed; clients may need care):" in render(report, "b", "a")


def test_an_announcement_without_its_changelog_entry_fails():
    missing_text = _announce([REMOVED, CHANGED], entry="Removed Query.hasHealthData")
    report = check(BASELINE, CURRENT, missing_text, CHANGELOG)
    assert report.changelog_problems == [
        "CHANGELOG.md [Unreleased] does not contain the entry 'Removed Query.hasHealthData'"
    ]
    assert not report.ok
    # the entry must be in the section the announcement names, not in another one
    wrong_section = _announce([REMOVED, CHANGED], entry="`Query.hasHealthData`.", section="Unreleased")
    assert not check(BASELINE, CURRENT, wrong_section, CHANGELOG).ok
    assert check(
        BASELINE,
        CURRENT,
        _announce([REMOVED, CHANGED], entry="`Query.hasHealthData`.", section="0.1.0"),
        CHANGELOG,
    ).ok
    no_section = check(BASELINE, CURRENT, _announce([REMOVED, CHANGED], section="2.0.0"), CHANGELOG)
    assert no_section.changelog_problems[0].startswith("CHANGELOG.md has no section [2.0.0]")


def test_an_announced_break_the_schema_does_not_make_fails():
    report = check(BASELINE, BASELINE, _announce([REMOVED]), CHANGELOG)
    assert report.breaking == [] and report.stale == [REMOVED]
    assert not report.ok
    assert f"Announced in a but not made (remove them):\n  {REMOVED}" in render(report, "b", "a")


@pytest.mark.parametrize(
    ("announcements", "says"),
    [
        ("[[announcement]\n", "not valid TOML"),
        ("announcements = []\n", "unknown keys: announcements"),
        ('announcement = "x"\n', "array of tables"),
        ('[[announcement]]\nchangelog = "Unreleased"\nchanges = ["x"]\n', "exactly the keys"),
        ('[[announcement]]\nchangelog = "Unreleased"\nentry = " "\nchanges = ["x"]\n', "non-empty strings"),
        ('[[announcement]]\nchangelog = "Unreleased"\nentry = "e"\nchanges = []\n', "non-empty list"),
    ],
)
def test_a_malformed_announcements_file_is_a_clear_error(announcements, says):
    with pytest.raises(SchemaCheckError, match=says):
        check(BASELINE, CURRENT, announcements, CHANGELOG)


def test_an_invalid_schema_is_a_clear_error():
    with pytest.raises(
        SchemaCheckError, match="current schema is not a valid GraphQL schema: Unknown directive '@key'"
    ):
        check(BASELINE, 'type Query @key(fields: "id") { id: ID }', "", CHANGELOG)
    with pytest.raises(SchemaCheckError, match="baseline is not a valid GraphQL schema: Syntax Error"):
        check("type Query {", CURRENT, "", CHANGELOG)


def test_changelog_sections():
    sections = changelog_sections(CHANGELOG)
    assert list(sections) == ["Unreleased", "0.1.0"]
    assert "Project.hasHealthData" in sections["Unreleased"] and "Project" not in sections["0.1.0"]


def _cli(tmp_path: Path, current: str, announcements: str) -> subprocess.CompletedProcess[str]:
    files = {
        "base.graphql": BASELINE,
        "current.graphql": current,
        "breaks.toml": announcements,
        "CHANGES.md": CHANGELOG,
    }
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    argv = ["schema-check", "--baseline", "base.graphql", "--schema", "current.graphql"]
    argv += ["--announcements", "breaks.toml", "--changelog", "CHANGES.md"]
    return subprocess.run(
        [sys.executable, "-m", "cli.main", *argv],
        cwd=tmp_path,
        env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_cli_exits_1_on_an_unannounced_break_and_0_once_announced(tmp_path):
    failed = _cli(tmp_path, CURRENT, "")
    assert failed.returncode == 1, failed.stderr
    assert f"  {CHANGED}\n  {REMOVED}\n" in failed.stdout
    passed = _cli(tmp_path, CURRENT, _announce([REMOVED, CHANGED]))
    assert passed.returncode == 0, passed.stdout + passed.stderr
    assert passed.stdout.startswith("GraphQL schema against base.graphql: 2 breaking, 0 dangerous change(s).")
    unreadable = _cli(tmp_path, "type Query {", "")
    assert unreadable.returncode == 2
    assert "schema-check: the current schema is not a valid GraphQL schema" in unreadable.stdout


def test_cli_checks_this_codes_schema_by_default():
    proc = subprocess.run(
        [sys.executable, "-m", "cli.main", "schema-check"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    # Exactly the breaks schema-breaks.toml announces (the v1 -> v2 break), and they pass.
    announced = parse_announcements((ROOT / "schema-breaks.toml").read_text())
    n = sum(len(a.changes) for a in announced)
    assert n > 0
    assert proc.stdout.startswith(f"GraphQL schema against schema.released.graphql: {n} breaking")
    assert proc.stdout.rstrip().endswith("OK")


def test_a_changelog_without_sections_has_none():
    assert changelog_sections("# Changelog\n\nNothing yet.\n") == {}


def test_v1_still_serves_everything_released():
    """/graphql/v1 is frozen: against the last release it breaks nothing (it only gained
    descriptions), so v1 clients keep working until the sunset."""
    from gql.v1.schema import build_v1_schema

    report = check(
        (ROOT / "schema.released.graphql").read_text(), print_sdl(build_v1_schema()), "", "# Changelog\n"
    )
    assert report.breaking == [] and report.ok, render(report, "schema.released.graphql", "(none)")
