"""Property: for random valid sessions and random valid queries, GraphQL and REST answer the
same numbers; totals equal the sum of the series for counters, and distinct users are a
union over the range (never more than the sum of the series, exactly the distinct count)."""

from __future__ import annotations

import asyncio
import tempfile
from pathlib import Path
from urllib.parse import urlencode

import httpx
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ingest.items import ItemContext, session_item
from server.app import create_app
from server.clock import FixedClock
from server.settings import Settings
from storage.types import WriteBatch

NOW = 1748858430.0  # 2025-06-02T10:00:30Z
RELEASES = ["app@1.0.0", "app@1.1.0", "app@2.0.0"]
ENVIRONMENTS = [None, "production", "staging"]
STATUSES = ["exited", "exited", "errored", "crashed", "abnormal", "unhandled", "ok"]


def _iso(ts: float) -> str:
    from datetime import UTC, datetime

    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


session_strategy = st.fixed_dictionaries(
    {
        "release": st.sampled_from(RELEASES),
        "environment": st.sampled_from(ENVIRONMENTS),
        "age_minutes": st.integers(min_value=0, max_value=60 * 70),
        "user": st.sampled_from([None, "u1", "u2", "u3", "u4", "u5"]),
        "status": st.sampled_from(STATUSES),
        "init": st.booleans(),
        "errors": st.integers(min_value=0, max_value=2),
        "duration": st.one_of(st.none(), st.floats(min_value=0, max_value=3600)),
        "sid": st.integers(min_value=1, max_value=12),
    }
)

query_strategy = st.fixed_dictionaries(
    {
        "fields": st.lists(
            st.sampled_from(
                [
                    "sum(session)",
                    "count_unique(user)",
                    "crash_free_rate(session)",
                    "crash_rate(user)",
                    "avg(session.duration)",
                    "p50(session.duration)",
                ]
            ),
            min_size=1,
            max_size=3,
            unique=True,
        ),
        "groupBy": st.lists(st.sampled_from(["release", "environment", "project"]), max_size=2, unique=True),
        "interval": st.sampled_from(["1h", "6h", "1d", "30m"]),
        "statsPeriod": st.sampled_from(["1d", "2d", "3d"]),
        "release": st.one_of(st.none(), st.sampled_from(RELEASES)),
        "environment": st.one_of(st.none(), st.sampled_from(["production", "staging"])),
    }
)


def _payload(s: dict) -> dict:
    payload = {
        "sid": f"{s['sid']:032x}",
        "init": s["init"],
        "started": _iso(NOW - s["age_minutes"] * 60),
        "status": s["status"],
        "errors": s["errors"],
        "attrs": {"release": s["release"]},
    }
    if s["environment"] is not None:
        payload["attrs"]["environment"] = s["environment"]
    if s["user"] is not None:
        payload["did"] = s["user"]
    if s["duration"] is not None:
        payload["duration"] = s["duration"]
    return payload


def _rest_params(q: dict) -> list[tuple[str, str]]:
    params = [("field", f) for f in q["fields"]] + [("groupBy", g) for g in q["groupBy"]]
    params += [("interval", q["interval"]), ("statsPeriod", q["statsPeriod"]), ("project", "1")]
    if q["release"]:
        params.append(("query", f"release:{q['release']}"))
    if q["environment"]:
        params.append(("environment", q["environment"]))
    return params


GQL = """query($q: SessionsQueryInput!) { sessions(organization: "acme", query: $q) {
  intervals groups { by { project release environment sessionStatus }
  totals { field value } series { field values } } } }"""


def _gql_input(q: dict) -> dict:
    out = {
        "fields": q["fields"],
        "groupBy": q["groupBy"],
        "interval": q["interval"],
        "statsPeriod": q["statsPeriod"],
        "projects": ["1"],
    }
    if q["release"]:
        out["query"] = f"release:{q['release']}"
    if q["environment"]:
        out["environments"] = [q["environment"]]
    return out


def _normalize_rest(body: dict) -> list:
    groups = []
    for g in body["groups"]:
        by = {k: (str(v) if k == "project" else v) for k, v in g["by"].items()}
        groups.append(
            (
                by,
                {f: _f(v) for f, v in g["totals"].items()},
                {f: [_f(v) for v in vs] for f, vs in g["series"].items()},
            )
        )
    return groups


def _normalize_gql(data: dict) -> list:
    groups = []
    for g in data["groups"]:
        by = {
            k: v
            for k, v in {
                "project": g["by"]["project"],
                "release": g["by"]["release"],
                "environment": g["by"]["environment"],
            }.items()
            if v is not None
        }
        groups.append(
            (
                by,
                {t["field"]: t["value"] for t in g["totals"]},
                {s["field"]: s["values"] for s in g["series"]},
            )
        )
    return groups


def _f(v):
    return None if v is None else float(v)


async def _check(sessions: list[dict], queries: list[dict]) -> list:
    """Runs every query both ways; returns the REST groups of the last one."""
    rest_groups: list = []
    with tempfile.TemporaryDirectory() as tmp:
        app = create_app(
            Settings(database_url=f"sqlite+aiosqlite:///{Path(tmp) / 'p.db'}"), clock=FixedClock(NOW)
        )
        async with app.router.lifespan_context(app):
            services = app.state.services
            await services.accounts.create_project("acme", "web", 1)
            token = await services.accounts.create_token("acme", ["org:read"])
            batch = WriteBatch()
            ctx = ItemContext(project_id=1, received_at=NOW, live=False)
            # Ten days old, outside every window: only makes both environments known
            # (an unknown environment is a 404, release-health.md 8.13).
            known = [
                {
                    "release": "app@0.1.0",
                    "environment": env,
                    "age_minutes": 14400,
                    "user": None,
                    "status": "exited",
                    "init": True,
                    "errors": 0,
                    "duration": None,
                    "sid": 99,
                }
                for env in ("production", "staging")
            ]
            for s in [*known, *sessions]:
                batch.extend(session_item(_payload(s), ctx))
            await services.store.apply([batch])
            headers = {"Authorization": f"Bearer {token}"}
            async with httpx.AsyncClient(
                transport=httpx.ASGITransport(app=app), base_url="http://t"
            ) as client:
                for q in queries:
                    rest = await client.get(
                        f"/api/0/organizations/acme/sessions/?{urlencode(_rest_params(q))}", headers=headers
                    )
                    assert rest.status_code == 200, rest.text
                    gql = await client.post(
                        "/graphql", headers=headers, json={"query": GQL, "variables": {"q": _gql_input(q)}}
                    )
                    body = gql.json()
                    assert "errors" not in body, body
                    rest_groups = _normalize_rest(rest.json())
                    assert rest_groups == _normalize_gql(body["data"]["sessions"])
                    for _, totals, series in rest_groups:
                        if "sum(session)" in totals:
                            assert totals["sum(session)"] == sum(series["sum(session)"])
                        if "count_unique(user)" in totals:
                            assert totals["count_unique(user)"] <= sum(series["count_unique(user)"])
    return rest_groups


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    sessions=st.lists(session_strategy, max_size=40), queries=st.lists(query_strategy, min_size=1, max_size=3)
)
def test_graphql_and_rest_agree(sessions, queries):
    asyncio.run(_check(sessions, queries))


def test_distinct_users_are_a_union_not_a_sum():
    """One user with sessions in two hourly buckets: the series says 1 and 1, the total 1."""
    sessions = [
        {
            "release": "app@1.0.0",
            "environment": None,
            "age_minutes": m,
            "user": "u1",
            "status": "exited",
            "init": True,
            "errors": 0,
            "duration": None,
            "sid": i,
        }
        for i, m in ((1, 30), (2, 150))
    ]
    query = {
        "fields": ["count_unique(user)", "sum(session)"],
        "groupBy": [],
        "interval": "1h",
        "statsPeriod": "1d",
        "release": None,
        "environment": None,
    }

    [(by, totals, series)] = asyncio.run(_check(sessions, [query]))
    assert sum(series["count_unique(user)"]) == 2
    assert totals == {"count_unique(user)": 1.0, "sum(session)": 2.0}
