"""The release filters `release.version`, `release.package`, `release.build` and
`release.stage` (`release-health.md` 8.7, 6.3), and the `latest` release of `release:`.

Each resolves against the releases known to the server and produces
`Cond("release", (matching releases...))`; an empty tuple matches nothing (and a negated
empty tuple matches everything).
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass
from typing import Literal

from storage.release_parser import BIGINT_MAX, Version, parse_release, semver_info
from storage.types import Cond

from . import errors
from .errors import SessionsQueryError
from .filter_parser import Operator, SearchTerm

#: Upstream prefixes a bare version with this package before parsing it.
FAKE_PACKAGE = "__sentry_fake__"
WILDCARDS = frozenset({"X", "*"})
STAGES = frozenset({"adopted", "replaced", "low_adoption"})

Comparison = Literal["=", "<", "<=", ">", ">="]
_COMPARISONS: tuple[Comparison, ...] = ("=", "<", "<=", ">", ">=")

#: `release.stage` resolution: environment -> {release: stage}.
StageLookup = Callable[[str], Mapping[str, str]]

#: The value of `release:` that names each project's newest release (upstream's
#: `LATEST`); no release can be called that (`is_valid_version` refuses it).
LATEST = "latest"


def compare(left: object, operator: str, right: object) -> bool:
    """`left <operator> right` for `=`, `!=`, `<`, `<=`, `>`, `>=`."""
    if operator == "=":
        return bool(left == right)
    if operator == "!=":
        return bool(left != right)
    lt = bool(left < right)  # type: ignore[operator]
    gt = bool(right < left)  # type: ignore[operator]
    if operator == "<":
        return lt
    if operator == "<=":
        return not gt
    if operator == ">":
        return gt
    if operator == ">=":
        return not lt
    raise ValueError(operator)


def _split_negation(operator: Operator) -> tuple[Comparison, bool]:
    """Upstream `handle_operator_negation` + `OPERATOR_TO_DJANGO`: `!=` is a negated `=`;
    `IN` / `NOT IN` are not supported."""
    negated = operator == "!="
    effective = "=" if negated else operator
    for comparison in _COMPARISONS:
        if comparison == effective:
            return comparison, negated
    raise SessionsQueryError(errors.SEMVER_IN_NOT_ALLOWED)


@dataclass(frozen=True, slots=True)
class SemverFilter:
    """A parsed `release.version` value (upstream `parse_semver`).

    With `prefix`, `parts` are leading integer components that must be equal (a wildcard
    pattern, where the operator is ignored); otherwise `parts` is the full 6-tuple
    `(major, minor, patch, revision, 1 if no prerelease else 0, prerelease)` compared with
    `operator`.
    """

    operator: Comparison
    parts: tuple[int | str, ...]
    prefix: bool
    package: str | None
    negated: bool

    def matches(self, release: str) -> bool | None:
        """Whether a known release matches the positive filter; None when the release has
        no parsed version (it never takes part)."""
        info = semver_info(release)
        if info is None:
            return None
        if self.package is not None and info.package != self.package:
            return False
        key = info.version.semver_key()
        if self.prefix:
            return key[: len(self.parts)] == self.parts
        return compare(key, self.operator, self.parts)


def parse_semver_filter(value: str, operator: Operator) -> SemverFilter:
    comparison, negated = _split_negation(operator)
    qualified = value if "@" in value else f"{FAKE_PACKAGE}@{value}"
    parsed = parse_release(qualified)
    version: Version | None = parsed.version if parsed is not None else None
    if parsed is not None and version is not None:
        package = parsed.package if parsed.package and parsed.package != FAKE_PACKAGE else None
        return SemverFilter(comparison, version.semver_key(), False, package, negated)
    package, raw_version = qualified.split("@", 1)
    parts: list[int | str] = []
    if raw_version:
        for part in raw_version.split(".", 3):
            if part in WILDCARDS:
                break
            try:
                parts.append(int(part))
            except ValueError:
                raise SessionsQueryError(errors.INVALID_SEMVER) from None
    return SemverFilter(
        "=",
        tuple(parts),
        True,
        package if package and package != FAKE_PACKAGE else None,
        negated,
    )


def _ordered(releases: Iterable[str]) -> list[str]:
    return sorted(set(releases))


def release_version_filter(term: SearchTerm, releases: Collection[str]) -> Cond:
    """`release.version`: only releases with a parsed version take part, also when
    negated (the negation is the complement among them)."""
    if term.is_list:
        raise SessionsQueryError(errors.SEMVER_IN_NOT_ALLOWED)
    assert isinstance(term.value, str)
    semver = parse_semver_filter(term.value, term.operator)
    matching = []
    for release in _ordered(releases):
        matched = semver.matches(release)
        if matched is None:
            continue
        if matched != semver.negated:
            matching.append(release)
    return Cond("release", tuple(matching))


def release_package_filter(term: SearchTerm, releases: Collection[str]) -> Cond:
    """`release.package`: releases (with a parsed version) whose package is one of the
    values; `!` / `NOT IN` gives NOT IN."""
    wanted = set(term.values)
    operator = term.operator
    if operator in ("=", "IN", "!=", "NOT IN"):
        matching = tuple(
            release
            for release in _ordered(releases)
            if (info := semver_info(release)) is not None and info.package in wanted
        )
        return Cond("release", matching, negate=operator in ("!=", "NOT IN"))
    assert isinstance(term.value, str)
    value = term.value
    return Cond(
        "release",
        tuple(
            release
            for release in _ordered(releases)
            if (info := semver_info(release)) is not None
            and info.package is not None
            and compare(info.package, operator, value)
        ),
    )


def _build_matches(release: str, comparison: Comparison, build: str) -> bool:
    info = semver_info(release)
    if build.isdecimal() and int(build) <= BIGINT_MAX:
        number = info.build_number if info is not None else None
        return number is not None and compare(number, comparison, int(build))
    code = info.build_code if info is not None else None
    if code is None:
        return False
    if not build or build.endswith("*"):
        return code.startswith(build[:-1])
    return code == build


def release_build_filter(term: SearchTerm, releases: Collection[str]) -> Cond:
    """`release.build`: a numeric value compares the build number with the operator;
    anything else compares the build code exactly, a trailing `*` meaning prefix. `!`
    negates: the complement among all known releases (upstream's `exclude`)."""
    if term.is_list:
        raise SessionsQueryError(errors.SEMVER_IN_NOT_ALLOWED)
    assert isinstance(term.value, str)
    comparison, negated = _split_negation(term.operator)
    build = term.value
    return Cond(
        "release",
        tuple(
            release for release in _ordered(releases) if _build_matches(release, comparison, build) != negated
        ),
    )


def release_stage_filter(
    term: SearchTerm,
    environments: Collection[str],
    stages: StageLookup | None,
) -> Cond:
    """`release.stage` (6.3): needs exactly one environment in the `environment`
    parameter; values `adopted`, `replaced`, `low_adoption`; `!` / `NOT IN` gives NOT IN.
    `stages(environment)` maps each known release to its stage at `now`."""
    if len(environments) != 1:
        raise SessionsQueryError(errors.STAGE_NEEDS_ONE_ENVIRONMENT)
    values = term.values
    if any(value not in STAGES for value in values):
        raise SessionsQueryError(errors.UNSUPPORTED_STAGE)
    (environment,) = tuple(environments)
    mapping = stages(environment) if stages is not None else {}
    operator = term.operator
    negate = operator in ("!=", "NOT IN")
    if operator in ("=", "IN") or negate:
        matching = sorted(release for release, stage in mapping.items() if stage in values)
    else:
        # upstream applies no stage condition for other operators: every staged release
        matching = sorted(mapping)
    return Cond("release", tuple(matching), negate=negate)


def latest_releases(first_seen: Mapping[int, Mapping[str, int]], now: float) -> set[str]:
    """`release:latest`: the newest release of each project as of `now`.

    `first_seen` maps project -> release -> unix seconds of its first stored session start
    (in the environments the query is about). Newest is the latest first-seen time not
    after `now` (a release first seen later did not exist yet); releases first seen in the
    same second are ordered by version (semver order, releases with a version above those
    without), then by name, so each project has exactly one latest release.
    """
    latest: set[str] = set()
    for releases in first_seen.values():
        candidates = [(seen, release) for release, seen in releases.items() if seen <= now]
        if candidates:
            latest.add(max(candidates, key=_newest_key)[1])
    return latest


def _newest_key(candidate: tuple[int, str]) -> tuple[int, int, tuple[int | str, ...], str]:
    seen, release = candidate
    info = semver_info(release)
    if info is None:
        return (seen, 0, (), release)
    return (seen, 1, info.version.semver_key(), release)
