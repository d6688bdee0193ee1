"""`python -m bench --peer clickhouse`: the ClickHouse peer as a phase of the benchmark.

Its JSON sits under `peer.clickhouse`, beside `queries`; each question also gets the
ratio of relhealth's HTTP p50 (measured by the query phase of the same run) to
ClickHouse's p50 from raw rows and from rollups. Skipped, with the reason in the JSON,
when chdb is not installed or the backend is not SQLite.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

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
    """Adds `http_over_clickhouse_p50` (relhealth HTTP p50 / ClickHouse p50) per source."""
    for name in QUESTIONS:
        http = queries.get(name, {}).get("http", {}).get("p50_ms")
        if name not in peer or not http:
            continue
        for kind in SOURCES:
            ch = peer[name][f"clickhouse_{kind}"]
            ch["http_over_clickhouse_p50"] = round(http / max(0.01, ch["p50_ms"]), 2)
        peer[name]["relhealth_http"] = {"p50_ms": http}
    return peer


def clickhouse_peer_result(
    m: Manifest, queries: dict[str, Any], log: Callable[[str], None]
) -> dict[str, Any]:
    reason = skip_reason(m.backend, chdb_available())
    if reason:
        log(f"  peer skipped: {reason}")
        return {"skipped": reason}
    from bench.clickhouse_peer import peer_phase

    return with_http_ratios(peer_phase(m, log=log), queries)


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
        "| HTTP / CH raw | HTTP / CH rollup | same numbers (raw / rollup) |",
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for name in QUESTIONS:
        if name not in peer:
            continue
        r = peer[name]
        raw, roll = r["clickhouse_raw"], r["clickhouse_rollup"]
        same = " / ".join("yes" if x["same_numbers"] else "**no**" for x in (raw, roll))
        lines.append(
            f"| {name} | {r.get('relhealth_http', {}).get('p50_ms', '-')} | {r['relhealth_sql']['p50_ms']} | "
            f"{raw['p50_ms']} | {roll['p50_ms']} | {raw.get('http_over_clickhouse_p50', '-')} | "
            f"{roll.get('http_over_clickhouse_p50', '-')} | {same} |"
        )
    return lines
