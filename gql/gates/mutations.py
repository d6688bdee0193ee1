# mypy: disable-error-code="untyped-decorator"
"""API v2's first mutations: create, update and delete health gates. They need `org:write`
(anything less is a GraphQL error with `extensions.code` FORBIDDEN); what is wrong with
the input itself comes back as `userErrors` in the payload (Shopify style), never as a
GraphQL error, so that a form can show it next to the field."""

from __future__ import annotations

from enum import Enum
from typing import Annotated, Any

import strawberry

from gql.core.context import ContextInfo
from gql.core.dimension_filter import DimensionFilter
from gql.core.enums import Period
from gql.core.ids import project_id_of, record_id_of
from gql.core.permissions import require_write
from gql.gates.evaluate import levels_of
from gql.gates.types import HealthGate
from resolvers import gates as rules
from storage import gates

#: The longest environment name or dimension value a gate holds (the columns' length).
MAX_NAME = 256


@strawberry.enum(description="Why an input was refused.")
class UserErrorCode(Enum):
    INVALID = strawberry.enum_value("invalid", description="The value is not allowed (the message says why).")
    TAKEN = strawberry.enum_value("taken", description="The project already has a gate for that environment.")
    NOT_FOUND = strawberry.enum_value(
        "not_found",
        description="The project, gate, alert rule or webhook endpoint does not exist, or is not "
        "the caller's.",
    )


@strawberry.type(description="A problem with a mutation's input; nothing was changed.")
class UserError:
    field: list[str] | None = strawberry.field(
        description='The path to the input field at fault, e.g. `["input", "crashFreeSessionsCritical"]`; '
        "null when no one field is."
    )
    message: str = strawberry.field(description="What is wrong, for a person.")
    code: UserErrorCode = strawberry.field(description="What is wrong, for a program.")


def _level(what: str, effect: str) -> Any:
    return strawberry.field(
        default=None, description=f"{what} below this percent 0..100 {effect}; null: not checked."
    )


@strawberry.input(
    description="A gate's rules. Levels are percentages 0..100; for every metric higher is "
    "healthier, so a critical level is at most its target."
)
class HealthGateInput:
    environment: str | None = strawberry.field(
        default=None, description="The environment (at most 256 characters); null: every environment."
    )
    dimension: DimensionFilter | None = strawberry.field(
        default=None, description="Only sessions of this client-dimension value; null: all sessions."
    )
    window: Period = strawberry.field(
        default=Period.LAST_24_HOURS, description="The window the numbers are computed over."
    )
    crash_free_sessions_target: float | None = _level("Crash-free sessions", "WARN")
    crash_free_sessions_critical: float | None = _level("Crash-free sessions", "FAIL")
    crash_free_users_target: float | None = _level("Crash-free users", "WARN")
    crash_free_users_critical: float | None = _level("Crash-free users", "FAIL")
    adoption_target: float | None = _level("Adoption", "WARN")
    adoption_critical: float | None = _level("Adoption", "FAIL")
    min_sessions: int = strawberry.field(
        default=0, description="Fewer sessions than this is INSUFFICIENT_DATA (0: no minimum)."
    )
    min_users: int = strawberry.field(
        default=0, description="Fewer users than this is INSUFFICIENT_DATA (0: no minimum)."
    )

    def rule(self) -> gates.GateRule:
        d = self.dimension
        return gates.GateRule(
            environment=self.environment,
            dimension=None if d is None else d.dimension.value,
            dimension_value=None if d is None else d.value,
            time_window=self.window.name,
            crash_free_sessions_target=self.crash_free_sessions_target,
            crash_free_sessions_critical=self.crash_free_sessions_critical,
            crash_free_users_target=self.crash_free_users_target,
            crash_free_users_critical=self.crash_free_users_critical,
            adoption_target=self.adoption_target,
            adoption_critical=self.adoption_critical,
            min_sessions=self.min_sessions,
            min_users=self.min_users,
        )


@strawberry.input(description="A new gate: its project and rules.")
class CreateHealthGateInput(HealthGateInput):
    project: strawberry.ID = strawberry.field(description="The project's global or numeric id.")


@strawberry.type(description="The result of `createHealthGate`.")
class CreateHealthGatePayload:
    health_gate: HealthGate | None = strawberry.field(description="The new gate; null when refused.")
    user_errors: list[UserError] = strawberry.field(description="Why it was refused; empty on success.")


@strawberry.type(description="The result of `updateHealthGate`.")
class UpdateHealthGatePayload:
    health_gate: HealthGate | None = strawberry.field(description="The gate as changed; null when refused.")
    user_errors: list[UserError] = strawberry.field(description="Why it was refused; empty on success.")


@strawberry.type(description="The result of `deleteHealthGate`.")
class DeleteHealthGatePayload:
    deleted_health_gate_id: strawberry.ID | None = strawberry.field(
        description="The deleted gate's id; null when refused."
    )
    user_errors: list[UserError] = strawberry.field(description="Why it was refused; empty on success.")


def _invalid(rule: gates.GateRule) -> list[UserError]:
    errors = [
        UserError(field=["input", name], message=message, code=UserErrorCode.INVALID)
        for name, message in rules.validate(levels_of(rule))
    ]
    for name, value in (("environment", rule.environment), ("dimension", rule.dimension_value)):
        if value is not None and len(value) > MAX_NAME:
            errors.append(
                UserError(
                    field=["input", name],
                    message=f"At most {MAX_NAME} characters.",
                    code=UserErrorCode.INVALID,
                )
            )
    if rule.dimension_value == "":
        errors.append(
            UserError(
                field=["input", "dimension"],
                message="A dimension value is not empty.",
                code=UserErrorCode.INVALID,
            )
        )
    return errors


def _taken(exc: gates.GateExists) -> UserError:
    return UserError(field=["input", "environment"], message=str(exc), code=UserErrorCode.TAKEN)


def _gate_id(id: str) -> int:
    return record_id_of(id, "HealthGate", "gate")


_GONE = UserError(field=["id"], message="No such health gate.", code=UserErrorCode.NOT_FOUND)


@strawberry.type(description="The operations that change data. Every one needs a token with `org:write`.")
class Mutation:
    @strawberry.mutation(description="Create a health gate for a project and environment.")
    async def create_health_gate(
        self,
        info: ContextInfo,
        input: Annotated[
            CreateHealthGateInput, strawberry.argument(description="The project and the rules.")
        ],
    ) -> CreateHealthGatePayload:
        org_id = require_write(info, "health gates")
        rule = input.rule()
        errors = _invalid(rule)
        project = await info.context.loaders.project_by_id.load(project_id_of(input.project))
        if project is None:
            errors.insert(
                0,
                UserError(
                    field=["input", "project"], message="No such project.", code=UserErrorCode.NOT_FOUND
                ),
            )
        if errors or project is None:
            return CreateHealthGatePayload(health_gate=None, user_errors=errors)
        try:
            gate = await gates.create(info.context.accounts.engine, org_id, project.id, rule)
        except gates.GateExists as exc:
            return CreateHealthGatePayload(health_gate=None, user_errors=[_taken(exc)])
        return CreateHealthGatePayload(health_gate=HealthGate.of(gate), user_errors=[])

    @strawberry.mutation(
        description="Replace every rule of a health gate (fields left out take their defaults); "
        "its project stays."
    )
    async def update_health_gate(
        self,
        info: ContextInfo,
        id: Annotated[strawberry.ID, strawberry.argument(description="The gate's global id.")],
        input: Annotated[HealthGateInput, strawberry.argument(description="The new rules.")],
    ) -> UpdateHealthGatePayload:
        org_id = require_write(info, "health gates")
        gate_id = _gate_id(id)
        rule = input.rule()
        errors = _invalid(rule)
        if errors:
            return UpdateHealthGatePayload(health_gate=None, user_errors=errors)
        try:
            gate = await gates.update(info.context.accounts.engine, org_id, gate_id, rule)
        except gates.GateExists as exc:
            return UpdateHealthGatePayload(health_gate=None, user_errors=[_taken(exc)])
        if gate is None:
            return UpdateHealthGatePayload(health_gate=None, user_errors=[_GONE])
        return UpdateHealthGatePayload(health_gate=HealthGate.of(gate), user_errors=[])

    @strawberry.mutation(description="Delete a health gate.")
    async def delete_health_gate(
        self,
        info: ContextInfo,
        id: Annotated[strawberry.ID, strawberry.argument(description="The gate's global id.")],
    ) -> DeleteHealthGatePayload:
        org_id = require_write(info, "health gates")
        if not await gates.remove(info.context.accounts.engine, org_id, _gate_id(id)):
            return DeleteHealthGatePayload(deleted_health_gate_id=None, user_errors=[_GONE])
        return DeleteHealthGatePayload(deleted_health_gate_id=id, user_errors=[])
