"""The attack harness of issue 7: `python -m bench.attacks [--backend sqlite|postgres]
[--only NAME[,NAME]] [--json-out FILE] [--timeout S]`.

Each attack runs against its own real `relhealth serve` process on 127.0.0.1 (a copy of a
template database whose organization, projects and tokens were made with the CLI), bounded
in time (over the timeout it is cancelled and reported as "timeout"; the server is then
killed). Per attack it reports the answers (status codes, GraphQL error codes), the wall
time, the server's RSS before / peak / after (VmRSS sampled every 50 ms, and VmHWM), the
database size before and after, and the latency of two "victims" sent one after the other
while the attack runs: a small valid envelope of another project, and a small GraphQL
query. The same harness measures the old code (it may hang or answer 500) and the new one
(quick 400/413/429 and error codes): it only records what happens.

Prints one JSON document (and writes it to `--json-out`).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gzip
import json
import os
import platform
import signal
import subprocess
import sys
import tempfile
import time
import traceback
import urllib.parse
from collections import Counter
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench import attack_payloads as p
from bench.attack_http import CHUNK, Reply, bearer, envelope_headers, graphql_errors, request
from bench.attack_report import compare_markdown
from bench.attack_server import (
    MIB,
    ORG,
    OTHER_ORG,
    ROOT,
    Accounts,
    Databases,
    RssSampler,
    ServerProcess,
    cli,
    create_accounts,
    rss_kib,
)

DEFAULT_TIMEOUT = 60.0
#: How long the victims' last requests may still take after the attack ends.
VICTIM_GRACE = 15.0
READYZ_WAIT = 15.0
#: An unregistered 32-character key.
WRONG_KEY = "deadbeef" * 4
DAY = 86400
HEAVY_DAYS = 41


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


# -- what an attack sees -------------------------------------------------------------------


@dataclass
class Context:
    port: int
    accounts: Accounts
    now: float
    databases: Databases
    database: str
    payload: Any = None
    answers: dict[str, Any] = field(default_factory=dict)
    findings: dict[str, Any] = field(default_factory=dict)
    victim_seq: int = 0

    async def ask(self, label: str, pending: Awaitable[Reply], **extra: Any) -> Reply:
        """Await one request and note its answer; until it comes it shows as unanswered
        (what an attack cancelled at its timeout reports)."""
        self.answers[label] = {"status": None, "error": "unanswered", "since": time.perf_counter()}
        return self.note(label, await pending, **extra)

    def close_pending(self) -> None:
        for answer in self.answers.values():
            if "since" in answer:
                answer["ms"] = round((time.perf_counter() - answer.pop("since")) * 1000, 1)

    def note(self, label: str, reply: Reply, **extra: Any) -> Reply:
        summary = reply.summary()
        errors = graphql_errors(reply)
        if errors:
            summary["errors"] = errors[:3]
            if len(errors) > 3:
                summary["error_count"] = len(errors)
        summary.update(extra)
        self.answers[label] = summary
        return reply

    async def envelope(
        self, project_id: int, key: str, body: bytes, *, gzip: bool = False, length: int | None = None
    ) -> Reply:
        return await request(
            self.port,
            "POST",
            f"/api/{project_id}/envelope/",
            envelope_headers(key, gzip=gzip),
            body,
            length=length,
        )

    async def graphql(
        self,
        query: str,
        variables: dict[str, Any] | None = None,
        token: str | None = None,
        body_cap: int | None = None,
    ) -> Reply:
        kwargs = {"body_cap": body_cap} if body_cap is not None else {}
        return await request(
            self.port,
            "POST",
            "/graphql",
            bearer(token or self.accounts.token),
            p.graphql_body(query, variables),
            **kwargs,
        )

    async def rest_sessions(self, params: list[tuple[str, str]], org: str = ORG) -> Reply:
        query = urllib.parse.urlencode(params, safe="():[],")
        return await request(
            self.port, "GET", f"/api/0/organizations/{org}/sessions/?{query}", bearer(self.accounts.token)
        )

    async def db_size(self) -> int | None:
        return await self.databases.size(self.database)


AttackFn = Callable[[Context], Awaitable[None]]


@dataclass(frozen=True)
class Attack:
    name: str
    what: str
    run: AttackFn
    #: Builds the (large) request bodies before the server starts; not timed.
    prepare: Callable[[float], Any] | None = None
    #: Runs on the release-heavy dataset instead of the empty template.
    dataset: bool = False
    #: Seconds to wait after the attack before reading the "after" RSS.
    settle: float = 1.0


# -- victims -----------------------------------------------------------------------------


class Victim:
    """Sends one small valid request after another while the attack runs."""

    def __init__(self, send: Callable[[], Awaitable[Reply]], pause: float = 0.25) -> None:
        self.send = send
        self.pause = pause
        self.latencies: list[float] = []
        self.statuses: Counter[str] = Counter()
        self.pending_since: float | None = None

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            self.pending_since = time.perf_counter()
            reply = await self.send()
            self.pending_since = None
            self.latencies.append(reply.seconds)
            self.statuses[str(reply.status or reply.error)] += 1
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), self.pause)

    def summary(self) -> dict[str, Any]:
        lat = sorted(self.latencies)
        out: dict[str, Any] = {"requests": len(lat), "statuses": dict(self.statuses)}
        if lat:
            out["p50_ms"] = round(lat[len(lat) // 2] * 1000, 1)
            out["max_ms"] = round(lat[-1] * 1000, 1)
        if self.pending_since is not None:
            # Still unanswered VICTIM_GRACE seconds after the attack: a lower bound.
            out["unanswered_after_ms"] = round((time.perf_counter() - self.pending_since) * 1000, 1)
        return out


def victims(ctx: Context) -> dict[str, Victim]:
    acc = ctx.accounts

    async def envelope() -> Reply:
        ctx.victim_seq += 1
        body = p.session_envelope(
            time.time(), "victim@1.0.0", did=f"v{ctx.victim_seq}", seed=10**6 + ctx.victim_seq
        )
        return await ctx.envelope(acc.victim.id, acc.victim.key, body)

    async def graphql() -> Reply:
        return await ctx.graphql(f'{{ project(id: "{acc.victim.id}") {{ slug }} }}')

    return {"envelope": Victim(envelope), "graphql": Victim(graphql)}


async def baseline(ctx: Context) -> dict[str, float]:
    """Each victim's latency on the idle server (median of three), for comparison."""
    out = {}
    for name, victim in victims(ctx).items():
        lat = sorted([(await victim.send()).seconds for _ in range(3)])
        out[name] = round(lat[1] * 1000, 1)
    return out


# -- the attacks -------------------------------------------------------------------------


def _bomb(_now: float) -> bytes:
    return p.bomb_envelope()


def _payload_info(ctx: Context, body: bytes, decoded: int | None = None) -> None:
    ctx.findings["body_bytes"] = len(body)
    if decoded is not None:
        ctx.findings["decoded_bytes"] = decoded


BOMB_DECODED = 3 + len(p.BOMB_ITEM) * p.BOMB_ITEMS


async def _after_check(ctx: Context) -> None:
    """A valid envelope of the attacked project right after the attack."""
    acc = ctx.accounts
    body = p.session_envelope(time.time(), "web@after", seed=424242)
    await ctx.ask("valid_envelope_after", ctx.envelope(acc.web.id, acc.web.key, body))


async def ingest_bomb_bad_key(ctx: Context) -> None:
    _payload_info(ctx, ctx.payload, BOMB_DECODED)
    await ctx.ask("bomb", ctx.envelope(ctx.accounts.web.id, WRONG_KEY, ctx.payload, gzip=True))
    await _after_check(ctx)


async def ingest_bomb_good_key(ctx: Context) -> None:
    _payload_info(ctx, ctx.payload, BOMB_DECODED)
    acc = ctx.accounts
    await ctx.ask("bomb", ctx.envelope(acc.web.id, acc.web.key, ctx.payload, gzip=True))
    await _after_check(ctx)


async def ingest_bomb_x3(ctx: Context) -> None:
    _payload_info(ctx, ctx.payload, BOMB_DECODED)
    pid = ctx.accounts.web.id

    async def one(n: int) -> None:
        await ctx.ask(f"bomb_{n}", ctx.envelope(pid, WRONG_KEY, ctx.payload, gzip=True))

    await asyncio.gather(*(one(n) for n in range(3)))
    await _after_check(ctx)


async def ingest_big_sessions(ctx: Context) -> None:
    body = ctx.payload
    _payload_info(ctx, body, len(gzip.decompress(body)))
    ctx.findings["buckets"] = p.BIG_SESSIONS_ITEMS * p.BIG_SESSIONS_BUCKETS
    acc = ctx.accounts
    await ctx.ask("big_sessions", ctx.envelope(acc.web.id, acc.web.key, body, gzip=True))
    await _after_check(ctx)


FLOOD_CONCURRENCY = 8


async def ingest_series_flood(ctx: Context) -> None:
    bodies: list[bytes] = ctx.payload
    acc = ctx.accounts
    statuses: Counter[str] = Counter()
    pending = iter(bodies)
    started = time.perf_counter()

    async def worker() -> None:
        for body in pending:
            reply = await ctx.envelope(acc.web.id, acc.web.key, body)
            statuses[str(reply.status or reply.error)] += 1
            ctx.findings["statuses"] = dict(statuses)
            ctx.findings["seconds_sending"] = round(time.perf_counter() - started, 2)

    ctx.findings.update(envelopes=len(bodies), series_sent=p.FLOOD_SERIES)
    await asyncio.gather(*(worker() for _ in range(FLOOD_CONCURRENCY)))
    await _count_series(ctx)
    outcomes = await ctx.graphql(
        f'{{ project(id: "{acc.web.id}") {{ ingestOutcomes(first: 100) {{ nodes {{ itemType kind reason count }} }} }} }}'
    )
    ctx.note("ingest_outcomes", outcomes)
    body = outcomes.json()
    with contextlib.suppress(TypeError, KeyError, AttributeError):
        ctx.findings["ingest_outcomes"] = body["data"]["project"]["ingestOutcomes"]["nodes"]


async def _count_series(ctx: Context) -> None:
    pid = ctx.accounts.web.id
    ctx.findings["series_created"] = await ctx.databases.count(
        ctx.database, f"SELECT count(*) FROM release_env WHERE project_id = {pid}"
    )
    ctx.findings["environments_created"] = await ctx.databases.count(
        ctx.database, "SELECT count(*) FROM environment"
    )


async def ingest_huge_did(ctx: Context) -> None:
    acc = ctx.accounts
    now = time.time()
    growth = []
    for n in range(2):
        before = await ctx.db_size()
        # Built in a thread: 100 MiB compressed on the harness's loop would delay the
        # victims' own requests, not the server.
        body = await asyncio.to_thread(p.huge_did_envelope, now, seed=n)
        ctx.findings["body_bytes"] = len(body)
        await ctx.ask(f"huge_did_{n}", ctx.envelope(acc.web.id, acc.web.key, body, gzip=True))
        after = await ctx.db_size()
        if before is not None and after is not None:
            growth.append(round((after - before) / MIB, 2))
        ctx.findings["db_growth_mib_per_request"] = growth
    await ctx.ask("nul_did", ctx.envelope(acc.web.id, acc.web.key, p.nul_did_envelope(now)))
    await _after_check(ctx)
    await ctx.ask("readyz_after", request(ctx.port, "GET", "/readyz"))


def _dataset_span(now: float) -> tuple[float, float]:
    return now - HEAVY_DAYS * DAY, now


async def graphql_heavy(ctx: Context) -> None:
    start, end = _dataset_span(ctx.now)
    query = p.heavy_query(ctx.accounts.web.id, start, end)
    ctx.findings["query_bytes"] = len(query)
    await ctx.ask("heavy", ctx.graphql(query, body_cap=4 * MIB))


async def graphql_nested(ctx: Context) -> None:
    query = p.nested_query(ctx.accounts.web.id)
    reply = await ctx.ask("nested", ctx.graphql(query, body_cap=64 * MIB))
    body = reply.json()
    if isinstance(body, dict) and isinstance(body.get("data"), dict):
        ctx.findings["release_nodes"] = json.dumps(body["data"]).count('"version"')


async def graphql_nested_statements(ctx: Context) -> None:
    """The nested query once more, in this process on the same data, counting the SQL
    statements it sends (storage.engine.StatementCounter on every engine of the app)."""
    import httpx
    from sqlalchemy.ext.asyncio import AsyncEngine

    from bench.quiet_app import quiet_app
    from storage.engine import StatementCounter

    app = quiet_app(ctx.databases.url(ctx.database))
    async with app.router.lifespan_context(app):
        services = app.state.services
        engines = {
            id(v): v
            for name in dir(services)
            if not name.startswith("_") and isinstance(v := getattr(services, name, None), AsyncEngine)
        }
        counters = [StatementCounter(engine) for engine in engines.values()]
        ctx.findings["engines_counted"] = len(counters)
        query = p.nested_query(ctx.accounts.web.id)
        transport = httpx.ASGITransport(app=app)
        started = time.perf_counter()
        try:
            async with httpx.AsyncClient(transport=transport, base_url="http://attacks") as client:
                response = await client.post(
                    "/graphql", content=p.graphql_body(query), headers=bearer(ctx.accounts.token)
                )
            reply = Reply(status=response.status_code, body=response.content, size=len(response.content))
        except Exception as exc:  # an app that raises still has a statement count
            reply = Reply(error=f"{type(exc).__name__}")
        reply.seconds = time.perf_counter() - started
        ctx.note("nested_in_process", reply)
        ctx.findings["sql_statements"] = sum(c.count for c in counters)
        for counter in counters:
            counter.close()


async def graphql_parser_cache(ctx: Context) -> None:
    queries: list[str] = ctx.payload
    ctx.findings["queries"] = len(queries)
    ctx.findings["query_bytes"] = len(queries[0])
    for n, query in enumerate(queries):
        await ctx.ask(f"query_{n}", ctx.graphql(query))
        ctx.findings["rss_mib_after_queries"] = round(rss_kib(ctx.findings["pid"]).get("VmRSS", 0) / 1024, 1)


BIG_BODY = 200 * MIB


def _big_json_body(size: int) -> Iterator[bytes]:
    head = b'{"query":"{ __typename }","variables":{},"padding":"'
    tail = b'"}'
    remaining = size - len(head) - len(tail)
    yield head
    block = b"a" * CHUNK
    while remaining > 0:
        chunk = block[: min(len(block), remaining)]
        remaining -= len(chunk)
        yield chunk
    yield tail


async def graphql_big_body(ctx: Context) -> None:
    headers = bearer(ctx.accounts.token)
    declared = await request(ctx.port, "POST", "/graphql", headers, _big_json_body(BIG_BODY), length=BIG_BODY)
    ctx.note("declared_length", declared, sent_mib=round(declared.sent / MIB, 1))
    chunked = await request(ctx.port, "POST", "/graphql", headers, _big_json_body(BIG_BODY))
    ctx.note("chunked", chunked, sent_mib=round(chunked.sent / MIB, 1))


BIG_ID = str(p.I64_OVERFLOW)
DAY_SCOPE = "{window: {period: LAST_24_HOURS}}"


def _releases_at(project_id: int, at: str) -> str:
    """The project's releases page evaluated at `at` (v1's `releases(now:)`)."""
    return (
        f'{{ project(id: "{project_id}") {{ health(scope: {{window: {{period: LAST_24_HOURS}}, '
        f'at: "{at}"}}) {{ releases {{ totalCount nodes {{ sessions }} }} }} }} }}'
    )


FAR_FUTURE = "9999-12-31T23:59:59Z"
FAR_PAST = "0001-01-01T00:00:00Z"


async def bad_ids_dates_filters(ctx: Context) -> None:
    pid = ctx.accounts.web.id
    base = [("field", "sum(session)"), ("statsPeriod", "1d"), ("interval", "1h")]
    rest = {
        "rest_project_2p63": [*base, ("project", BIG_ID)],
        "rest_now_9999": [*base, ("now", FAR_FUTURE)],
        "rest_now_0001": [*base, ("now", FAR_PAST)],
        "rest_start_end_9999": [
            ("field", "sum(session)"),
            ("interval", "1h"),
            ("start", "9999-12-31T00:00:00Z"),
            ("end", FAR_FUTURE),
        ],
        "rest_query_3000_parens": [*base, ("query", p.nested_filter())],
        "rest_query_3000_or": [*base, ("query", p.or_filter())],
    }
    for label, params in rest.items():
        reply = await ctx.rest_sessions(params)
        ctx.note(label, reply, detail=_detail(reply))

    sessions = (
        'query($q: String!) { sessions(organization: "%s", query: {fields: ["sum(session)"], '
        'statsPeriod: "1d", interval: "1h", query: $q}) { groups { totals { field value } } } }' % ORG
    )

    gql: dict[str, tuple[str, dict[str, Any] | None]] = {
        "gql_project_2p63": (f'{{ project(id: "{BIG_ID}") {{ slug }} }}', None),
        "gql_release_2p63": (f'{{ release(project: "{BIG_ID}", version: "x") {{ version }} }}', None),
        "gql_releases_2p63": (
            f'{{ organization(slug: "{ORG}") {{ health(scope: {DAY_SCOPE}) '
            f'{{ releases(projects: ["{BIG_ID}"]) {{ totalCount }} }} }} }}',
            None,
        ),
        "gql_now_9999": (_releases_at(pid, FAR_FUTURE), None),
        "gql_now_0001": (_releases_at(pid, FAR_PAST), None),
        "gql_stats_9999": (
            f'{{ release(project: "{pid}", version: "web@1.0.0") {{ health(scope: {{window: '
            f'{{range: {{start: "9999-12-31T00:00:00Z", end: "{FAR_FUTURE}"}}}}}}) '
            "{ series(interval: HOUR) { total } } } }",
            None,
        ),
        "gql_sessions_3000_parens": (sessions, {"q": p.nested_filter()}),
        "gql_sessions_3000_or": (sessions, {"q": p.or_filter()}),
    }
    for label, (query, variables) in gql.items():
        ctx.note(label, await ctx.graphql(query, variables))
    body = p.session_envelope(time.time(), "web@1.0.0")
    reply = await request(
        ctx.port, "POST", f"/api/{BIG_ID}/envelope/", envelope_headers(ctx.accounts.web.key), body
    )
    ctx.note("envelope_project_2p63", reply, detail=_detail(reply))


def _detail(reply: Reply) -> str | None:
    body = reply.json()
    if isinstance(body, dict) and "detail" in body:
        return str(body["detail"])[:160]
    if body is None and reply.body:
        return reply.body[:160].decode("utf-8", "replace")
    return None


async def huge_count(ctx: Context) -> None:
    acc = ctx.accounts
    now = time.time()
    ctx.note(
        "huge_envelope", await ctx.envelope(acc.web.id, acc.web.key, p.huge_count_envelope(now, "web@huge"))
    )
    ctx.note(
        "normal_envelope", await ctx.envelope(acc.web.id, acc.web.key, p.session_envelope(now, "web@normal"))
    )
    reply = await ctx.graphql(
        f'{{ project(id: "{acc.web.id}") {{ health(scope: {DAY_SCOPE}) {{ releases {{ nodes {{ '
        "release { version } sessions adoption { userRate sessionRate } } } } } }"
    )
    ctx.note("releases", reply)
    body = reply.json()
    with contextlib.suppress(TypeError, KeyError, AttributeError):
        ctx.findings["releases"] = body["data"]["project"]["health"]["releases"]["nodes"]
    rest = await ctx.rest_sessions(
        [("field", "sum(session)"), ("groupBy", "release"), ("statsPeriod", "1d"), ("interval", "1d")]
    )
    ctx.note("rest_sum_by_release", rest, detail=_detail(rest))
    body = rest.json()
    with contextlib.suppress(TypeError, KeyError, AttributeError):
        ctx.findings["rest_totals"] = {
            g["by"]["release"]: g["totals"]["sum(session)"] for g in body["groups"]
        }


async def federation_release_entity(ctx: Context) -> None:
    acc = ctx.accounts
    ctx.note(
        "envelope", await ctx.envelope(acc.web.id, acc.web.key, p.session_envelope(time.time(), "web@1.0.0"))
    )
    query = (
        "query($r: [_Any!]!) { _entities(representations: $r) { __typename "
        f"... on Release {{ projectId version health(scope: {DAY_SCOPE}) {{ sessions }} }} "
        "... on Project { id slug } } }"
    )
    representations = [
        {"__typename": "Release", "projectId": str(acc.web.id), "version": "web@1.0.0"},
        {"__typename": "Project", "id": str(acc.web.id)},
    ]
    reply = await ctx.graphql(query, {"r": representations})
    ctx.note("entities", reply)
    body = reply.json()
    if isinstance(body, dict):
        ctx.findings["data"] = body.get("data")


async def cors_preflight(ctx: Context) -> None:
    origin = "http://dashboard.example"
    reply = await request(
        ctx.port,
        "OPTIONS",
        "/graphql",
        {
            "Origin": origin,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization, content-type",
        },
    )
    ctx.note(
        "preflight",
        reply,
        allow_origin=reply.headers.get("access-control-allow-origin"),
        allow_methods=reply.headers.get("access-control-allow-methods"),
        allow_headers=reply.headers.get("access-control-allow-headers"),
    )
    post = await request(
        ctx.port,
        "POST",
        "/graphql",
        {**bearer(ctx.accounts.token), "Origin": origin},
        p.graphql_body("{ __typename }"),
    )
    ctx.note("post_with_origin", post, allow_origin=post.headers.get("access-control-allow-origin"))
    refused = await request(
        ctx.port,
        "OPTIONS",
        "/graphql",
        {"Origin": "http://evil.example", "Access-Control-Request-Method": "POST"},
    )
    ctx.note(
        "preflight_other_origin", refused, allow_origin=refused.headers.get("access-control-allow-origin")
    )


async def import_id_cross_org(ctx: Context) -> None:
    acc = ctx.accounts
    now = time.time()
    results = {}
    for label, org, token in (("first_org", ORG, acc.token), ("second_org", OTHER_ORG, acc.other_token)):
        reply = await request(
            ctx.port,
            "POST",
            f"/api/0/organizations/{org}/sessions/import/?import_id=shared",
            {"Authorization": f"Bearer {token}", "Content-Type": "application/x-ndjson"},
            p.import_body(org, "web", now, 5),
        )
        body = reply.json()
        if isinstance(body, dict):
            results[label] = {k: body.get(k) for k in ("lines", "accepted", "skipped")}
        ctx.note(label, reply, detail=_detail(reply))
    ctx.findings["imports"] = results
    second = results.get("second_org") or {}
    ctx.findings["second_org_lines_skipped"] = second.get("skipped")


async def metrics_open(ctx: Context) -> None:
    acc = ctx.accounts
    ctx.note(
        "envelope", await ctx.envelope(acc.web.id, acc.web.key, p.session_envelope(time.time(), "web@1.0.0"))
    )
    reply = await request(ctx.port, "GET", "/metrics")
    ctx.note("metrics_without_token", reply)
    text = reply.body.decode("utf-8", "replace")
    ctx.findings["lists_per_project_data"] = "yes" if 'project_id="' in text else "no"


ATTACKS = [
    Attack(
        "ingest_bomb_bad_key",
        "194 KiB gzip envelope of 6.4 M non-session items, wrong key",
        ingest_bomb_bad_key,
        prepare=_bomb,
    ),
    Attack(
        "ingest_bomb_good_key", "the same bomb with the project's key", ingest_bomb_good_key, prepare=_bomb
    ),
    Attack(
        "ingest_bomb_x3", "three bombs at once (wrong key); victims meanwhile", ingest_bomb_x3, prepare=_bomb
    ),
    Attack(
        "ingest_big_sessions",
        "legal envelope: 100 sessions items x 11,000 buckets (gzip)",
        ingest_big_sessions,
        prepare=lambda now: p.big_sessions_envelope(now),
    ),
    Attack(
        "ingest_series_flood",
        "30,000 new release/environment series through one key "
        "(300 envelopes of 100 session items, 8 at a time)",
        ingest_series_flood,
        prepare=lambda now: p.flood_envelopes(now),
    ),
    Attack(
        "ingest_huge_did",
        "two envelopes of 100 sessions with a 1,000 KiB did each (gzip), "
        "one session with a NUL in did, then a valid envelope",
        ingest_huge_did,
    ),
    Attack(
        "graphql_heavy",
        "30 aliases x releases(first: 500) x hourly stats over 41 days (500 releases with data on every day)",
        graphql_heavy,
        dataset=True,
    ),
    Attack(
        "graphql_nested",
        "releases -> project -> releases nested 4 deep, first: 15",
        graphql_nested,
        dataset=True,
    ),
    Attack(
        "graphql_nested_statements",
        "the nested query in this process (not over HTTP), counting its SQL statements",
        graphql_nested_statements,
        dataset=True,
    ),
    Attack(
        "graphql_parser_cache",
        "ten distinct 2 MB documents (each a list of 68,000 30-digit integers)",
        graphql_parser_cache,
        prepare=lambda now: p.parser_cache_queries(),
        settle=3.0,
    ),
    Attack(
        "graphql_big_body",
        "a 200 MiB POST body to /graphql (declared length, then chunked)",
        graphql_big_body,
    ),
    Attack(
        "bad_ids_dates_filters",
        "ids of 2^63, now=9999-12-31 and 0001-01-01, 3,000 nested "
        "parentheses and 3,000 OR terms, on REST and GraphQL",
        bad_ids_dates_filters,
    ),
    Attack(
        "huge_count",
        "an aggregate bucket of 4,294,967,295 sessions, then releases "
        "{ health { totalSessions } adoption { adoption } }",
        huge_count,
    ),
    Attack("federation_release_entity", "_entities with a Release representation", federation_release_entity),
    Attack(
        "cors_preflight", "OPTIONS /graphql with Origin and Access-Control-Request-Method", cors_preflight
    ),
    Attack("import_id_cross_org", "two organizations import with the same ?import_id=", import_id_cross_org),
    Attack("metrics_open", "GET /metrics without a token: does it list per-project data?", metrics_open),
]
BY_NAME = {a.name: a for a in ATTACKS}


# -- running -----------------------------------------------------------------------------


class Harness:
    def __init__(self, backend: str, workdir: Path, timeout: float) -> None:
        self.backend = backend
        self.timeout = timeout
        self.databases = Databases(backend, workdir)
        self.workdir = workdir
        self.accounts: Accounts | None = None
        self.dataset_ready = False
        self.dataset_info: dict[str, Any] = {}
        self.now = time.time()

    async def setup(self) -> None:
        url = await self.databases.create_empty("template")
        started = time.perf_counter()
        # Via the command line, as an operator would (it also creates the schema).
        self.accounts = create_accounts(url)
        log(f"accounts created through the CLI in {time.perf_counter() - started:.1f} s")

    async def ensure_dataset(self) -> None:
        if self.dataset_ready:
            return
        url = await self.databases.copy("template", "dataset")
        lines = p.dataset_lines(ORG, "web", self.now)
        path = self.workdir / "dataset.jsonl"
        path.write_bytes(lines)
        started = time.perf_counter()
        cli("import", str(path), database_url=url, timeout=600)
        seconds = time.perf_counter() - started
        self.dataset_info = {
            "releases": 500,
            "days": HEAVY_DAYS,
            "lines": lines.count(b"\n"),
            "import_seconds": round(seconds, 1),
        }
        log(f"dataset imported in {seconds:.1f} s")
        path.unlink()
        self.dataset_ready = True

    async def run(self, attack: Attack) -> dict[str, Any]:
        assert self.accounts is not None
        if attack.dataset:
            await self.ensure_dataset()
        payload = attack.prepare(time.time()) if attack.prepare else None
        url = await self.databases.copy("dataset" if attack.dataset else "template", attack.name)
        server = ServerProcess(url)
        result: dict[str, Any] = {"what": attack.what}
        try:
            await server.wait_ready()
            result.update(await self._measure(attack, server, payload))
        finally:
            server.stop()
            result["db_mib_after"] = _mib(await self.databases.size(attack.name))
            await self.databases.drop(attack.name)
        return result

    async def _measure(self, attack: Attack, server: ServerProcess, payload: Any) -> dict[str, Any]:
        assert self.accounts is not None
        ctx = Context(
            port=server.port,
            accounts=self.accounts,
            now=self.now,
            databases=self.databases,
            database=attack.name,
            payload=payload,
        )
        idle = await baseline(ctx)
        db_before = await ctx.db_size()
        rss_before = rss_kib(server.pid).get("VmRSS", 0)
        ctx.findings["pid"] = server.pid
        sampler = RssSampler(server.pid)
        sampler.start()
        stop = asyncio.Event()
        running = victims(ctx)
        tasks = [asyncio.ensure_future(v.run(stop)) for v in running.values()]
        started = time.perf_counter()
        outcome, error = "done", None
        try:
            await asyncio.wait_for(attack.run(ctx), self.timeout)
        except TimeoutError:
            outcome = "timeout"
        except Exception as exc:  # the harness reports; it never stops at one attack
            traceback.print_exc()
            outcome, error = "harness_error", f"{type(exc).__name__}: {exc}"[:300]
        wall = time.perf_counter() - started
        ctx.close_pending()
        stop.set()
        _done, late = await asyncio.wait(tasks, timeout=VICTIM_GRACE)
        for task in late:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await asyncio.sleep(attack.settle)
        peak = sampler.stop()
        rss_after = rss_kib(server.pid).get("VmRSS", 0)
        ready = await _readyz(server)
        ctx.findings.pop("pid", None)
        out: dict[str, Any] = {
            "outcome": outcome,
            "seconds": round(wall, 2),
            "answers": ctx.answers,
            "findings": ctx.findings,
            "rss_mib": {
                "before": round(rss_before / 1024, 1),
                "peak": round(peak / 1024, 1),
                "after": round(rss_after / 1024, 1),
                "retained": round((rss_after - rss_before) / 1024, 1),
            },
            "victims": {name: {**v.summary(), "idle_ms": idle[name]} for name, v in running.items()},
            "db_mib_before": _mib(db_before),
            "readyz_after": ready.status or ready.error,
            "server_tracebacks": server.errors_logged(),
        }
        if error:
            out["error"] = error
        if not server.alive():
            out["server_exit_code"] = server.proc.returncode
        return out


async def _readyz(server: ServerProcess) -> Reply:
    """/readyz after the attack (a server still busy with it may not answer)."""
    if not server.alive():
        return Reply(error="server exited")
    try:
        return await asyncio.wait_for(request(server.port, "GET", "/readyz"), READYZ_WAIT)
    except TimeoutError:
        return Reply(error=f"no answer within {READYZ_WAIT:.0f} s")


def _mib(size: int | None) -> float | None:
    return None if size is None else round(size / MIB, 2)


def _meta(backend: str, timeout: float, names: list[str]) -> dict[str, Any]:
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True
    ).stdout.strip()
    mem = 0
    with contextlib.suppress(OSError, ValueError, IndexError):
        mem = int(Path("/proc/meminfo").read_text().split()[1]) // 1024
    return {
        "command": "python -m bench.attacks " + " ".join(sys.argv[1:]),
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "commit": commit,
        "backend": backend,
        "timeout_s": timeout,
        "attacks": names,
        "machine": {"cores": os.cpu_count(), "memory_mib": mem, "python": platform.python_version()},
    }


def parse_only(value: str | None) -> list[str]:
    if not value:
        return [a.name for a in ATTACKS]
    names = [n.strip() for n in value.split(",") if n.strip()]
    unknown = [n for n in names if n not in BY_NAME]
    if unknown:
        raise argparse.ArgumentTypeError(
            f"unknown attack(s): {', '.join(unknown)}; known: {', '.join(BY_NAME)}"
        )
    return names


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m bench.attacks", description=__doc__.split("\n\n")[0])
    parser.add_argument("--backend", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument(
        "--only",
        type=parse_only,
        default=None,
        metavar="NAME[,NAME]",
        help="attacks to run (default: all): " + ", ".join(BY_NAME),
    )
    parser.add_argument("--json-out", type=Path, metavar="FILE")
    parser.add_argument(
        "--timeout",
        type=float,
        default=DEFAULT_TIMEOUT,
        help="seconds per attack before it is cancelled and reported as timeout",
    )
    parser.add_argument(
        "--compare",
        type=Path,
        nargs="+",
        metavar="JSON",
        help="run nothing: print a Markdown table of BEFORE.json [AFTER.json]",
    )
    return parser


async def run_all(backend: str, names: list[str], per_attack: float) -> dict[str, Any]:
    # SIGTERM (like Ctrl-C) cancels the run: the running attack's server is stopped and the
    # temporary databases are removed on the way out.
    task = asyncio.current_task()
    assert task is not None
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, task.cancel)
    with tempfile.TemporaryDirectory(prefix="relhealth-attacks-") as tmp:
        harness = Harness(backend, Path(tmp), per_attack)
        try:
            await harness.setup()
            results: dict[str, Any] = {}
            for name in names:
                log(f"attack {name} ...")
                try:
                    results[name] = await harness.run(BY_NAME[name])
                except Exception as exc:
                    traceback.print_exc()
                    results[name] = {
                        "outcome": "harness_error",
                        "error": f"{type(exc).__name__}: {exc}"[:500],
                    }
                r = results[name]
                log(
                    f"  {r.get('outcome')} in {r.get('seconds')} s, peak RSS "
                    f"{r.get('rss_mib', {}).get('peak')} MiB"
                )
        finally:
            await harness.databases.drop_all()
        doc = {"meta": _meta(backend, per_attack, names), "attacks": results}
        if harness.dataset_info:
            doc["meta"]["dataset"] = harness.dataset_info
        return doc


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.compare:
        if len(args.compare) > 2:
            raise SystemExit("--compare takes BEFORE.json and optionally AFTER.json")
        docs = [json.loads(path.read_text()) for path in args.compare]
        print(compare_markdown(*docs), end="")
        return 0
    names = args.only or [a.name for a in ATTACKS]
    try:
        doc = asyncio.run(run_all(args.backend, names, args.timeout))
    except (asyncio.CancelledError, KeyboardInterrupt):
        log("interrupted: servers stopped, temporary databases removed")
        return 130
    text = json.dumps(doc, indent=1)
    if args.json_out:
        args.json_out.parent.mkdir(parents=True, exist_ok=True)
        args.json_out.write_text(text + "\n")
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
