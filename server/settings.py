"""The one typed settings object, read at startup and passed in."""

from __future__ import annotations

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

#: Hourly and daily buckets answer the 90-day stats periods, widened to whole days.
MIN_COARSE_RETENTION_DAYS = 91


class Settings(BaseSettings):
    """Every setting also comes from the environment as `RELHEALTH_<NAME>`."""

    model_config = SettingsConfigDict(env_prefix="RELHEALTH_", extra="ignore")

    database_url: str = "sqlite+aiosqlite:///relhealth.db"
    host: str = "127.0.0.1"
    port: int = 9000
    workers: int = 1
    #: Public base URL used in printed DSNs (defaults to http://host:port).
    public_url: str | None = None
    #: SQLite `synchronous` pragma: NORMAL survives a killed process; FULL survives power loss.
    sqlite_synchronous: str = "NORMAL"

    # Ingest limits (ingest.md section 5).
    max_body_size: int = 20 * 1024 * 1024
    max_envelope_size: int = 100 * 1024 * 1024
    max_session_item_size: int = 1024 * 1024
    #: Optional per-project session quota: units (session items + aggregate buckets) per
    #: `session_quota_window` seconds, per server process. None disables rate limiting.
    session_quota: int | None = Field(default=None, ge=1)
    session_quota_window: int = Field(default=60, ge=1)
    #: Largest body of the bulk-import API (the CLI streams files of any size).
    max_import_size: int = 200 * 1024 * 1024

    # Queries.
    max_data_points: int = Field(default=10_000, ge=1)
    adoption_threshold: float = Field(default=0.1, gt=0, le=1)
    adoption_window_hours: float = Field(default=6.0, gt=0)
    # Retention of the stored buckets, per granularity, in days; 0 keeps them forever
    # (release-health.md 4.4). Minute buckets serve sub-hour intervals only and are the
    # largest; hourly buckets answer every backend function, so they are kept for the
    # store's full retention: 400 days, the longest stats period (90 d) with room for
    # year-over-year comparisons. Daily buckets may be kept longer (or forever) as a cheap
    # archive for 1d-interval queries. Each granularity is kept at least as long as the
    # finer ones; hourly and daily at least 91 days (a 90-day window widened to whole days).
    minute_retention_days: int = Field(default=30, ge=0)
    hour_retention_days: int = Field(default=400, ge=0)
    day_retention_days: int = Field(default=400, ge=0)
    #: How often the cleanup task deletes expired buckets (0: never; run `relhealth
    #: cleanup` from cron instead). Every server process runs it; that is harmless.
    retention_interval_seconds: int = Field(default=3600, ge=0)

    # GraphQL.
    graphql_max_depth: int = 12
    graphql_max_aliases: int = 30
    # GraphQL cost and limits (README "Query cost and limits"): a read token must not be
    # able to bring the server down. Cost points are estimated before execution.
    #: Largest cost of one operation; more is refused with MAX_COST_EXCEEDED, unexecuted.
    graphql_max_cost: int = Field(default=25_000, ge=1)
    #: Points each token may spend per `graphql_cost_window` seconds (a leaky bucket, per
    #: server process); over it, RATE_LIMITED with HTTP 429 and Retry-After.
    graphql_cost_budget: int = Field(default=1_000_000, ge=1)
    graphql_cost_window: int = Field(default=60, ge=1)
    #: Items assumed for a list whose length no argument bounds (projects, environments, ...).
    graphql_assumed_list_size: int = Field(default=50, ge=1)
    #: Largest POST body of /graphql (413 above it).
    graphql_max_body_size: int = Field(default=1024 * 1024, ge=1024)
    #: Largest number of lexical tokens in a GraphQL document.
    graphql_max_tokens: int = Field(default=10_000, ge=100)
    #: Bytes of parsed, valid documents kept in the parse/validation cache.
    graphql_cache_bytes: int = Field(default=32 * 1024 * 1024, ge=0)
    #: Longest execution of one operation, in seconds; longer ones answer TIMEOUT.
    graphql_timeout_seconds: float = Field(default=30.0, gt=0)

    #: Bearer token required by GET /metrics; None leaves it open.
    metrics_token: str | None = None

    @model_validator(mode="after")
    def _check_retention(self) -> Settings:
        def forever(days: int) -> float:
            return float("inf") if days == 0 else float(days)

        for name in ("hour_retention_days", "day_retention_days"):
            if 0 < getattr(self, name) < MIN_COARSE_RETENTION_DAYS:
                raise ValueError(f"{name} must be 0 (forever) or at least {MIN_COARSE_RETENTION_DAYS}")
        minute, hour, day = (
            forever(self.minute_retention_days),
            forever(self.hour_retention_days),
            forever(self.day_retention_days),
        )
        if not minute <= hour <= day:
            raise ValueError(
                "retention must not shrink with coarser buckets: minute_retention_days <= "
                "hour_retention_days <= day_retention_days (0 = forever)"
            )
        return self

    def base_url(self) -> str:
        if self.public_url:
            return self.public_url.rstrip("/")
        host = "127.0.0.1" if self.host in ("0.0.0.0", "::") else self.host
        return f"http://{host}:{self.port}"
