"""`python -m bench --peer clickhouse`: the ClickHouse peer as a phase of the benchmark.

Its JSON sits under `peer.clickhouse`, beside `queries`; each question also gets the
ratio of relhealth's HTTP p50 (measured by the query phase of the same run) to
ClickHouse's p50 from raw rows and from rollups, and the check of relhealth's HTTP answer
against ClickHouse's exact answer from raw rows (`http_vs_clickhouse`: equal, or within
the sketch error on a v2 store). Skipped, with the reason in the JSON, when chdb is not
installed or the backend is not SQLite.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from bench import queries as q
from bench.agreement import EXACT, Tolerance
from bench.clickhouse_peer import SOURCES, chdb_available
from bench.dataset import Manifest

QUESTIONS = ("sessions_90d_by_release", "releases_page", "release_details", "sessions_24h_by_status")


def skip_reason(backend: str, has_chdb: bool) -> str | None:
    if not has_chdb:
        return "chdb is not installed (pip install -e '.[bench]')"
    if backend != "sqlite":
        return "the ClickHouse peer runs against the SQLite dataset only"
    return None


def with_http_ratios(peer: dict[str, Any], queries: dict[str, Any]) -> dict[str, Any]:
    """Adds `http_over_clickhouse_p50` (relhealth HTTP p50 / ClickHouse p50) per source,
    `http_over_fastest_clickhouse_p50` (over the faster of the two), and relhealth's SQL
    baseline figures from the query phase when the peer did not time them itself."""
    for name in QUESTIONS:
        measured = queries.get(name, {})
        http = measured.get("http", {}).get("p50_ms")
        if name not in peer or not http:
            continue
        for kind in SOURCES:
            ch = peer[name][f"clickhouse_{kind}"]
            ch["http_over_clickhouse_p50"] = round(http / max(0.01, ch["p50_ms"]), 3)
        fastest = min(peer[name][f"clickhouse_{kind}"]["p50_ms"] for kind in SOURCES)
        peer[name]["http_over_fastest_clickhouse_p50"] = round(http / max(0.01, fastest), 3)
        peer[name]["relhealth_http"] = {"p50_ms": http}
        if "relhealth_sql" not in peer[name] and "sql_baseline" in measured:
            peer[name]["relhealth_sql"] = measured["sql_baseline"]
    return peer


def with_http_agreement(
    peer: dict[str, Any], bodies: dict[str, Any], answers: dict[str, Any], tol: Tolerance = EXACT
) -> dict[str, Any]:
    """Adds `http_vs_clickhouse`: relhealth's HTTP answer (the query phase's last one)
    checked against ClickHouse's exact answer from raw rows."""
    for name in QUESTIONS:
        if name in peer and name in bodies and name in answers:
            peer[name]["http_vs_clickhouse"] = q.CHECKS[name](bodies[name], answers[name], tol).summary()
    return peer


def clickhouse_peer_result(
    m: Manifest,
    queries: dict[str, Any],
    log: Callable[[str], None],
    bodies: dict[str, Any] | None = None,
    tol: Tolerance = EXACT,
) -> dict[str, Any]:
    reason = skip_reason(m.backend, chdb_available())
    if reason:
        log(f"  peer skipped: {reason}")
        return {"skipped": reason}
    from bench.clickhouse_peer import peer_phase

    answers: dict[str, Any] = {}
    peer = peer_phase(m, log=log, time_baseline=False, answers=answers)
    with_http_ratios(peer, queries)
    return with_http_agreement(peer, bodies or {}, answers, tol)


def render_peer(peer: dict[str, Any]) -> list[str]:
    """Markdown lines for the report."""
    if "skipped" in peer:
        return [f"ClickHouse peer: skipped ({peer['skipped']})."]
    load = peer["load"]
    lines = [
        f"ClickHouse peer ({peer['engine']}): {load['raw_rows']:,} raw rows, {load['rollup_rows']:,} "
        f"rollup rows, loaded in {load['load_seconds']} s; MiB per million sessions: "
        + ", ".join(f"{t} {v}" for t, v in load["mib_per_million_sessions"].items())
        + ".",
        "",
        "| query | relhealth HTTP p50 ms | relhealth SQL p50 ms | CH raw p50 ms | CH rollup p50 ms "
        "| HTTP / CH raw | HTTP / CH rollup | HTTP = CH raw | SQL = CH (raw / rollup) | worst estimate error |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for name in QUESTIONS:
        if name not in peer:
            continue
        r = peer[name]
        raw, roll = r["clickhouse_raw"], r["clickhouse_rollup"]
        same = " / ".join(_yes(x["same_numbers"]) for x in (raw, roll))
        http = r.get("http_vs_clickhouse")
        worst = max(
            (x.get("worst_relative_error", 0.0) for x in (raw, roll, http or {})),
            default=0.0,
        )
        lines.append(
            f"| {name} | {r.get('relhealth_http', {}).get('p50_ms', '-')} | "
            f"{r.get('relhealth_sql', {}).get('p50_ms', '-')} | "
            f"{raw['p50_ms']} | {roll['p50_ms']} | {raw.get('http_over_clickhouse_p50', '-')} | "
            f"{roll.get('http_over_clickhouse_p50', '-')} | {_yes(http['same_numbers']) if http else '-'} | "
            f"{same} | {worst * 100:.2f} % |"
        )
    return lines


def _yes(flag: bool) -> str:
    return "yes" if flag else "**no**"
