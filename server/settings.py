"""The one typed settings object, read at startup and passed in."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


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
    #: Largest body of the bulk-import API (the CLI streams files of any size).
    max_import_size: int = 200 * 1024 * 1024

    # Queries.
    max_data_points: int = Field(default=10_000, ge=1)
    adoption_threshold: float = Field(default=0.1, gt=0, le=1)
    adoption_window_hours: float = Field(default=6.0, gt=0)
    minute_retention_days: int = Field(default=30, ge=0)

    # GraphQL.
    graphql_max_depth: int = 12
    graphql_max_aliases: int = 30

    #: Bearer token required by GET /metrics; None leaves it open.
    metrics_token: str | None = None

    def base_url(self) -> str:
        if self.public_url:
            return self.public_url.rstrip("/")
        host = "127.0.0.1" if self.host in ("0.0.0.0", "::") else self.host
        return f"http://{host}:{self.port}"
