"""GraphQL enums: the v1 set (interfaces.md) and API v2's closed sets, every value
described."""

from __future__ import annotations

from enum import Enum
from typing import Any

import strawberry


def _value(value: str, description: str) -> Any:
    # Typed Any: `strawberry.enum_value` is typed as its definition, not the member's value.
    return strawberry.enum_value(value, description=description)


@strawberry.enum(description="What a series counts.")
class HealthStat(Enum):
    SESSIONS = _value("sessions", description="Sessions started.")
    USERS = _value("users", description="Distinct users.")


@strawberry.enum
class SessionStatus(Enum):
    HEALTHY = "healthy"
    ERRORED = "errored"
    CRASHED = "crashed"
    ABNORMAL = "abnormal"
    UNHANDLED = "unhandled"


@strawberry.enum(description="A release's adoption stage in an environment (release-health.md 6.2).")
class AdoptionStage(Enum):
    ADOPTED = _value(
        "adopted",
        description="Its share of the environment's sessions in the last 24 h is at least the "
        "adoption threshold (setting `adoption_threshold`, 10 % by default).",
    )
    LOW_ADOPTION = _value("low_adoption", description="Never adopted (yet).")
    REPLACED = _value("replaced", description="Was adopted, and no longer is.")


@strawberry.enum
class ReleaseSort(Enum):
    SESSIONS = "sessions"
    USERS = "users"
    CRASH_FREE_SESSIONS = "crash_free_sessions"
    CRASH_FREE_USERS = "crash_free_users"


# -- API v2: closed sets ----------------------------------------------------------------


@strawberry.enum(description="A window that ends at the scope's `at` instant, widened to whole hours.")
class Period(Enum):
    LAST_HOUR = _value("1h", "The hour before `at`.")
    LAST_24_HOURS = _value("24h", "The 24 hours before `at`.")
    LAST_48_HOURS = _value("48h", "The 48 hours before `at`.")
    LAST_7_DAYS = _value("7d", "The 7 days before `at`.")
    LAST_14_DAYS = _value("14d", "The 14 days before `at`.")
    LAST_30_DAYS = _value("30d", "The 30 days before `at`.")
    LAST_90_DAYS = _value("90d", "The 90 days before `at` (the longest window the store keeps).")


@strawberry.enum(description="The bucket size of a series. Buckets start on the unix-epoch grid (UTC).")
class Interval(Enum):
    MINUTE = _value("60", "One minute (only within the minute retention, 24 h by default).")
    FIVE_MINUTES = _value("300", "Five minutes (only within the minute retention).")
    FIFTEEN_MINUTES = _value("900", "Fifteen minutes (only within the minute retention).")
    HOUR = _value("3600", "One hour.")
    SIX_HOURS = _value("21600", "Six hours.")
    TWELVE_HOURS = _value("43200", "Twelve hours.")
    DAY = _value("86400", "One day (UTC).")

    @property
    def seconds(self) -> int:
        return int(self.value)


@strawberry.enum(description="The direction of an ordering.")
class OrderDirection(Enum):
    ASC = _value("asc", "Smallest first (null values still last).")
    DESC = _value("desc", "Largest first (null values last).")


@strawberry.enum(description="What releases can be ordered by, over the scope's window.")
class ReleaseOrderField(Enum):
    SESSIONS = _value("sessions", "Sessions started.")
    USERS = _value("users", "Distinct users.")
    CRASH_RATE = _value("crash_free_sessions", "The share of sessions that crashed.")
    USER_CRASH_RATE = _value("crash_free_users", "The share of users with a crashed session.")


@strawberry.enum(description='A client dimension derived at ingest (README "Dimensions").')
class ClientDimension(Enum):
    SDK = _value("sdk.name", "The SDK that sent the session, e.g. `sentry.cocoa`.")
    OS = _value("os.name", "The operating system, e.g. `iOS`, `Android`, `Windows`.")
    OS_MAJOR = _value("os.major", "The operating system with its major version, e.g. `iOS 17`.")
    BROWSER = _value("browser.name", "The browser, e.g. `Chrome`, `Mobile Safari`.")
    BROWSER_MAJOR = _value("browser.major", "The browser with its major version, e.g. `Chrome 120`.")


@strawberry.enum(description="What ingest did with an item.")
class OutcomeKind(Enum):
    ACCEPTED = _value("accepted", "Stored.")
    DROPPED = _value("dropped", "Refused, with a reason.")
    NORMALIZED = _value("normalized", "Stored after a correction, with a reason.")


@strawberry.enum(description="The kind of envelope item an outcome counts.")
class ItemType(Enum):
    SESSION = _value("session", "One session update (`session` item).")
    SESSIONS = _value("sessions", "One bucket of a `sessions` aggregate item.")
