"""The numbers an alert rule judges at one minute (docs/alerts.md "What is evaluated"):
its metric for each selected release, over its window, in its environment and client-
dimension slice. The same code as `ReleaseHealth` (`resolvers.health.release_overview`),
so an alert and the API never disagree."""

from __future__ import annotations

from gql.core.enums import Period
from resolvers import alerts as rules
from resolvers.health import release_overview
from resolvers.options import QueryOptions
from resolvers.sessions.fields import CLIENT_KEYS
from storage.alerts import AlertRule, AlertRuleSpec
from storage.protocol import Store
from storage.types import Cond, Filter


def dimension_filter(spec: AlertRuleSpec) -> Filter | None:
    """The rule's client-dimension slice as a store condition (None: every session)."""
    if spec.dimension is None or spec.dimension_value is None:
        return None
    return Cond(CLIENT_KEYS[spec.dimension], (spec.dimension_value,))


async def rate_numbers(
    store: Store, options: QueryOptions, rule: AlertRule, releases: list[str], at: int
) -> dict[str, rules.Numbers]:
    """Crash-free sessions or users, or adoption (the release's share of the project's
    sessions in the 24 hours before `at`), with the window's volume, per release."""
    spec = rule.spec
    metric = rules.AlertMetric(spec.metric)
    overview = await release_overview(
        store,
        rule.org_id,
        [(rule.project_id, r) for r in releases],
        now=at,
        environments=None if spec.environment is None else (spec.environment,),
        summary_period=Period[spec.time_window].value,
        with_adoption=metric is rules.AlertMetric.ADOPTION,
        retention=options.retention,
        narrow=dimension_filter(spec),
    )
    found = {}
    for (_, release), o in overview.items():
        if metric is rules.AlertMetric.CRASH_FREE_SESSIONS:
            value = o.crash_free_sessions
        elif metric is rules.AlertMetric.CRASH_FREE_USERS:
            value = o.crash_free_users
        else:
            value = None if o.adoption is None else o.adoption.sessions_adoption
        found[release] = rules.Numbers(o.total_sessions or 0, o.total_users or 0, value)
    return found
