"""Request bodies and queries of the attack harness (`python -m bench.attacks`).

Pure functions: numbers in, bytes or strings out. Sizes default to the figures of issue 7
so that the harness reproduces its measurements; the smoke test calls them small.
"""

from __future__ import annotations

import gzip
import json
import uuid
from datetime import UTC, datetime

#: 6.4 million `{"type":"x"}\n{}\n` items: 97.7 MiB decoded (under the 100 MiB envelope
#: limit), about 194 KiB gzipped.
BOMB_ITEMS = 6_400_000
BOMB_ITEM = b'{"type":"x"}\n{}\n'
#: A legal `sessions` flood: 100 items (the per-envelope item limit) of 11,000 buckets.
BIG_SESSIONS_ITEMS = 100
BIG_SESSIONS_BUCKETS = 11_000
#: Distinct (release, environment) series created through one DSN key.
FLOOD_SERIES = 30_000
FLOOD_PER_ENVELOPE = 100
#: A `did` just under the 1 MiB session-item limit.
HUGE_DID_BYTES = 1000 * 1024
HUGE_DID_ITEMS = 100
U32_MAX = 4_294_967_295
I64_OVERFLOW = 2**63
PARSER_CACHE_QUERIES = 10
PARSER_CACHE_QUERY_BYTES = 2 * 1024 * 1024


def iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def iso_seconds(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _envelope(header: dict[str, object], items: list[tuple[dict[str, object], bytes]]) -> bytes:
    parts = [json.dumps(header).encode()]
    for item_header, payload in items:
        parts.append(json.dumps(item_header).encode())
        parts.append(payload)
    return b"\n".join(parts) + b"\n"


def _json(value: object) -> bytes:
    return json.dumps(value, separators=(",", ":")).encode()


# -- envelopes ---------------------------------------------------------------------------


def bomb_envelope(items: int = BOMB_ITEMS) -> bytes:
    """A gzip body of `items` tiny non-session items (the decompression bomb)."""
    return gzip.compress(b"{}\n" + BOMB_ITEM * items, compresslevel=9)


def session_payload(
    now: float,
    release: str,
    *,
    did: str | None = "user-1",
    environment: str | None = "production",
    sid: str | None = None,
    seed: int = 0,
) -> bytes:
    """An `exited` session that started a minute before `now` (inside the ingest window)."""
    attrs: dict[str, object] = {"release": release}
    if environment is not None:
        attrs["environment"] = environment
    payload: dict[str, object] = {
        "sid": sid or str(uuid.UUID(int=seed + 1, version=4)),
        "init": True,
        "started": iso(now - 60),
        "timestamp": iso(now - 30),
        "status": "exited",
        "errors": 0,
        "duration": 30.0,
        "attrs": attrs,
    }
    if did is not None:
        payload["did"] = did
    return _json(payload)


def session_envelope(now: float, release: str, **kwargs: object) -> bytes:
    """One valid `session` item (the victim's envelope and the small probes)."""
    payload = session_payload(now, release, **kwargs)  # type: ignore[arg-type]
    return _envelope({"sent_at": iso(now)}, [({"type": "session", "length": len(payload)}, payload)])


def aggregate_payload(now: float, release: str, buckets: int, *, seed: int = 0, exited: int = 1) -> bytes:
    """A `sessions` item with `buckets` buckets 30 s apart, newest a minute before `now`
    (11,000 buckets span 92 hours: inside the 5-day window)."""
    aggregates = [
        {"started": iso_seconds(now - 60 - 30 * k), "did": f"u{seed}-{k % 1000}", "exited": exited}
        for k in range(buckets)
    ]
    return _json({"aggregates": aggregates, "attrs": {"release": release, "environment": "production"}})


def big_sessions_envelope(
    now: float,
    items: int = BIG_SESSIONS_ITEMS,
    buckets: int = BIG_SESSIONS_BUCKETS,
    release: str = "web@1.0.0",
) -> bytes:
    """A legal but huge envelope: `items` `sessions` items of `buckets` buckets, gzipped."""
    parts = [({"type": "sessions"}, aggregate_payload(now, release, buckets, seed=i)) for i in range(items)]
    return gzip.compress(_envelope({"sent_at": iso(now)}, parts), compresslevel=6)


def huge_count_envelope(now: float, release: str, count: int = U32_MAX) -> bytes:
    """One aggregate bucket of `count` exited sessions (the largest count Relay accepts)."""
    payload = _json(
        {
            "aggregates": [{"started": iso_seconds(now - 120), "exited": count}],
            "attrs": {"release": release, "environment": "production"},
        }
    )
    return _envelope({"sent_at": iso(now)}, [({"type": "sessions"}, payload)])


def flood_envelopes(
    now: float, series: int = FLOOD_SERIES, per_envelope: int = FLOOD_PER_ENVELOPE
) -> list[bytes]:
    """Envelopes whose session items each name a new release and a new environment."""
    out = []
    for first in range(0, series, per_envelope):
        items = []
        for n in range(first, min(series, first + per_envelope)):
            payload = session_payload(now, f"flood@{n}", environment=f"env{n}", did=f"d{n}", seed=n)
            items.append(({"type": "session", "length": len(payload)}, payload))
        out.append(_envelope({"sent_at": iso(now)}, items))
    return out


def huge_did_envelope(
    now: float, did_bytes: int = HUGE_DID_BYTES, items: int = HUGE_DID_ITEMS, seed: int = 0
) -> bytes:
    """`items` sessions (distinct sids and dids) each with a `did` of `did_bytes`, gzipped:
    a small body, 97.7 MiB decoded (under the envelope limit), every item under 1 MiB."""
    parts = []
    for n in range(items):
        did = f"{seed}-{n}-".ljust(did_bytes, "d")
        payload = session_payload(now, "web@1.0.0", did=did, seed=seed * 1000 + n)
        parts.append(({"type": "session", "length": len(payload)}, payload))
    return gzip.compress(_envelope({"sent_at": iso(now)}, parts), compresslevel=6)


def nul_did_envelope(now: float) -> bytes:
    return session_envelope(now, "web@1.0.0", did="user\u0000nul", seed=7)


# -- bulk import (the dataset of the heavy queries) --------------------------------------


def dataset_lines(
    org: str, project: str, end: float, releases: int = 500, days: int = 41, hours_per_day: int = 4
) -> bytes:
    """JSON lines for `relhealth import`: every release has aggregates on each of `days`
    days up to `end` (`hours_per_day` hourly buckets a day), so every release shows in a
    24-hour releases page and its stats series spans the whole range."""
    hour = 3600
    last_hour = int(end) // hour * hour - hour
    step = 24 // hours_per_day
    lines = []
    for r in range(releases):
        release = f"{project}@{r // 100}.{r % 100}.0"
        for d in range(days):
            day_end = last_hour - d * 24 * hour
            aggregates = [
                {
                    "started": iso_seconds(day_end - h * step * hour - (r % 60) * 60),
                    "exited": 3 + (r + d + h) % 7,
                    "errored": (r + h) % 2,
                    "crashed": 1 if (r + d) % 11 == 0 and h == 0 else 0,
                }
                for h in range(hours_per_day)
            ]
            lines.append(
                _json(
                    {
                        "type": "sessions",
                        "org": org,
                        "project": project,
                        "attrs": {"release": release, "environment": "production"},
                        "aggregates": aggregates,
                    }
                )
            )
    return b"\n".join(lines) + b"\n"


def import_body(org: str, project: str, now: float, releases: int) -> bytes:
    """A few session lines for the cross-organization import-id probe."""
    lines = [
        _json(
            {
                "type": "session",
                "org": org,
                "project": project,
                "sid": str(uuid.UUID(int=1000 + n, version=4)),
                "did": f"imp{n}",
                "init": True,
                "started": iso(now - 3600),
                "timestamp": iso(now - 3590),
                "status": "exited",
                "errors": 0,
                "attrs": {"release": f"{project}@imported.{n}", "environment": "production"},
            }
        )
        for n in range(releases)
    ]
    return b"\n".join(lines) + b"\n"


# -- GraphQL ------------------------------------------------------------------------------

STATS_FIELDS = (
    "intervals total healthy errored crashed abnormal unhandled durationP50Seconds durationP90Seconds"
)
#: API v2's largest page and the server's alias limit (`graphql_max_aliases`).
PAGE_MAX = 100
MAX_ALIASES = 30


def heavy_query(
    project_id: int, start: float, end: float, aliases: int = MAX_ALIASES, first: int = PAGE_MAX
) -> str:
    """`aliases` aliases of the project's releases ranked over 90 days (`first` each, the
    largest page), each release with its hourly series over [start, end]. Each alias
    starts one second later, so no two share a dataloader key. (v1's was 30 x 500
    releases; v2 pages hold 100 and the alias limit stays 30.)"""
    parts = []
    for a in range(aliases):
        scope = f'{{window: {{range: {{start: "{iso_seconds(start + a)}", end: "{iso_seconds(end)}"}}}}}}'
        parts.append(
            f'a{a}: project(id: "{project_id}") {{ health(scope: {{window: {{period: LAST_90_DAYS}}}}) '
            f"{{ releases(first: {first}) {{ nodes {{ release {{ version health(scope: {scope}) "
            f"{{ series(interval: HOUR, stat: SESSIONS) {{ {STATS_FIELDS} }} }} }} }} }} }} }}"
        )
    return "{ " + " ".join(parts) + " }"


def nested_query(project_id: int, depth: int = 3, first: int = 38) -> str:
    """`project -> releases -> project -> releases`: `depth` levels of releases, the first
    ranked over 24 h (`health.releases`), the others the project's catalogue, within the
    depth limit of 12 (v1's 4 levels x 15 fit; in v2 a root entity comes first, so 3
    levels x 38, 38^3 >= 15^4 release nodes)."""
    inner = "version"
    for _ in range(depth - 1):
        inner = f"version project {{ releases(first: {first}) {{ nodes {{ {inner} }} }} }}"
    return (
        f'{{ project(id: "{project_id}") {{ health(scope: {{window: {{period: LAST_24_HOURS}}}}) '
        f"{{ releases(first: {first}) {{ nodes {{ release {{ {inner} }} }} }} }} }} }}"
    )


def parser_cache_queries(
    count: int = PARSER_CACHE_QUERIES, size: int = PARSER_CACHE_QUERY_BYTES
) -> list[str]:
    """`count` distinct documents of about `size` bytes, each one list argument of
    30-digit integers (about 68,000 syntax nodes per 2 MB) that validation rejects
    quickly (unknown argument): the cost is parsing, and what stays cached after it."""
    out = []
    for n in range(count):
        head = f"query Q{n} {{ __typename(x: ["
        value = f"{10**29 + n},"
        values = max(1, (size - len(head) - 4) // len(value))
        out.append(head + value * values + "]) }")
    return out


def graphql_body(query: str, variables: dict[str, object] | None = None) -> bytes:
    body: dict[str, object] = {"query": query}
    if variables:
        body["variables"] = variables
    return _json(body)


def nested_filter(depth: int = 3000) -> str:
    return "(" * depth + "release:x" + ")" * depth


def or_filter(terms: int = 3000) -> str:
    return " OR ".join(f"release:r{n}" for n in range(terms))
