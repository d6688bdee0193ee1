# mypy: disable-error-code="untyped-decorator"
"""Create, update and delete alert rules. Like the health-gate mutations: `org:write` or a
FORBIDDEN GraphQL error; what is wrong with the input comes back as `userErrors`."""

from __future__ import annotations

from typing import Annotated

import strawberry

from gql.alerts.types import AlertDirection, AlertLevel, AlertMetric, AlertRule
from gql.core.context import ContextInfo
from gql.core.dimension_filter import DimensionFilter
from gql.core.enums import AdoptionStage, Period
from gql.core.ids import invalid_id, parse_global_id, parse_id, project_id_of
from gql.core.permissions import require_write
from gql.gates.mutations import MAX_NAME, UserError, UserErrorCode
from resolvers import alerts as rules
from storage import alerts

#: The longest `createdWithinHours` (the store keeps 90 days of hourly data).
MAX_HOURS = 90 * 24


@strawberry.input(
    description="The releases an alert rule evaluates: set exactly one field (none: the latest release)."
)
class AlertReleaseSelectorInput:
    latest: bool | None = strawberry.field(
        default=None, description="True: the project's latest release (newest first seen with sessions)."
    )
    created_within_hours: int | None = strawberry.field(
        default=None, description="Every release first seen in the last N hours (1..2160), each on its own."
    )
    version: str | None = strawberry.field(default=None, description="One named version.")


@strawberry.input(
    description="An alert rule's settings. Thresholds are percentages 0..100; at least one of "
    "`warning` and `critical` is set."
)
class AlertRuleInput:
    name: str = strawberry.field(description="A name for people (1..256 characters).")
    environment: str | None = strawberry.field(
        default=None, description="The environment (at most 256 characters); null: every environment."
    )
    releases: AlertReleaseSelectorInput | None = strawberry.field(
        default=None, description="The releases evaluated; null: the latest release."
    )
    metric: AlertMetric = strawberry.field(description="What is measured.")
    direction: AlertDirection = strawberry.field(
        default=AlertDirection.BELOW, description="Which side of the thresholds is bad."
    )
    window: Period = strawberry.field(
        default=Period.LAST_24_HOURS, description="The window the metric is computed over."
    )
    warning: float | None = strawberry.field(default=None, description="Breaching it is WARNING; null: none.")
    critical: float | None = strawberry.field(
        default=None, description="Breaching it is CRITICAL; null: none."
    )
    warning_resolve: float | None = strawberry.field(
        default=None,
        description="A firing rule resolves only once the value leaves the bad side of this "
        "(null: `warning`); not on the bad side of `warning`.",
    )
    critical_resolve: float | None = strawberry.field(
        default=None,
        description="A CRITICAL rule falls back only once the value leaves the bad side of this "
        "(null: `critical`); not on the bad side of `critical`.",
    )
    min_sessions: int = strawberry.field(
        default=0, description="Fewer sessions than this is INSUFFICIENT_DATA, never firing (0: no minimum)."
    )
    min_users: int = strawberry.field(
        default=0, description="Fewer users than this is INSUFFICIENT_DATA, never firing (0: no minimum)."
    )
    enabled: bool = strawberry.field(default=True, description="Whether the rule is evaluated.")
    filter: DimensionFilter | None = strawberry.field(
        default=None,
        description="Only sessions of this client-dimension value are counted (e.g. `OS` `iOS`: "
        "crash-free sessions on iOS only), for the rate and for adoption's project total; "
        "the releases are still picked from every session. Null: every session.",
    )
    stage: AdoptionStage | None = strawberry.field(
        default=None,
        description="For ADOPTION_STAGE (and only then): the stage watched. The rule is at "
        "`stageLevel` while the release is in this stage in the rule's environment, OK otherwise.",
    )
    stage_level: AlertLevel | None = strawberry.field(
        default=None,
        description="For ADOPTION_STAGE: WARNING or CRITICAL, the level while the release is in "
        "`stage`; null: WARNING.",
    )

    def spec(self) -> tuple[alerts.AlertRuleSpec, list[UserError]]:
        errors: list[UserError] = []
        selector, argument = _selector(self.releases, errors)
        is_stage = self.metric is AlertMetric.ADOPTION_STAGE
        stage_level = (self.stage_level or AlertLevel.WARNING) if is_stage else self.stage_level
        spec = alerts.AlertRuleSpec(
            name=self.name,
            environment=self.environment,
            selector=selector.value,
            selector_argument=argument,
            metric=self.metric.value,
            direction=self.direction.value,
            time_window=self.window.name,
            warning=self.warning,
            critical=self.critical,
            warning_resolve=self.warning_resolve,
            critical_resolve=self.critical_resolve,
            min_sessions=self.min_sessions,
            min_users=self.min_users,
            enabled=self.enabled,
            dimension=None if self.filter is None else self.filter.dimension.value,
            dimension_value=None if self.filter is None else self.filter.value,
            stage=None if self.stage is None else self.stage.value,
            stage_level=None if stage_level is None else stage_level.value,
        )
        if is_stage:
            problems = rules.validate_stage(
                stage=spec.stage,
                level=rules.Level(spec.stage_level),
                environment=spec.environment,
                t=spec.thresholds(),
                narrowed=self.filter is not None,
            )
        else:
            problems = rules.validate(spec.thresholds())
            problems += [(n, f"{n} is for ADOPTION_STAGE only.") for n, v in _stage_fields(self) if v]
        errors += [_invalid([name], message) for name, message in problems]
        for path, value in (
            (["name"], self.name),
            (["environment"], self.environment),
            (["filter", "value"], spec.dimension_value),
        ):
            if value is not None and not 0 < len(value) <= MAX_NAME:
                errors.append(_invalid(path, f"1 to {MAX_NAME} characters."))
        return spec, errors


def _stage_fields(given: AlertRuleInput) -> list[tuple[str, bool]]:
    return [("stage", given.stage is not None), ("stageLevel", given.stage_level is not None)]


def _invalid(path: list[str], message: str) -> UserError:
    return UserError(field=["input", *path], message=message, code=UserErrorCode.INVALID)


def _selector(
    given: AlertReleaseSelectorInput | None, errors: list[UserError]
) -> tuple[rules.Selector, str | None]:
    if given is None:
        return rules.Selector.LATEST, None
    chosen = [v for v in (given.latest or None, given.created_within_hours, given.version) if v is not None]
    if len(chosen) != 1:
        errors.append(_invalid(["releases"], "Set exactly one of latest, createdWithinHours and version."))
        return rules.Selector.LATEST, None
    if given.created_within_hours is not None:
        if not 1 <= given.created_within_hours <= MAX_HOURS:
            errors.append(_invalid(["releases", "createdWithinHours"], f"Between 1 and {MAX_HOURS}."))
        return rules.Selector.CREATED_WITHIN_HOURS, str(given.created_within_hours)
    if given.version is not None:
        if not 0 < len(given.version) <= MAX_NAME:
            errors.append(_invalid(["releases", "version"], f"1 to {MAX_NAME} characters."))
        return rules.Selector.VERSION, given.version
    return rules.Selector.LATEST, None


@strawberry.input(description="A new alert rule: its project and settings.")
class CreateAlertRuleInput(AlertRuleInput):
    project: strawberry.ID = strawberry.field(description="The project's global or numeric id.")


@strawberry.type(description="The result of `createAlertRule` and `updateAlertRule`.")
class AlertRulePayload:
    alert_rule: AlertRule | None = strawberry.field(description="The rule as saved; null when refused.")
    user_errors: list[UserError] = strawberry.field(description="Why it was refused; empty on success.")


@strawberry.type(description="The result of `deleteAlertRule`.")
class DeleteAlertRulePayload:
    deleted_alert_rule_id: strawberry.ID | None = strawberry.field(
        description="The deleted rule's id; null when refused."
    )
    user_errors: list[UserError] = strawberry.field(description="Why it was refused; empty on success.")


def _rule_id(id: str) -> int:
    _, parts = parse_global_id(id, "AlertRule")
    if len(parts) != 1 or not isinstance(parts[0], int) or isinstance(parts[0], bool):
        raise invalid_id(id)
    return parse_id(str(parts[0]), "alert rule")


_GONE = UserError(field=["id"], message="No such alert rule.", code=UserErrorCode.NOT_FOUND)


@strawberry.type(description="Alert rule mutations (merged into `Mutation`).")
class AlertMutation:
    @strawberry.mutation(description="Create an alert rule for a project.")
    async def create_alert_rule(
        self,
        info: ContextInfo,
        input: Annotated[CreateAlertRuleInput, strawberry.argument(description="The project and settings.")],
    ) -> AlertRulePayload:
        org_id = require_write(info, "alert rules")
        spec, errors = input.spec()
        project = await info.context.loaders.project_by_id.load(project_id_of(input.project))
        if project is None:
            errors.insert(
                0,
                UserError(
                    field=["input", "project"], message="No such project.", code=UserErrorCode.NOT_FOUND
                ),
            )
        if errors or project is None:
            return AlertRulePayload(alert_rule=None, user_errors=errors)
        rule = await alerts.create(info.context.accounts.engine, org_id, project.id, spec)
        return AlertRulePayload(alert_rule=AlertRule.of(rule), user_errors=[])

    @strawberry.mutation(
        description="Replace every setting of an alert rule (fields left out take their defaults); "
        "its project, state and incidents stay."
    )
    async def update_alert_rule(
        self,
        info: ContextInfo,
        id: Annotated[strawberry.ID, strawberry.argument(description="The rule's global id.")],
        input: Annotated[AlertRuleInput, strawberry.argument(description="The new settings.")],
    ) -> AlertRulePayload:
        org_id = require_write(info, "alert rules")
        rule_id = _rule_id(id)
        spec, errors = input.spec()
        if errors:
            return AlertRulePayload(alert_rule=None, user_errors=errors)
        rule = await alerts.update(info.context.accounts.engine, org_id, rule_id, spec)
        if rule is None:
            return AlertRulePayload(alert_rule=None, user_errors=[_GONE])
        return AlertRulePayload(alert_rule=AlertRule.of(rule), user_errors=[])

    @strawberry.mutation(description="Delete an alert rule with its state and incidents.")
    async def delete_alert_rule(
        self,
        info: ContextInfo,
        id: Annotated[strawberry.ID, strawberry.argument(description="The rule's global id.")],
    ) -> DeleteAlertRulePayload:
        org_id = require_write(info, "alert rules")
        if not await alerts.remove(info.context.accounts.engine, org_id, _rule_id(id)):
            return DeleteAlertRulePayload(deleted_alert_rule_id=None, user_errors=[_GONE])
        return DeleteAlertRulePayload(deleted_alert_rule_id=id, user_errors=[])
