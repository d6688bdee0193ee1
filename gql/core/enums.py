"""GraphQL enums (interfaces.md)."""

from __future__ import annotations

from enum import Enum

import strawberry


@strawberry.enum
class HealthStat(Enum):
    SESSIONS = "sessions"
    USERS = "users"


@strawberry.enum
class SessionStatus(Enum):
    HEALTHY = "healthy"
    ERRORED = "errored"
    CRASHED = "crashed"
    ABNORMAL = "abnormal"
    UNHANDLED = "unhandled"


@strawberry.enum
class AdoptionStage(Enum):
    ADOPTED = "adopted"
    LOW_ADOPTION = "low_adoption"
    REPLACED = "replaced"


@strawberry.enum
class ReleaseSort(Enum):
    SESSIONS = "sessions"
    USERS = "users"
    CRASH_FREE_SESSIONS = "crash_free_sessions"
    CRASH_FREE_USERS = "crash_free_users"
