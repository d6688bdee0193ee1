"""Release and environment names Sentry accepts (`ingest.md` 10).

Same rules as `validate_release` in getsentry/sentry-release-parser and
`validate_environment` in Relay; lengths are UTF-8 bytes and the restricted names compare
ASCII case-insensitively, as there.
"""

from __future__ import annotations

import re
from functools import lru_cache

# `\`, `/`, and every control character (TAB, LF and CR included) plus DEL.
_FORBIDDEN = re.compile(r"[\\/\x00-\x1f\x7f]")

MAX_RELEASE_BYTES = 200
MAX_ENVIRONMENT_BYTES = 64


# Few distinct names arrive over and over, so answers are remembered.
@lru_cache(maxsize=4096)
def validate_release(release: str) -> bool:
    """True when `release` may be stored; the empty string is a valid release."""
    if len(release) > MAX_RELEASE_BYTES or len(release.encode()) > MAX_RELEASE_BYTES:
        return False
    if release in (".", "..") or (release.isascii() and release.lower() == "latest"):
        return False
    return _FORBIDDEN.search(release) is None


@lru_cache(maxsize=1024)
def validate_environment(environment: str) -> bool:
    """True when `environment` may be stored; `""` is valid and distinct from none."""
    if len(environment) > MAX_ENVIRONMENT_BYTES or len(environment.encode()) > MAX_ENVIRONMENT_BYTES:
        return False
    if environment in (".", "..") or (environment.isascii() and environment.lower() == "none"):
        return False
    return _FORBIDDEN.search(environment) is None
