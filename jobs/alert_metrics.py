"""The numbers an alert rule judges at one minute (docs/alerts.md "What is evaluated"):
its metric for each selected release, over its window, in its environment and client-
dimension slice. The same code as `ReleaseHealth` (`resolvers.health.release_overview`),
so an alert and the API never disagree."""

from __future__ import annotations

from collections.abc import Callable

from gql.core.enums import Period
from resolvers import alerts as rules
from resolvers.health import release_overview
from resolvers.options import QueryOptions
from resolvers.sessions.fields import CLIENT_KEYS
from resolvers.stages import release_adoption_stages
from storage.alerts import AlertRule, AlertRuleSpec
from storage.protocol import Store
from storage.types import Cond, Filter

#: A release's numbers and new level given its level before (`Judge(release, before)`).
Judge = Callable[[str, rules.Level], tuple[rules.Numbers, rules.Level]]

_NO_VALUE = rules.Numbers(0, 0, None)


async def judge(store: Store, options: QueryOptions, rule: AlertRule, releases: list[str], at: int) -> Judge:
    """Fetch what the rule needs at minute `at` for `releases` (a fixed number of store
    queries), and answer each release's numbers and level."""
    spec = rule.spec
    if rules.AlertMetric(spec.metric) is rules.AlertMetric.ADOPTION_STAGE:
        assert spec.environment is not None and spec.stage is not None and spec.stage_level is not None
        environment, target, level = spec.environment, spec.stage, rules.Level(spec.stage_level)
        stages = await release_adoption_stages(
            store, [(rule.project_id, r, environment) for r in releases], now=at, options=options
        )

        def by_stage(release: str, before: rules.Level) -> tuple[rules.Numbers, rules.Level]:
            found = stages.get((rule.project_id, release, environment))
            return _NO_VALUE, rules.stage_level(target, None if found is None else found.stage, level)

        return by_stage
    numbers = await rate_numbers(store, options, rule, releases, at)
    thresholds = spec.thresholds()

    def by_rate(release: str, before: rules.Level) -> tuple[rules.Numbers, rules.Level]:
        n = numbers.get(release, _NO_VALUE)
        return n, rules.level(thresholds, n, before)

    return by_rate


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
