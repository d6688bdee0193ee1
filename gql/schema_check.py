"""The breaking-change check of the GraphQL schema (`relhealth schema-check`, README
"Schema").

The baseline is the schema of the last release (`schema.released.graphql`): what clients
were given. A change graphql-core's `find_breaking_changes` reports against it fails the
check unless it is announced in `schema-breaks.toml`, where every announcement names the
CHANGELOG.md entry that tells clients about it; dangerous changes (`find_dangerous_changes`,
e.g. a new enum value) are reported and never fail. An announcement that matches no
current change fails too, so the file always says exactly what the next release breaks.
At a release the baseline becomes the released `schema.graphql` and the file is emptied
(the CHANGELOG keeps the history).
"""

from __future__ import annotations

import json
import re
import tomllib
from collections.abc import Sequence
from dataclasses import dataclass, field

from graphql import GraphQLError, GraphQLSchema, build_schema, find_breaking_changes, find_dangerous_changes


class SchemaCheckError(ValueError):
    """An input the check cannot read: invalid SDL or a malformed announcements file."""


@dataclass(frozen=True, slots=True)
class Announcement:
    """Breaking changes a release makes on purpose, and where the CHANGELOG says so."""

    changelog: str  # the CHANGELOG.md section, as in `## [Unreleased]`
    entry: str  # text of the entry announcing the changes, found in that section
    changes: tuple[str, ...]  # "<CHANGE_TYPE>: <description>", as the check prints them


@dataclass(frozen=True, slots=True)
class SchemaReport:
    breaking: list[str]
    dangerous: list[str]
    unannounced: list[str]
    stale: list[str] = field(default_factory=list)
    changelog_problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not (self.unannounced or self.stale or self.changelog_problems)


def check(baseline_sdl: str, current_sdl: str, announcements_toml: str, changelog_md: str) -> SchemaReport:
    baseline, current = _load(baseline_sdl, "baseline"), _load(current_sdl, "current schema")
    breaking = sorted(f"{c.type.name}: {c.description}" for c in find_breaking_changes(baseline, current))
    dangerous = sorted(f"{c.type.name}: {c.description}" for c in find_dangerous_changes(baseline, current))
    announcements = parse_announcements(announcements_toml)
    announced = {change for a in announcements for change in a.changes}
    return SchemaReport(
        breaking=breaking,
        dangerous=dangerous,
        unannounced=[c for c in breaking if c not in announced],
        stale=sorted(announced - set(breaking)),
        changelog_problems=changelog_problems(announcements, changelog_md),
    )


def _load(sdl: str, what: str) -> GraphQLSchema:
    try:
        return build_schema(sdl)  # validated: a document strict tools refuse is refused here
    except GraphQLError as exc:  # a syntax error
        raise SchemaCheckError(f"the {what} is not a valid GraphQL schema: {exc.message}") from None
    except TypeError as exc:  # graphql-core's SDL validation errors, joined
        raise SchemaCheckError(f"the {what} is not a valid GraphQL schema: {exc}") from None


def parse_announcements(text: str) -> list[Announcement]:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise SchemaCheckError(f"the announcements file is not valid TOML: {exc}") from None
    unknown = set(data) - {"announcement"}
    if unknown:
        raise SchemaCheckError(f"the announcements file has unknown keys: {', '.join(sorted(unknown))}")
    entries = data.get("announcement", [])
    if not isinstance(entries, list):
        raise SchemaCheckError("`announcement` must be an array of tables ([[announcement]])")
    return [_announcement(i, entry) for i, entry in enumerate(entries, 1)]


def _announcement(number: int, entry: object) -> Announcement:
    where = f"announcement {number}"
    if not isinstance(entry, dict) or set(entry) != {"changelog", "entry", "changes"}:
        raise SchemaCheckError(f"{where} needs exactly the keys changelog, entry and changes")
    changelog, text, changes = entry["changelog"], entry["entry"], entry["changes"]
    if not (isinstance(changelog, str) and changelog and isinstance(text, str) and text.strip()):
        raise SchemaCheckError(f"{where}: changelog and entry are non-empty strings")
    if not (isinstance(changes, list) and changes and all(isinstance(c, str) for c in changes)):
        raise SchemaCheckError(f"{where}: changes is a non-empty list of strings")
    return Announcement(changelog, text, tuple(changes))


_SECTION = re.compile(r"^## \[(?P<name>[^\]]+)\]", re.MULTILINE)


def changelog_sections(changelog_md: str) -> dict[str, str]:
    """Each `## [name]` section of a Keep a Changelog file, by name."""
    heads = list(_SECTION.finditer(changelog_md))
    ends = [h.start() for h in heads[1:]] + [len(changelog_md)] if heads else []
    return {h["name"]: changelog_md[h.end() : end] for h, end in zip(heads, ends, strict=True)}


def changelog_problems(announcements: Sequence[Announcement], changelog_md: str) -> list[str]:
    """Announcements whose CHANGELOG entry is missing. Line breaks and indentation do not
    matter: an entry may wrap over several lines of the CHANGELOG."""
    sections = {name: _flat(body) for name, body in changelog_sections(changelog_md).items()}
    problems = []
    for a in announcements:
        if a.changelog not in sections:
            problems.append(f"CHANGELOG.md has no section [{a.changelog}] (announcement {a.entry!r})")
        elif _flat(a.entry) not in sections[a.changelog]:
            problems.append(f"CHANGELOG.md [{a.changelog}] does not contain the entry {a.entry!r}")
    return problems


def _flat(text: str) -> str:
    return " ".join(text.split())


def render(report: SchemaReport, baseline: str, announcements: str) -> str:
    lines = [
        f"GraphQL schema against {baseline}: {len(report.breaking)} breaking, "
        f"{len(report.dangerous)} dangerous change(s)."
    ]
    if report.dangerous:
        lines += ["Dangerous (allowed; clients may need care):", *(f"  {c}" for c in report.dangerous)]
    if report.unannounced:
        lines += [
            f"Breaking changes not announced in {announcements}:",
            *(f"  {c}" for c in report.unannounced),
        ]
        lines += [
            "Announce them there, with the CHANGELOG.md entry that tells clients:",
            "",
            "[[announcement]]",
            'changelog = "Unreleased"',
            'entry = "<text of the CHANGELOG.md entry>"',
            "changes = [",
        ]
        lines += [f"  {json.dumps(c)}," for c in report.unannounced] + ["]", ""]
    if report.stale:
        lines += [
            f"Announced in {announcements} but not made (remove them):",
            *(f"  {c}" for c in report.stale),
        ]
    lines += report.changelog_problems
    lines.append("OK" if report.ok else "FAILED")
    return "\n".join(lines)


__all__ = ["Announcement", "SchemaCheckError", "SchemaReport", "check", "parse_announcements", "render"]
