"""`VersionInfo`: a release name read as a version (`release-health.md` 6.1's parser)."""

from __future__ import annotations

import strawberry

from storage.release_parser import parse_release


@strawberry.type(description="A release name read as `package@major.minor.patch.revision-pre+build`.")
class VersionInfo:
    package: str | None = strawberry.field(description="The package before `@`; null without one.")
    raw: str = strawberry.field(description="The version after the package, as written.")
    major: int = strawberry.field(description="Major version.")
    minor: int = strawberry.field(description="Minor version (0 when absent).")
    patch: int = strawberry.field(description="Patch version (0 when absent).")
    revision: int = strawberry.field(description="Fourth component (0 when absent).")
    pre: str | None = strawberry.field(description="The prerelease after `-`; null without one.")
    build_code: str | None = strawberry.field(description="The build after `+`; null without one.")

    @classmethod
    def parse(cls, name: str) -> VersionInfo | None:
        release = parse_release(name)
        if release is None or release.version is None:
            return None
        v = release.version
        return cls(
            package=release.package or None,
            raw=release.version_raw,
            major=v.major,
            minor=v.minor,
            patch=v.patch,
            revision=v.revision,
            pre=v.pre or None,
            build_code=v.build_code or None,
        )
