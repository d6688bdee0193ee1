"""SQLModel tables of the session-aggregate store.

Session data is kept as *facts per series and bucket*: a series is one (project, release,
environment) combination (`release_env`); each fact table is keyed by
(granularity, series, bucket start in unix seconds) so that a query that names its series
and range seeks on the whole key. Every fact is written at every granularity of
`storage.types.GRANULARITIES` (minute rows only within the minute retention), which keeps
counters exact and distinct counts unions at any resolution. Distinct sets are Theta
sketches (`fact_sketch`, `storage.distinct`), and so are a bucket's duration bins
(`storage.sql.durations`); v1's per-row tables `fact_user`, `fact_error` and `fact_duration`
are gone (migration 0004 moved their data).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Index, LargeBinary, SmallInteger, Table, UniqueConstraint
from sqlmodel import Field, SQLModel


class Organization(SQLModel, table=True):
    __tablename__ = "organization"

    id: int | None = Field(default=None, primary_key=True)
    slug: str = Field(unique=True, max_length=64)
    created_at: datetime


class Project(SQLModel, table=True):
    __tablename__ = "project"
    __table_args__ = (UniqueConstraint("org_id", "slug", name="uq_project_org_slug"),)

    id: int | None = Field(default=None, primary_key=True)
    org_id: int = Field(foreign_key="organization.id", index=True)
    slug: str = Field(max_length=64)
    created_at: datetime


class ProjectKey(SQLModel, table=True):
    """A DSN client key. `public_key` is 32 lower-case hex characters."""

    __tablename__ = "project_key"

    public_key: str = Field(primary_key=True, max_length=32)
    project_id: int = Field(foreign_key="project.id", index=True)
    is_active: bool = True
    created_at: datetime


class ApiToken(SQLModel, table=True):
    """An organization API token; only its SHA-256 is stored."""

    __tablename__ = "api_token"

    id: int | None = Field(default=None, primary_key=True)
    org_id: int = Field(foreign_key="organization.id", index=True)
    token_hash: str = Field(unique=True, max_length=64)
    scopes: str  # space-separated
    created_at: datetime


class Environment(SQLModel, table=True):
    """Environment records (numeric ids), created when first seen in session data."""

    __tablename__ = "environment"
    __table_args__ = (UniqueConstraint("org_id", "name", name="uq_environment_org_name"),)

    id: int | None = Field(default=None, primary_key=True)
    org_id: int = Field(foreign_key="organization.id", index=True)
    name: str


class ReleaseEnv(SQLModel, table=True):
    """A series: one (project, release, environment) seen in session data.

    `environment` is NULL for sessions without one; `env_key` makes the triple unique
    on every dialect (NULLs are distinct in unique indexes): `""` for NULL, `"=" + name`
    otherwise. `version` groups builds of one version (`25.11.2+345`, `pkg@25.11.2+346`).
    `client` is 0 for the base series (every session); else it names a `dim_value` and the
    series holds the sessions of that client value only (`storage/sql/dimensions.py`).
    """

    __tablename__ = "release_env"
    __table_args__ = (
        UniqueConstraint("project_id", "release", "env_key", "client", name="uq_release_env"),
        Index("ix_release_env_org_release", "org_id", "release"),
        # `release.version` groups and page filters select series by version per project.
        Index("ix_release_env_project_version", "project_id", "version"),
    )

    id: int | None = Field(default=None, primary_key=True)
    org_id: int = Field(foreign_key="organization.id")
    project_id: int = Field(foreign_key="project.id")
    release: str
    environment: str | None = None
    env_key: str
    first_seen: int = Field(sa_type=BigInteger)  # unix seconds of the first session start
    #: The release's version without package and build (`storage.release_parser.version_key`):
    #: the `release.version` grouping key. After `first_seen`, as migration 0005 appended it.
    version: str
    #: After `version`, as migration 0006 appended it.
    client: int = Field(default=0, sa_column_kwargs={"server_default": "0"})


class DimValue(SQLModel, table=True):
    """A client-dimension value of a project (`storage/sql/dimensions.py`): `family` is
    sdk (0), os (1) or browser (2); `major` is `""` where there is none (an SDK, or a
    user agent without a version)."""

    __tablename__ = "dim_value"
    __table_args__ = (UniqueConstraint("project_id", "family", "name", "major", name="uq_dim_value"),)

    id: int | None = Field(default=None, primary_key=True)
    project_id: int = Field(foreign_key="project.id")
    family: int = Field(sa_type=SmallInteger)
    name: str
    major: str


class SessionCounter(SQLModel, table=True):
    """Counters (sessions) and exact duration statistics (seconds) per bucket."""

    __tablename__ = "fact_counter"
    __table_args__ = {"sqlite_with_rowid": False}

    granularity: int = Field(primary_key=True)
    series_id: int = Field(primary_key=True)
    bucket: int = Field(primary_key=True, sa_type=BigInteger)
    started: int = Field(default=0, sa_type=BigInteger)
    crashed: int = Field(default=0, sa_type=BigInteger)
    abnormal: int = Field(default=0, sa_type=BigInteger)
    unhandled: int = Field(default=0, sa_type=BigInteger)
    errored_preaggr: int = Field(default=0, sa_type=BigInteger)
    dur_count: int = Field(default=0, sa_type=BigInteger)
    dur_sum: float = 0.0
    dur_min: float | None = None
    dur_max: float | None = None


class SessionSketch(SQLModel, table=True):
    """Per bucket, one row per non-empty kind: distinct-count sets as Theta sketches
    (`storage.distinct`; kinds 0-7 of `storage.types.Kind`: users, users per status, the
    error set) and the packed duration bins (kind 8, `storage.sql.durations`)."""

    __tablename__ = "fact_sketch"
    __table_args__ = {"sqlite_with_rowid": False}

    granularity: int = Field(primary_key=True)
    series_id: int = Field(primary_key=True)
    bucket: int = Field(primary_key=True, sa_type=BigInteger)
    kind: int = Field(primary_key=True, sa_type=SmallInteger)
    sketch: bytes = Field(sa_type=LargeBinary)


class IngestOutcome(SQLModel, table=True):
    """Persistent ingest counters: accepted items, drops by reason, normalizations."""

    __tablename__ = "ingest_outcome"
    __table_args__ = {"sqlite_with_rowid": False}

    project_id: int = Field(primary_key=True)
    hour: int = Field(primary_key=True, sa_type=BigInteger)
    item_type: str = Field(primary_key=True, max_length=16)
    kind: str = Field(primary_key=True, max_length=16)
    reason: str = Field(primary_key=True, max_length=64)
    count: int = Field(default=0, sa_type=BigInteger)


class ImportChunk(SQLModel, table=True):
    """A chunk of lines of a bulk import, recorded in the transaction that applies it, so
    that re-running or resuming the same import never counts a line twice.

    Import ids belong to a scope: `org_id` is the organization that imported through the
    API, or `SERVER_IMPORT_SCOPE` (0) for the command line (an operator's import, which may
    load several organizations). The same id in two scopes is two independent imports, so
    an organization can neither skip nor detect another one's import. No foreign key: 0 is
    not an organization.
    """

    __tablename__ = "import_chunk"

    org_id: int = Field(primary_key=True, sa_column_kwargs={"autoincrement": False})
    import_id: str = Field(primary_key=True, max_length=128)
    first_line: int = Field(primary_key=True)
    last_line: int


#: `ImportChunk.org_id` of imports made by the command line (server-wide, any organization).
SERVER_IMPORT_SCOPE = 0

FACT_TABLES = (SessionCounter, SessionSketch)


def table(model: type[SQLModel]) -> Table:
    """The SQLAlchemy table of a model (typed: SQLModel's `__table__` is invisible to mypy)."""
    found: Table = model.__table__  # type: ignore[attr-defined]
    return found


ORGANIZATION = table(Organization)
PROJECT = table(Project)
PROJECT_KEY = table(ProjectKey)
API_TOKEN = table(ApiToken)
ENVIRONMENT = table(Environment)
RELEASE_ENV = table(ReleaseEnv)
DIM_VALUE = table(DimValue)
FACT_COUNTER = table(SessionCounter)
FACT_SKETCH = table(SessionSketch)
INGEST_OUTCOME = table(IngestOutcome)
IMPORT_CHUNK = table(ImportChunk)

# The allowlist of persisted operations lives in its own module; imported here so that
# its table is on SQLModel.metadata with the others.
# Health gates and alerts (issue 10), and the dashboard's sessions (issue 11), likewise in
# their own modules.
from storage.alerts import ALERT_INCIDENT, ALERT_RULE, ALERT_STATE  # noqa: E402, F401
from storage.dashboard_sessions import DASHBOARD_SESSION, DashboardSession  # noqa: E402, F401
from storage.gates import HEALTH_GATE, HealthGateRow  # noqa: E402, F401
from storage.persisted_queries import PERSISTED_QUERY, PersistedQuery  # noqa: E402, F401

# Webhook endpoints, outbox and delivery log (issue 10), likewise.
from storage.webhooks import WebhookDeliveryRow, WebhookEndpointRow, WebhookOutboxRow  # noqa: E402, F401
