"""A port of `getsentry/sentry-release-parser` (`src/parser.rs`) and of the semver columns
Sentry derives from it (`Release` model), used by the release filters (8.7), and the
version a release is grouped under (`groupBy=release.version`).

Pure functions of a release name, with no storage or request state: the store computes
`version_key` when it creates a series, the resolvers parse for their filters."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

_RELEASE_RE = re.compile(r"^(@?[^@]+)@(.+?)\Z", re.DOTALL)
_VERSION_RE = re.compile(
    r"""
    ^
        (?P<major>[0-9][0-9]*)
        (?:\.(?P<minor>[0-9][0-9]*))?
        (?:\.(?P<patch>[0-9][0-9]*))?
        (?:\.(?P<revision>[0-9][0-9]*))?
        (?:
            (?P<prerelease>
                (?:-|[a-z])
                (?:0|[1-9][0-9]*|[0-9]*[a-zA-Z-][0-9a-zA-Z-]*)?
                (?:\.(?:0|[1-9][0-9]*|[0-9]*[a-zA-Z-][0-9a-zA-Z-]*))*)
            )?
        (?:\+(?P<build_code>[0-9a-zA-Z-]+(?:\.[0-9a-zA-Z-]+)*))?
    \Z
    """,
    re.VERBOSE,
)
_HEX_RE = re.compile(r"^[a-fA-F0-9]+\Z")
_VALID_API_ATTRIBUTE_RE = re.compile(r"^[^/\r\n\t\x0c]*\Z")
_BUILD_HASH_LENGTHS = frozenset({12, 16, 20, 32, 40, 64})
_U64_MAX = 2**64 - 1
BIGINT_MAX = 2**63 - 1


def is_build_hash(value: str) -> bool:
    return len(value) in _BUILD_HASH_LENGTHS and _HEX_RE.match(value) is not None


def is_valid_release(release: str) -> bool:
    """`validate_release`: at most 200 bytes, not `.`/`..`/`latest`, no `/`, newline, tab or
    form feed."""
    if len(release.encode()) > 200:
        return False
    if release in (".", "..") or release.lower() == "latest":
        return False
    return _VALID_API_ATTRIBUTE_RE.match(release) is not None


def _component(raw: str | None) -> int:
    """Rust's `parse::<u64>().unwrap_or_default()`: absent or overflowing gives 0."""
    if not raw:
        return 0
    value = int(raw)
    return value if value <= _U64_MAX else 0


@dataclass(frozen=True, slots=True)
class Version:
    major: int
    minor: int
    patch: int
    revision: int
    pre: str  # "" when there is no prerelease (a leading `-` is dropped)
    build_code: str  # "" when there is none
    components: int

    @property
    def build_number(self) -> int | None:
        """The build code as a number when it is all digits and fits a signed 64-bit
        integer (Sentry's `build_number` column)."""
        code = self.build_code
        if code and code.isascii() and code.isdigit():
            number = int(code)
            if number <= BIGINT_MAX:
                return number
        return None

    def semver_key(self) -> tuple[int, int, int, int, int, str]:
        """`(major, minor, patch, revision, 1 if no prerelease else 0, prerelease)`."""
        return (
            self.major,
            self.minor,
            self.patch,
            self.revision,
            0 if self.pre else 1,
            self.pre,
        )


def parse_version(raw: str) -> Version | None:
    match = _VERSION_RE.match(raw)
    if match is None:
        return None
    pre = match.group("prerelease") or ""
    if pre.startswith("-"):
        pre = pre[1:]
    components = 1 + sum(1 for name in ("minor", "patch", "revision") if match.group(name) is not None)
    return Version(
        major=_component(match.group("major")),
        minor=_component(match.group("minor")),
        patch=_component(match.group("patch")),
        revision=_component(match.group("revision")),
        pre=pre,
        build_code=match.group("build_code") or "",
        components=components,
    )


@dataclass(frozen=True, slots=True)
class Release:
    """A parsed release string (`Release::parse`)."""

    raw: str
    package: str  # "" when there is none
    version_raw: str
    version: Version | None

    @property
    def build_hash(self) -> str | None:
        if self.version is not None and is_build_hash(self.version.build_code):
            return self.version.build_code
        if is_build_hash(self.version_raw):
            return self.version_raw
        return None


def parse_release(release: str) -> Release | None:
    """Parse after trimming whitespace; None when the release is invalid."""
    release = release.strip()
    if not is_valid_release(release):
        return None
    match = _RELEASE_RE.match(release)
    if match is not None:
        package, version_raw = match.group(1), match.group(2)
        version = None if is_build_hash(version_raw) else parse_version(version_raw)
        return Release(release, package, version_raw, version)
    return Release(release, "", release, None)


@dataclass(frozen=True, slots=True)
class SemverInfo:
    """Sentry's semver columns of a release: set only when the version parsed and its four
    numeric components fit a signed 64-bit integer."""

    package: str | None
    version: Version

    @property
    def build_code(self) -> str | None:
        return self.version.build_code or None

    @property
    def build_number(self) -> int | None:
        return self.version.build_number


@lru_cache(maxsize=65536)
def semver_info(release: str) -> SemverInfo | None:
    parsed = parse_release(release)
    if parsed is None or parsed.version is None:
        return None
    version = parsed.version
    if any(part > BIGINT_MAX for part in (version.major, version.minor, version.patch, version.revision)):
        return None
    return SemverInfo(parsed.package or None, version)


@lru_cache(maxsize=65536)
def version_key(release: str) -> str:
    """The version a release is grouped under by `release.version`: the parsed version
    without its package and build code (`pkg@25.11.2+345` and `25.11.2+346` are both
    `25.11.2`; a prerelease stays: `1.0.0-rc.1+7` is `1.0.0-rc.1`). A release that does not
    parse as a version (a bare name, a build hash, an invalid release) is its own version.

    Stored in `release_env.version`: changing this rule needs a migration that recomputes
    the column."""
    parsed = parse_release(release)
    if parsed is None:
        return release
    version, raw = parsed.version, parsed.version_raw
    if version is None and not parsed.package and not is_build_hash(raw):
        # Sentry's parser only reads a version after a package (`pkg@1.0`); bare versions
        # are what many SDK setups send, and grouping them is the point here.
        version = parse_version(raw)
    if version is None:
        return release
    build = version.build_code
    # The build code is the text after the last `+` (a version has at most one).
    return raw[: len(raw) - len(build) - 1] if build else raw
