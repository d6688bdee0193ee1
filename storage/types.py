"""Value types shared by the store and its callers.

Writes are *increments*: validated, normalized facts ready to be counted
(`release-health.md` section 2). Reads are *aggregate queries*: a filter, a range of
bucket starts, a stored granularity, grouping dimensions and the quantities wanted.

Times in this module are unix seconds (int) unless a field says otherwise, so that the
store never has to guess a timezone.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import IntEnum, StrEnum
from typing import Literal

# -- granularities -----------------------------------------------------------------

MINUTE = 60
HOUR = 3600
DAY = 86400
#: Every stored granularity, finest first. Each increment is written to all of them, so a
#: late update lands in the bucket of its session's start in every granularity.
GRANULARITIES: tuple[int, ...] = (MINUTE, HOUR, DAY)

# -- user-set tags (bit flags) -----------------------------------------------------
#
# One row per (series, bucket, did) holds the OR of every tag seen for that user there.
# USER_SEEN is set by every entry, so "users" is simply every row.

USER_SEEN = 1
USER_ERRORED = 2
USER_CRASHED = 4
USER_ABNORMAL = 8
USER_UNHANDLED = 16
USER_ANR_FOREGROUND = 32  # an abnormal entry carrying mechanism anr_foreground
USER_ANR_BACKGROUND = 64  # an abnormal entry carrying mechanism anr_background


class Kind(IntEnum):
    """A distinct-count set kept per (series, bucket) (`storage.distinct`). The values
    are stored: never renumber them."""

    USERS = 0  # every user seen
    ERRORED_USERS = 1
    CRASHED_USERS = 2
    ABNORMAL_USERS = 3
    UNHANDLED_USERS = 4
    ANR_USERS = 5  # abnormal with mechanism anr_foreground or anr_background
    ANR_FOREGROUND_USERS = 6
    ERROR_SESSIONS = 7  # the error set: distinct session ids (release-health.md 3.2)


# -- client dimensions ---------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ClientDimensions:
    """What a session's client is, derived at ingest (`ingest/dimensions.py`) from the
    envelope's `sdk.name` and the session's (or the request's) user agent. `None` means
    unknown. Majors carry their name (`"iOS 17"`, `"Chrome 120"`) so that a grouped value
    reads on its own. Instances are shared by every increment of an envelope."""

    sdk_name: str | None = None
    os_name: str | None = None
    os_major: str | None = None
    browser_name: str | None = None
    browser_major: str | None = None


NO_DIMENSIONS = ClientDimensions()


# -- writes ------------------------------------------------------------------------


@dataclass(slots=True)
class SessionIncrement:
    """One accepted session update or aggregate bucket, as stored quantities.

    `started` is the (drift-corrected) session start in unix seconds; it decides the bucket
    of every quantity here. Counters are non-negative. `error_sid` (canonical lower-case
    hyphenated UUID) joins the error set; `user` with `user_tags` joins the user set (only
    when the update has a user); `duration` (seconds, finite, >= 0) joins the duration
    distribution.
    """

    project_id: int
    release: str
    environment: str | None
    started: float
    started_count: int = 0
    crashed: int = 0
    abnormal: int = 0
    unhandled: int = 0
    errored_preaggr: int = 0
    error_sid: str | None = None
    user: str | None = None
    user_tags: int = 0
    duration: float | None = None
    dimensions: ClientDimensions = NO_DIMENSIONS


OutcomeKind = Literal["accepted", "dropped", "normalized"]


@dataclass(slots=True)
class OutcomeIncrement:
    """One ingest outcome to count (`ingest.md` 15.1).

    `kind` is `accepted` (reason ""), `dropped` (reason: a drop code such as `too_old`) or
    `normalized` (reason: `environment_removed`, `clock_drift_corrected`,
    `timestamp_raised_to_started`). `item_type` is `session` or `sessions`; for `sessions`
    items the quantity counts aggregate buckets. `received` (unix seconds) picks the hour.
    """

    project_id: int
    item_type: str
    kind: OutcomeKind
    reason: str
    received: float
    quantity: int = 1


@dataclass(slots=True)
class WriteBatch:
    """Everything one envelope (or one import chunk) adds; applied in one transaction."""

    increments: list[SessionIncrement] = field(default_factory=list)
    outcomes: list[OutcomeIncrement] = field(default_factory=list)

    def extend(self, other: WriteBatch) -> None:
        self.increments.extend(other.increments)
        self.outcomes.extend(other.outcomes)

    def __bool__(self) -> bool:
        return bool(self.increments or self.outcomes)


# -- filters -----------------------------------------------------------------------

Dimension = Literal[
    "project_id",
    "release",
    "environment",
    # The release without its build (`+345`) and package (`pkg@`): release.version grouping.
    "release_version",
    # Client dimensions (ClientDimensions); a query uses at most one of sdk / os / browser.
    "sdk_name",
    "os_name",
    "os_major",
    "browser_name",
    "browser_major",
]
#: The dimensions of `ClientDimensions`, by family.
CLIENT_DIMENSIONS: tuple[Dimension, ...] = (
    "sdk_name",
    "os_name",
    "os_major",
    "browser_name",
    "browser_major",
)


@dataclass(frozen=True, slots=True)
class Cond:
    """`dimension IN values` (or NOT IN when `negate`).

    For `environment`, `None` in `values` stands for "no environment". `NOT IN` matches a
    null environment unless `None` is among the values.
    """

    dimension: Dimension
    values: tuple[str | int | None, ...]
    negate: bool = False


@dataclass(frozen=True, slots=True)
class And:
    terms: tuple[Filter, ...]


@dataclass(frozen=True, slots=True)
class Or:
    terms: tuple[Filter, ...]


Filter = Cond | And | Or


# -- reads -------------------------------------------------------------------------


class Quantity(StrEnum):
    """What an aggregate query should fetch; each is one SQL statement at most."""

    COUNTERS = "counters"  # started, crashed, abnormal, unhandled, errored_preaggr
    ERRORS = "errors"  # distinct session ids of the error set
    USERS = "users"  # distinct users (`Users.all`)
    #: Distinct users per status tag (`Users.errored`, `.crashed`, ...): their own sketch
    #: kinds, read only when asked, so a plain user count never reads them.
    USER_STATUSES = "user_statuses"
    #: Whether a group (or bucket) has any user (`Aggregate.has_users`), without counting
    #: them: one pass over the stored keys, no sketch is read into Python.
    USER_PRESENCE = "user_presence"
    DURATIONS = "durations"  # exact count/sum/min/max and a quantile sketch


@dataclass(frozen=True, slots=True)
class AggregateQuery:
    """Aggregate stored buckets whose start lies in `[start, end)`.

    `project_ids` is always required (and already authorized by the caller); `filter`
    narrows further. `granularity` names the stored buckets to read and must divide
    `start`, `end` and `interval`. With `interval`, results are also grouped by
    `floor(bucket / interval) * interval` (a series); without it they are range totals,
    where distinct counts are unions over the whole range. With `interval` and `totals`,
    the range totals are filled too, from the same rows (one read for both).
    """

    project_ids: tuple[int, ...]
    start: int
    end: int
    granularity: int
    quantities: frozenset[Quantity]
    group_by: tuple[Dimension, ...] = ()
    filter: Filter | None = None
    interval: int | None = None
    totals: bool = False


@dataclass(frozen=True, slots=True)
class GroupKey:
    """Values of the grouped dimensions; a dimension not grouped by is `None` here and
    absent from `present`. `environment` may be `None` while grouped (no environment)."""

    project_id: int | None = None
    release: str | None = None
    environment: str | None = None
    release_version: str | None = None
    sdk_name: str | None = None
    os_name: str | None = None
    os_major: str | None = None
    browser_name: str | None = None
    browser_major: str | None = None


@dataclass(slots=True)
class Counters:
    """Sums of the stored counters (counts of sessions)."""

    started: int = 0
    crashed: int = 0
    abnormal: int = 0
    unhandled: int = 0
    errored_preaggr: int = 0

    def has_data(self) -> bool:
        return (self.started + self.crashed + self.abnormal + self.unhandled + self.errored_preaggr) > 0


@dataclass(slots=True)
class Users:
    """Distinct users (unions over the range), in total and per tag."""

    all: int = 0
    errored: int = 0
    crashed: int = 0
    abnormal: int = 0
    unhandled: int = 0
    anr: int = 0  # abnormal with mechanism anr_foreground or anr_background
    anr_foreground: int = 0


@dataclass(slots=True)
class Durations:
    """Durations of exited updates in seconds. `count == 0` means no data (then `sum`,
    `min`, `max` are 0 and `bins` is empty). `bins` maps sketch bin -> count
    (see `storage.sketch`)."""

    count: int = 0
    sum: float = 0.0
    min: float = 0.0
    max: float = 0.0
    bins: dict[int, int] = field(default_factory=dict)


class Aggregate:
    """All quantities of one group (and one series bucket, when the query has one).
    Quantities that were not asked for stay at their empty defaults.

    `users` and `durations` are made on first use: a long series query builds one
    aggregate per group and bucket (tens of thousands), most of which only ever hold
    counters."""

    __slots__ = ("_durations", "_users", "counters", "errored_set", "has_users")

    def __init__(
        self,
        counters: Counters | None = None,
        errored_set: int = 0,
        users: Users | None = None,
        durations: Durations | None = None,
        has_users: bool = False,
    ) -> None:
        self.counters = Counters() if counters is None else counters
        self.errored_set = errored_set
        self._users = users
        self._durations = durations
        #: The group has a user (asked by `Quantity.USER_PRESENCE`; `users.all` counts them).
        self.has_users = has_users

    @property
    def users(self) -> Users:
        found = self._users
        if found is None:
            found = self._users = Users()
        return found

    @users.setter
    def users(self, value: Users) -> None:
        self._users = value

    @property
    def durations(self) -> Durations:
        found = self._durations
        if found is None:
            found = self._durations = Durations()
        return found

    @durations.setter
    def durations(self, value: Durations) -> None:
        self._durations = value

    def has_durations(self) -> bool:
        """Whether any exited duration was added (without making an empty `Durations`)."""
        return self._durations is not None and self._durations.count > 0

    def _key(self) -> tuple[object, ...]:
        return (self.counters, self.errored_set, self.users, self.durations, self.has_users)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Aggregate):
            return NotImplemented
        return self._key() == other._key()

    __hash__ = None  # type: ignore[assignment]  # mutable, like the dataclass it replaced

    def __repr__(self) -> str:
        return (
            f"Aggregate(counters={self.counters!r}, errored_set={self.errored_set!r}, "
            f"users={self.users!r}, durations={self.durations!r}, has_users={self.has_users!r})"
        )


@dataclass(slots=True)
class AggregateResult:
    """A query without `interval` fills `totals` (per group, unions over the range); one
    with `interval` fills `series` (per group and bucket start in unix seconds, holding only
    buckets with data), and `totals` too when it asks for them. Groups without any data of
    the requested quantities are absent."""

    totals: dict[GroupKey, Aggregate] = field(default_factory=dict)
    series: dict[GroupKey, dict[int, Aggregate]] = field(default_factory=dict)
    #: The distinct-count kinds of which at least one value above is an estimate (from a
    #: sketch in estimation mode: relative standard error `storage.distinct.RELATIVE_STANDARD_ERROR`).
    #: Empty when every value is exact.
    approximate: set[Kind] = field(default_factory=set)


ProjectRelease = tuple[int, str]


@dataclass(frozen=True, slots=True)
class SeriesInfo:
    """One (project, release, environment) combination ever seen in session data."""

    project_id: int
    release: str
    environment: str | None
    #: Unix seconds of the first session start stored for the series.
    first_seen: int | None = None


ReleaseFirstSeen = Mapping[ProjectRelease, int]
