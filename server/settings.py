"""The one typed settings object, read at startup and passed in."""

from __future__ import annotations

import json
import re
from typing import Annotated, Any

from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

#: Hourly and daily buckets answer the 90-day stats periods, widened to whole days.
MIN_COARSE_RETENTION_DAYS = 91

#: A browser origin as the `Origin` header carries it: scheme, host, optional port.
_ORIGIN = re.compile(r"https?://[a-z0-9.\-]+(:[0-9]{1,5})?|https?://\[[0-9a-f:.]+\](:[0-9]{1,5})?")


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
    #: Worker processes that parse `relhealth import` lines while the importing process
    #: commits (jobs/import_pool.py); 0 parses in the importing process. The import API
    #: always parses in the server process.
    import_workers: int = Field(default=2, ge=0)

    # Ingest at the edge: what one public DSN key can cost (README "Ingest limits").
    #: Items of any type per envelope; more is 413 (SDKs send at most ~101).
    max_envelope_items: int = Field(default=1000, ge=1)
    #: Aggregate buckets per `sessions` item; more is 413 (SDKs send 1-2 per minute flushed).
    max_session_buckets: int = Field(default=100, ge=1)
    #: Envelopes decoded and validated at once, in worker threads off the event loop.
    ingest_concurrency: int = Field(default=2, ge=1)
    #: Bytes of envelope request bodies held at once (per process); over it, 503.
    ingest_body_budget: int = Field(default=256 * 1024 * 1024, ge=1)
    #: How long the DSN keys are served from memory; a revoked key stops within it.
    key_cache_seconds: float = Field(default=10.0, ge=0)
    #: New releases / environments a project may add per clock hour (per server process);
    #: over it items are dropped as `too_many_releases` / `too_many_environments`. None: no cap.
    new_releases_per_hour: int | None = Field(default=100, ge=0)
    new_environments_per_hour: int | None = Field(default=20, ge=0)
    #: Client-dimension values (sdk / os / browser, each with its majors) a project keeps
    #: per family; later ones are folded into `other` and counted as the outcome
    #: `normalized` / `dimension_folded` (README "Client dimensions").
    dimension_values_per_project: int = Field(default=200, ge=0)

    @field_validator("new_releases_per_hour", "new_environments_per_hour", mode="before")
    @classmethod
    def _no_cap(cls, value: object) -> object:
        """`off` (or an empty value) in the environment turns a cap off."""
        if isinstance(value, str) and value.strip().lower() in ("", "off", "none"):
            return None
        return value

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
    #: How often each server process tries to become the alert evaluator (0: never; run
    #: `relhealth alerts evaluate` from cron instead). One process at a time evaluates.
    alert_interval_seconds: int = Field(default=60, ge=0)
    #: The most minutes one pass catches up per rule after a stop; older ones are skipped.
    alert_catchup_minutes: int = Field(default=60, ge=1)
    #: How far back (minutes before the last evaluated one) data that arrives late
    #: re-evaluates an alert rule's past minutes (0: never).
    alert_late_minutes: int = Field(default=1440, ge=0, le=7 * 1440)

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

    # GraphQL protocol (README "Persisted queries, GET caching and batching").
    #: Automatic persisted queries (Apollo's APQ): documents registered by clients at run
    #: time, kept in memory per server process. Off: PERSISTED_QUERY_NOT_SUPPORTED.
    graphql_apq: bool = True
    #: Bytes of APQ documents kept (least recently used out first); only documents that
    #: parsed, validated and passed the cost limit are ever kept.
    graphql_apq_cache_bytes: int = Field(default=16 * 1024 * 1024, ge=0)
    #: Allowlist mode: only operations registered with `relhealth persisted-queries add`
    #: run (tokens with org:admin excepted, so GraphiQL keeps working for admins).
    graphql_allowlist: bool = False
    #: How long the registered operations are served from memory before the table is read
    #: again: an added or removed operation takes effect within it.
    graphql_allowlist_refresh_seconds: float = Field(default=10.0, ge=0)
    #: A JSON array of operations in one POST, answered by an array of results.
    graphql_batching: bool = True
    #: Most operations in one batch (each is charged to the cost budget on its own).
    graphql_batch_max_operations: int = Field(default=10, ge=1)
    #: `Cache-Control: private, max-age=N` of successful GET queries (0: no-cache, still
    #: revalidated with ETag / If-None-Match).
    graphql_get_max_age: int = Field(default=30, ge=0)

    # Subscriptions over WebSocket at /graphql (README "Subscriptions").
    #: How often each process reads the health event log for its subscribers on SQLite (no
    #: notifications there), in seconds.
    subscription_poll_seconds: float = Field(default=1.0, gt=0)
    #: On PostgreSQL subscribers wake on NOTIFY; this slow poll is only the safety net.
    subscription_notify_poll_seconds: float = Field(default=30.0, gt=0)
    #: Subscriptions one token may have open at once (per server process).
    subscription_max_per_token: int = Field(default=20, ge=1)
    #: Operations one WebSocket connection may have running at once.
    subscription_max_per_connection: int = Field(default=10, ge=1)
    #: WebSocket connections one token may have open at once (per server process; then:
    #: close 1013), subscribed or idle.
    subscription_max_connections_per_token: int = Field(default=20, ge=1)
    #: Seconds a new connection has to send `connection_init` (then: close 4408).
    subscription_init_timeout_seconds: float = Field(default=10.0, gt=0)
    #: Largest WebSocket message accepted (then: close 1009).
    subscription_max_message_bytes: int = Field(default=64 * 1024, ge=1024)
    #: Events a subscriber may fall behind before its subscription is closed (overflow).
    subscription_queue_size: int = Field(default=100, ge=1)
    #: Most events of the organization read to replay what a resubscribing client missed.
    subscription_replay_limit: int = Field(default=1000, ge=1)

    # Webhooks (README "Webhooks").
    #: Deliver to loopback, private and link-local addresses too (tests, private networks).
    webhook_allow_private: bool = False
    #: How often each server process looks for due deliveries, in seconds (0: never).
    webhook_interval_seconds: float = Field(default=1.0, ge=0)
    #: How long one delivery may take before it counts as failed, in seconds.
    webhook_timeout_seconds: float = Field(default=10.0, gt=0, le=60)

    # Dashboard sign-in (README "Dashboard"): an API token exchanged for a session cookie.
    #: How long a dashboard session lasts (its cookie's Max-Age), in seconds: 12 h.
    session_max_age_seconds: int = Field(default=12 * 3600, ge=60, le=30 * 86400)
    #: Failed sign-ins one client address may make per `sign_in_window_seconds` (per
    #: server process); over it, 429 until the window ends.
    sign_in_max_failures: int = Field(default=10, ge=1)
    sign_in_window_seconds: int = Field(default=300, ge=1)

    #: Bearer token required by GET /metrics, which then shows per-tenant series too; None
    #: leaves it open, with the ingest counters summed over every project (no tenant data).
    metrics_token: str | None = None

    # CORS of the query APIs (/graphql, /api/0/...; the envelope endpoint has its own).
    #: Browser origins allowed to call them (`https://app.example.com`), `*` for any; none
    #: by default. From the environment: comma-separated, or a JSON list.
    cors_allowed_origins: Annotated[list[str], NoDecode] = Field(default_factory=list)
    #: How long browsers may cache a preflight answer, in seconds.
    cors_max_age: int = Field(default=600, ge=0, le=86400)

    @field_validator("cors_allowed_origins", mode="before")
    @classmethod
    def _split_origins(cls, value: Any) -> Any:
        if isinstance(value, str):
            text = value.strip()
            if text.startswith("["):
                return json.loads(text)
            return [part.strip() for part in text.split(",") if part.strip()]
        return value

    @field_validator("cors_allowed_origins")
    @classmethod
    def _check_origins(cls, origins: list[str]) -> list[str]:
        checked = []
        for origin in origins:
            lowered = origin.strip().lower()
            if lowered != "*" and not _ORIGIN.fullmatch(lowered):
                raise ValueError(
                    f"{origin!r} is not an origin: use scheme://host[:port] (no path, no trailing slash) or *"
                )
            checked.append(lowered)
        return checked

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
