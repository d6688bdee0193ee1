"""The execution extension that enforces query cost: the maximum per operation and the
per-token budget, checked before any resolver runs; the cost and the budget state are
reported in the answer's `extensions.cost` and by `Query.rateLimit`."""

from __future__ import annotations

import math
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

from graphql import ExecutionResult, GraphQLError
from strawberry.extensions import SchemaExtension

from gql.core.budget import BudgetState, CostBudget
from gql.core.cost import CostLimitExceeded, CostLimits, query_cost
from gql.core.cost_model_v2 import V2_MODEL
from gql.core.cost_rules import CostModel

MAX_COST_EXCEEDED = "MAX_COST_EXCEEDED"
RATE_LIMITED = "RATE_LIMITED"


class QueryCostLimit(SchemaExtension):
    def __init__(self, limits: CostLimits, budget: CostBudget, model: CostModel = V2_MODEL) -> None:
        super().__init__()
        self.limits = limits
        self.model = model
        self.budget = budget
        self.requested: int | None = None
        self.state: BudgetState | None = None

    def on_execute(self) -> Iterator[None]:
        ec = self.execution_context
        if ec.result is not None:
            # An earlier extension refused the operation already: nothing runs, nothing is
            # charged.
            yield
            return
        assert ec.graphql_document is not None
        key = str(getattr(ec.context, "budget_key", ""))
        # A cost above the budget could never be paid: it is over the maximum too.
        limits = self.limits
        if self.budget.limit < limits.max_cost:
            limits = CostLimits(self.budget.limit, limits.assumed_list_size, limits.max_data_points)
        try:
            cost = query_cost(
                ec.schema._schema,
                ec.graphql_document,
                variables=ec.variables,
                operation_name=ec.operation_name,
                limits=limits,
                model=self.model,
            )
        except CostLimitExceeded as exc:
            self.requested = exc.cost
            self.state = self.budget.peek(key)
            self._refuse(
                f"Query cost exceeds the maximum of {limits.max_cost} points (at least "
                f"{exc.cost}); ask for fewer items (`first`), shorter series or fewer aliases.",
                MAX_COST_EXCEEDED,
            )
            yield
            return
        self.requested = cost
        state = self.budget.charge(key, cost)
        self.state = state
        if not state.allowed:
            retry = math.ceil(state.retry_after)
            self._refuse(
                f"Rate limit exceeded: this query costs {cost} points and {state.remaining} of "
                f"{state.limit} remain; retry in {retry} s.",
                RATE_LIMITED,
                status=429,
                retry_after=retry,
            )
            yield
            return
        if ec.context is not None and hasattr(ec.context, "cost"):
            ec.context.cost = state
        yield

    def _refuse(
        self, message: str, code: str, *, status: int | None = None, retry_after: int | None = None
    ) -> None:
        ec = self.execution_context
        error = GraphQLError(message, extensions={"code": code})
        ec.result = ExecutionResult(data=None, errors=[error])
        if hasattr(ec.context, "refusal"):
            ec.context.refusal = error  # subscriptions start regardless: their fields raise it
        response = getattr(ec.context, "response", None)
        if status is not None and response is not None:
            response.status_code = status
            if retry_after is not None:
                response.headers["Retry-After"] = str(retry_after)

    def get_results(self) -> dict[str, Any]:
        if self.requested is None or self.state is None:
            return {}
        s = self.state
        return {
            "cost": {
                "requested": self.requested,
                "maximum": self.limits.max_cost,
                "budget": {
                    "limit": s.limit,
                    "remaining": s.remaining,
                    "resetAt": datetime.fromtimestamp(s.reset_at, UTC).isoformat().replace("+00:00", "Z"),
                    "windowSeconds": round(s.limit / self.budget.rate),
                },
            }
        }
