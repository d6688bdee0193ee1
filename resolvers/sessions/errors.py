"""The typed error of the sessions query and Sentry's exact messages (`release-health.md` 8.13).

Every failure of the sessions query definition raises `SessionsQueryError` (HTTP 400 unless a
subclass says otherwise); the HTTP layer answers `{"detail": error.message}` with
`error.status`.
"""

from __future__ import annotations

from datetime import timedelta


class SessionsQueryError(Exception):
    """A request the sessions endpoint rejects; `message` is the response's `detail`."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.message = message
        self.status = status

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.message!r}, status={self.status})"


class SessionsQueryForbidden(SessionsQueryError):
    """403: a requested project the caller cannot read."""

    def __init__(self, message: str = "You do not have permission to perform this action.") -> None:
        super().__init__(message, status=403)


class SessionsQueryNotFound(SessionsQueryError):
    """404: an environment unknown to the organization."""

    def __init__(self, message: str = "The requested resource does not exist") -> None:
        super().__init__(message, status=404)


# -- the catalogue (8.13), in the order of the spec's table ------------------------------

MISSING_FIELD = 'Request is missing a "field"'
INTERVAL_TEN_SECONDS = "The interval has to be a multiple of the minimum interval of ten seconds."
INTERVAL_ABOVE_DAY = "The interval has to be less than one day."
INTERVAL_DIVIDE_DAY = "The interval should divide one day without a remainder."
TOO_MANY_BUCKETS = (
    "Your interval and date range would create too many results. "
    "Use a larger interval, or a smaller date range."
)
DATE_RANGE_PREFIX = "Invalid date range: "
START_END_REQUIRED = "start and end are both required"
START_BEFORE_END = "start must be before end"
STATS_PERIOD_START_END_REQUIRED = "statsPeriodStart and statsPeriodEnd are both required"
TIMEFRAME_START_END_REQUIRED = "timeframeStart and timeframeEnd are both required"
INVALID_PROJECT_PARAMETER = "Invalid project parameter. Values must be numbers."
PROJECT_ID_OUT_OF_RANGE = "Invalid project parameter. Values must be -1 or project ids up to 2147483647."
FORBIDDEN = "You do not have permission to perform this action."
NO_PROJECTS = "No projects available"
NOT_FOUND = "The requested resource does not exist"
WILDCARD_NOT_SUPPORTED = "Invalid condition: wildcard search is not supported"
INVALID_SEMVER = (
    'Invalid format of semantic version. For searching non-semver releases, use "release:" instead.'
)
SEMVER_IN_NOT_ALLOWED = "Invalid operation 'IN' for semantic version filter."
STAGE_NEEDS_ONE_ENVIRONMENT = "Choose a single environment to filter by release stage."
UNSUPPORTED_STAGE = "Unsupported release.stage value."
STATUS_NESTED = "Unable to parse condition with session.status"
STATUS_OPERATOR = "Unable to resolve session.status filter"
USERS_MULTIPLE_STATUS = "Cannot filter count_unique by multiple session.status unless it is in groupBy"
ORDER_BY_MULTIPLE = "Cannot order by multiple fields"
ORDER_BY_STATUS_GROUP = "Cannot use 'orderBy' when grouping by sessions.status"
ORDER_BY_NOT_A_FIELD = "'orderBy' must be one of the provided 'fields'"
OMIT_BOTH = "Cannot omit both series and totals"
PER_PAGE_TOO_LARGE = "Invalid per_page value. Cannot exceed 5000."
INVALID_PER_PAGE = "Invalid per_page parameter."
INVALID_CURSOR = "Invalid cursor parameter."
LIST_EMPTY_VALUE = "Lists should not have empty values"


def invalid_field(field: str) -> str:
    return f'Invalid field: "{field}"'


def invalid_group_by(group_by: str) -> str:
    return f'Invalid groupBy: "{group_by}"'


def invalid_iso_date(value: str) -> str:
    return f"{value} is not a valid ISO8601 date query"


def invalid_stats_period(value: str) -> str:
    return f"Invalid statsPeriod: {value!r}"


def invalid_search_filter(key: str) -> str:
    return f"Invalid search filter: {key}"


def oxfordize(items: list[str]) -> str:
    """`a`, `a and b`, `a, b, and c` (upstream `oxfordize_list`)."""
    if len(items) <= 1:
        return "".join(items)
    if len(items) == 2:
        return f"{items[0]} and {items[1]}"
    return ", ".join(items[:-1]) + f", and {items[-1]}"


def unknown_project_slugs(slugs: list[str]) -> str:
    return f"Invalid query. Project(s) {oxfordize(slugs)} do not exist or are not actively selected."


def cannot_group_field(field: str) -> str:
    return f"Cannot group field {field} by session.status"


def cannot_filter_field(field: str) -> str:
    return f"Cannot filter field {field} by session.status"


def cannot_order_by(field: str) -> str:
    return f"Cannot order by {field} with the current filters"


def budget_exceeded(intervals: int, interval: int, date_range: int, fetch: int) -> str:
    """The per_page budget error; `interval` and `date_range` in seconds, `fetch` is
    `per_page + 1`."""
    return (
        f"Requested intervals ({intervals}) of timedelta of {timedelta(seconds=interval)} "
        f"with statsPeriod timedelta of {timedelta(seconds=date_range)} is too granular for "
        f"a per_page of {fetch} elements. Increase your interval, decrease your "
        "statsPeriod, or decrease your per_page parameter."
    )


def parse_error(query: str, index: int) -> str:
    """Upstream's syntax error; `index` is the 0-based position where parsing stopped."""
    column = index + 1
    context = query[max(0, column - 5) : column] + query[column : column + 5]
    return (
        f"Parse error at '{context}' (column {column:d}). This is commonly caused by "
        "unmatched parentheses. Enclose any text in double quotes."
    )
