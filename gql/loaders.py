"""Every dataloader of one request, built fresh per request (`gql.core.context`). The
loaders themselves live with their domain."""

from __future__ import annotations

from typing import TYPE_CHECKING

from gql.alerts.loaders import (
    AlertRuleByIdLoader,
    AlertRulesByProjectLoader,
    IncidentsByRuleLoader,
    StatesByRuleLoader,
)
from gql.federation.loaders import ReleaseSeenLoader
from gql.gates.loaders import GateByIdLoader, GatesByProjectLoader
from gql.health.loaders import (
    AdoptionSeriesByReleaseLoader,
    AdoptionStageByReleaseLoader,
    CrashFreeBreakdownByReleaseLoader,
    CrashFreeRatesByProjectLoader,
    ReleaseAdoptionByReleaseLoader,
    ReleaseHealthByReleaseLoader,
    ReleaseStatsByReleaseLoader,
    SessionsCountByProjectLoader,
    SessionTimeBoundsByReleaseLoader,
)
from gql.organizations.loaders import EnvironmentsByOrgLoader, ProjectsByOrgLoader
from gql.projects.loaders import OutcomesByProjectLoader, ProjectByIdLoader, RecentDataByProjectLoader
from gql.releases.loaders import (
    FirstSeenByProjectLoader,
    ProjectReleasesByProjectLoader,
    ReleasesCountByProjectLoader,
)
from gql.webhooks.loaders import AttemptsByEventLoader, WebhookEndpointByIdLoader
from resolvers.options import QueryOptions
from storage.accounts import AccountStore
from storage.protocol import Store

if TYPE_CHECKING:
    from gql.gates.dimension import DimensionSummaryLoader
    from gql.health.scoped import ProjectSummaryLoader
    from gql.releases.comparison_loaders import ComparisonLoaders


class Loaders:
    """Every loader of one request."""

    def __init__(
        self,
        store: Store,
        accounts: AccountStore,
        options: QueryOptions,
        org_id: int,
    ) -> None:
        self.project_by_id = ProjectByIdLoader(accounts, org_id)
        self.release_health = ReleaseHealthByReleaseLoader(store, options, org_id)
        self.release_adoption = ReleaseAdoptionByReleaseLoader(store, options, org_id)
        self.adoption_stage = AdoptionStageByReleaseLoader(store, options)
        self.session_time_bounds = SessionTimeBoundsByReleaseLoader(store)
        self.crash_free_breakdown = CrashFreeBreakdownByReleaseLoader(store, options)
        self.release_stats = ReleaseStatsByReleaseLoader(store, options)
        self.adoption_series = AdoptionSeriesByReleaseLoader(store, options)
        self.crash_free_rates = CrashFreeRatesByProjectLoader(store, options, org_id)
        self.sessions_count = SessionsCountByProjectLoader(store, options)
        self.releases_count = ReleasesCountByProjectLoader(store, options)
        self.environments_by_org = EnvironmentsByOrgLoader(store)
        self.release_seen = ReleaseSeenLoader(store)
        self.project_releases = ProjectReleasesByProjectLoader(store, options)
        self.ingest_outcomes = OutcomesByProjectLoader(store)
        self.projects_by_org = ProjectsByOrgLoader(accounts)
        self.first_seen_by_project = FirstSeenByProjectLoader(store)
        self.recent_data_by_project = RecentDataByProjectLoader(store, options)
        #: API v2's project totals; made on first use (it needs the request's info).
        self.project_summary: ProjectSummaryLoader | None = None
        self.gate_by_id = GateByIdLoader(accounts.engine, org_id)
        self.gates_by_project = GatesByProjectLoader(accounts.engine, org_id)
        self.alert_rule_by_id = AlertRuleByIdLoader(accounts.engine, org_id)
        self.alert_rules_by_project = AlertRulesByProjectLoader(accounts.engine, org_id)
        self.alert_incidents = IncidentsByRuleLoader(accounts.engine)
        self.alert_states = StatesByRuleLoader(accounts.engine)
        #: Dimension-filtered numbers of health gates; made on first use, likewise.
        self.gate_dimension: DimensionSummaryLoader | None = None
        self.webhook_endpoint_by_id = WebhookEndpointByIdLoader(accounts.engine, org_id)
        self.webhook_attempts = AttemptsByEventLoader(accounts.engine)
        #: Release comparison's loaders; made on first use (they need the request's info).
        self.comparison: ComparisonLoaders | None = None
