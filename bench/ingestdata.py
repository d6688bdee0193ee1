"""Request bodies for the ingest benchmark and JSON lines for the bulk-import benchmark.

Envelopes look like what SDKs send: a browser session (`init` + `exited` in one update,
as a short page visit reports it) per envelope, or a server SDK's `sessions` item with
per-minute aggregate buckets. Import lines mix individual session updates (an `init`
update, then the final `exited` / `crashed` / `errored` one) with aggregate records,
as an export of another server would.
"""

from __future__ import annotations

import json
import random
import uuid
from datetime import UTC, datetime

#: Aggregate buckets per `sessions` envelope (a server SDK flushing a few minutes).
BUCKETS_PER_ENVELOPE = 20
#: Share of import lines that are aggregate records, and their buckets per line.
IMPORT_AGGREGATE_SHARE = 0.1
IMPORT_BUCKETS_PER_LINE = 5


def _iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def session_envelopes(n: int, now: float, seed: int = 1) -> list[bytes]:
    rng = random.Random(f"bench-envelopes:{seed}")
    users = [str(uuid.UUID(int=rng.getrandbits(128), version=4)) for _ in range(max(1, n // 3))]
    releases = [f"web@9.{i}.0" for i in range(5)]
    out = []
    for _ in range(n):
        started = now - rng.uniform(0, 3 * 3600)
        crashed = rng.random() < 0.01
        payload = {
            "sid": str(uuid.UUID(int=rng.getrandbits(128), version=4)),
            "did": rng.choice(users),
            "init": True,
            "started": _iso(started),
            "timestamp": _iso(started + 30),
            "status": "crashed" if crashed else "exited",
            "errors": 1 if crashed else 0,
            "duration": round(rng.lognormvariate(4.0, 1.0), 3),
            "attrs": {"release": rng.choice(releases), "environment": "production"},
        }
        header = {"sent_at": _iso(now), "sdk": {"name": "sentry.javascript.browser", "version": "8.30.0"}}
        out.append(
            b"\n".join([json.dumps(header).encode(), b'{"type":"session"}', json.dumps(payload).encode()])
            + b"\n"
        )
    return out


def aggregate_envelopes(n: int, now: float, seed: int = 1) -> list[bytes]:
    rng = random.Random(f"bench-aggregates:{seed}")
    releases = [f"api@9.{i}.0" for i in range(3)]
    out = []
    for _ in range(n):
        first = int(now - rng.uniform(0, 3 * 3600)) // 60 * 60
        aggregates = []
        for k in range(BUCKETS_PER_ENVELOPE):
            exited = rng.randint(5, 40)
            aggregates.append(
                {
                    "started": _iso(first + 60 * k),
                    "exited": exited,
                    "errored": rng.randint(0, 2),
                    "crashed": 1 if rng.random() < 0.05 else 0,
                }
            )
        payload = {
            "aggregates": aggregates,
            "attrs": {"release": rng.choice(releases), "environment": "production"},
        }
        header = {"sent_at": _iso(now), "sdk": {"name": "sentry.python", "version": "2.20.0"}}
        out.append(
            b"\n".join([json.dumps(header).encode(), b'{"type":"sessions"}', json.dumps(payload).encode()])
            + b"\n"
        )
    return out


def envelope_updates(body: bytes) -> tuple[int, int]:
    """(session updates or aggregate buckets, sessions) carried by one envelope body."""
    payload = json.loads(body.split(b"\n")[2])
    if "aggregates" in payload:
        buckets = payload["aggregates"]
        return len(buckets), sum(
            b.get("exited", 0) + b.get("errored", 0) + b.get("crashed", 0) for b in buckets
        )
    return 1, 1


def import_lines(n_lines: int, org: str, end: float, seed: int = 1) -> tuple[bytes, int]:
    """About `n_lines` JSON lines ending before `end`, and the number of session updates
    (session lines + aggregate buckets) they carry."""
    rng = random.Random(f"bench-import:{seed}")
    users = [str(uuid.UUID(int=rng.getrandbits(128), version=4)) for _ in range(max(10, n_lines // 8))]
    projects = [("web", "browser"), ("ios", "mobile"), ("android", "mobile")]
    versions = {slug: [f"{slug}@8.{i}.0" for i in range(6)] for slug, _ in projects}
    envs = ["production"] * 18 + ["staging", "development"]
    span = 7 * 86400
    # Chronological: one session's updates are adjacent, sessions are sorted by start.
    lines: list[bytes] = []
    updates = 0
    t = end - span
    step = span / max(1, n_lines)
    while len(lines) < n_lines:
        t += step * 2
        if rng.random() < IMPORT_AGGREGATE_SHARE:
            first = int(t) // 60 * 60
            record = {
                "type": "sessions",
                "org": org,
                "project": "api",
                "attrs": {"release": f"api@8.{rng.randint(0, 3)}.0", "environment": rng.choice(envs)},
                "aggregates": [
                    {
                        "started": _iso(first + 60 * k),
                        "exited": rng.randint(1, 30),
                        "errored": rng.randint(0, 1),
                    }
                    for k in range(IMPORT_BUCKETS_PER_LINE)
                ],
            }
            lines.append(json.dumps(record, separators=(",", ":")).encode())
            updates += IMPORT_BUCKETS_PER_LINE
            continue
        slug, _mode = projects[rng.randrange(len(projects))]
        sid = str(uuid.UUID(int=rng.getrandbits(128), version=4))
        did = rng.choice(users)
        attrs = {"release": rng.choice(versions[slug]), "environment": rng.choice(envs)}
        started = _iso(t)
        base = {
            "type": "session",
            "org": org,
            "project": slug,
            "sid": sid,
            "did": did,
            "started": started,
            "attrs": attrs,
        }
        lines.append(
            json.dumps(
                {**base, "seq": 0, "init": True, "timestamp": started, "status": "ok"}, separators=(",", ":")
            ).encode()
        )
        roll = rng.random()
        status = "crashed" if roll < 0.01 else "abnormal" if roll < 0.013 else "exited"
        duration = round(rng.lognormvariate(4.5, 1.0), 3)
        final = {
            **base,
            "seq": 1,
            "timestamp": _iso(t + duration),
            "status": status,
            "errors": 1 if status != "exited" or rng.random() < 0.03 else 0,
        }
        if status == "exited":
            final["duration"] = duration
        lines.append(json.dumps(final, separators=(",", ":")).encode())
        updates += 2
    return b"\n".join(lines) + b"\n", updates
