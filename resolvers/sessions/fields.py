"""The fields and groupBy values of the sessions endpoint (`release-health.md` 8.3, 8.2)."""

from __future__ import annotations

from enum import Enum
from typing import Final

from storage.types import Dimension, Quantity

SUM_SESSION: Final = "sum(session)"
COUNT_UNIQUE_USER: Final = "count_unique(user)"


class FieldKind(Enum):
    SESSIONS = "sessions"  # sum(session)
    USERS = "users"  # count_unique(user)
    DURATION = "duration"  # avg / pXX / max of session.duration
    SESSION_RATE = "session_rate"  # rates over session counters
    USER_RATE = "user_rate"  # rates over the user set


#: Every field, in the order of the spec's table, with its kind.
FIELDS: Final[dict[str, FieldKind]] = {
    SUM_SESSION: FieldKind.SESSIONS,
    COUNT_UNIQUE_USER: FieldKind.USERS,
    "avg(session.duration)": FieldKind.DURATION,
    "p50(session.duration)": FieldKind.DURATION,
    "p75(session.duration)": FieldKind.DURATION,
    "p90(session.duration)": FieldKind.DURATION,
    "p95(session.duration)": FieldKind.DURATION,
    "p99(session.duration)": FieldKind.DURATION,
    "max(session.duration)": FieldKind.DURATION,
    "crash_rate(session)": FieldKind.SESSION_RATE,
    "crash_free_rate(session)": FieldKind.SESSION_RATE,
    "abnormal_rate(session)": FieldKind.SESSION_RATE,
    "unhandled_rate(session)": FieldKind.SESSION_RATE,
    "errored_rate(session)": FieldKind.SESSION_RATE,
    "unhealthy_rate(session)": FieldKind.SESSION_RATE,
    "crash_rate(user)": FieldKind.USER_RATE,
    "crash_free_rate(user)": FieldKind.USER_RATE,
    "abnormal_rate(user)": FieldKind.USER_RATE,
    "unhandled_rate(user)": FieldKind.USER_RATE,
    "errored_rate(user)": FieldKind.USER_RATE,
    "anr_rate()": FieldKind.USER_RATE,
    "foreground_anr_rate()": FieldKind.USER_RATE,
}

#: Quantiles of the percentile duration fields.
DURATION_QUANTILES: Final[dict[str, float]] = {
    "p50(session.duration)": 0.5,
    "p75(session.duration)": 0.75,
    "p90(session.duration)": 0.9,
    "p95(session.duration)": 0.95,
    "p99(session.duration)": 0.99,
}

#: Session rate fields that also read the error set.
ERROR_SET_RATES: Final = frozenset({"errored_rate(session)", "unhealthy_rate(session)"})

STATUS_GROUP_BY: Final = "session.status"
RELEASE_VERSION_GROUP_BY: Final = "release.version"

#: Client dimensions (a documented extension of Sentry's parameters, README "Client
#: dimensions"): groupBy values and query keys -> stored dimension. The names are Sentry's
#: tags `sdk.name`, `os.name` and `browser.name`; Sentry has no tag of the major version
#: alone (its `os` and `browser` tags hold the full version, "iOS 17.1.2"), so the majors
#: are `os.major` and `browser.major`, whose values carry the name like those tags do
#: ("iOS 17", "Chrome 120").
CLIENT_KEYS: Final[dict[str, Dimension]] = {
    "sdk.name": "sdk_name",
    "os.name": "os_name",
    "os.major": "os_major",
    "browser.name": "browser_name",
    "browser.major": "browser_major",
}

#: groupBy value -> stored dimension (None for the virtual `session.status`).
GROUP_BY: Final[dict[str, Dimension | None]] = {
    "project": "project_id",
    "release": "release",
    "environment": "environment",
    # This project's extension: builds and packages of one version together (`25.11.2+345`
    # and `pkg@25.11.2+346` are `25.11.2`), getsentry/sentry #103066.
    RELEASE_VERSION_GROUP_BY: "release_version",
    STATUS_GROUP_BY: None,
    **CLIENT_KEYS,
}

#: The five statuses in upstream's enum order (3.1).
STATUSES: Final[tuple[str, ...]] = ("abnormal", "crashed", "errored", "healthy", "unhandled")
ALL_STATUSES: Final = frozenset(STATUSES)


def is_rate(field: str) -> bool:
    return FIELDS[field] in (FieldKind.SESSION_RATE, FieldKind.USER_RATE)


def sessions_need_error_set(group_by_status: bool, status_filter: frozenset[str] | None) -> bool:
    """Whether `sum(session)` reads the error set (3.2: healthy/errored need `errored_all`)."""
    if group_by_status:
        return True
    return status_filter is not None and bool(status_filter & {"healthy", "errored"})


def field_quantities(
    field: str, group_by_status: bool, status_filter: frozenset[str] | None
) -> frozenset[Quantity]:
    """The stored quantities a field reads; also its backing data for group existence (8.3,
    8.8)."""
    kind = FIELDS[field]
    if kind is FieldKind.SESSIONS:
        if sessions_need_error_set(group_by_status, status_filter):
            return frozenset({Quantity.COUNTERS, Quantity.ERRORS})
        return frozenset({Quantity.COUNTERS})
    if kind is FieldKind.USER_RATE or (
        kind is FieldKind.USERS and (group_by_status or status_filter is not None)
    ):
        # Rates and the users of a status read the per-status user sketches too.
        return frozenset({Quantity.USERS, Quantity.USER_STATUSES})
    if kind is FieldKind.USERS:
        return frozenset({Quantity.USERS})
    if kind is FieldKind.DURATION:
        return frozenset({Quantity.DURATIONS})
    if field in ERROR_SET_RATES:
        return frozenset({Quantity.COUNTERS, Quantity.ERRORS})
    return frozenset({Quantity.COUNTERS})
