"""The benchmark's small path runs end to end and reports every figure (issue 8 section 6).

Timings are never asserted (they depend on the machine); the structure of the JSON, the
hand-written SQL baselines and ClickHouse giving the same numbers as the API, flat
statement counts, and every ingest request being accepted are.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from bench.run import FEW_RELEASES, MANY_RELEASES, QUERY_NAMES, TARGETS, render_markdown

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[1]

INGEST_FIGURES = (
    "requests",
    "ok",
    "non_200",
    "seconds",
    "requests_per_s",
    "session_updates_per_s",
    "sessions_per_s",
    "p50_ms",
    "p95_ms",
    "rss_mib",
    "peak_rss_mib",
)


STORE_FIGURES = ("method", "mib", "mib_per_million_sessions", "tables_mib")
PEER_TARGETS = (
    "sessions_90d_vs_clickhouse_raw",
    "sessions_90d_vs_clickhouse_rollup",
    "releases_page_vs_clickhouse",
    "release_details_vs_clickhouse",
    "sessions_24h_vs_clickhouse",
    "answers_equal_clickhouse",
)


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    """One generated small dataset for both runs of this module."""
    return tmp_path_factory.mktemp("bench-data")


def _run(data_dir: Path, out: Path, *extra: str) -> tuple[dict, str]:
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "bench",
            "--size",
            "small",
            "--quick",
            "--no-report",
            "--data-dir",
            str(data_dir),
            "--output",
            str(out),
            *extra,
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = json.loads(out.read_text())
    assert json.loads(proc.stdout) == result
    return result, proc.stderr


def test_small_benchmark_reports_every_figure(tmp_path, data_dir):
    """The path CI runs (without chdb): every figure but the ClickHouse peer's."""
    result, stderr = _run(data_dir, tmp_path / "bench.json", "--peer", "none")

    meta = result["meta"]
    assert meta["size"] == "small" and meta["backend"] == "sqlite"
    assert {"cpu", "cores", "memory_mib", "os", "versions"} <= meta["machine"].keys()
    assert {"python", "sqlite", "starlette", "uvicorn", "sqlalchemy"} <= meta["machine"]["versions"].keys()

    ds = result["dataset"]
    assert {
        "sessions",
        "updates",
        "users",
        "releases",
        "days",
        "projects",
        "load_seconds",
        "cached",
    } <= ds.keys()
    assert ds["sessions"] > 0 and ds["users"] > 0 and len(ds["projects"]) == 5
    # 5 projects x 8 releases (bench/dataset.py SIZES["small"])
    assert ds["releases"] == 40

    ingest = result["ingest"]
    for kind in ("sessions", "aggregates"):
        for server in ("relhealth", "bare"):
            figures = ingest[kind][server]
            assert set(INGEST_FIGURES) <= figures.keys()
            assert figures["requests"] > 0 and figures["non_200"] == 0
        assert "ratio_vs_bare" in ingest[kind]

    imp = result["import"]
    assert {
        "lines",
        "session_updates",
        "seconds",
        "lines_per_s",
        "session_updates_per_s",
        "peak_rss_mib",
        "rejected",
    } <= imp.keys()
    assert imp["rejected"] == 0 and imp["lines"] > 0

    assert result["queries"]["schema"] in ("v1", "v2")
    few, many = str(FEW_RELEASES), str(MANY_RELEASES)
    for name in QUERY_NAMES:
        q = result["queries"][name]
        assert {"p50_ms", "p95_ms"} <= q["http"].keys() and {"p50_ms", "p95_ms"} <= q["sql_baseline"].keys()
        assert "ratio_p50" in q and "ratio_p95" in q
        assert q["same_numbers"] is True, (name, stderr[-3000:])
        counts = result["statements"][name]
        assert counts[few]["statements"] > 0 and counts[many]["statements"] > 0
        assert counts["constant"] is True, (name, counts)
    # the small dataset has 40 releases: 10 of them, then all 40 (details cover 90 days)
    assert result["statements"]["release_details"][few]["releases"] == 10
    assert result["statements"]["release_details"][many]["releases"] == 40

    store = result["store"]
    assert set(STORE_FIGURES) <= store.keys()
    assert store["mib"] > 0
    assert store["mib_per_million_sessions"] == pytest.approx(store["mib"] / (ds["sessions"] / 1e6), rel=0.01)
    assert "fact_counter" in store["tables_mib"]

    assert result["peer"]["clickhouse"] == {"skipped": "not asked for (--peer none)"}
    assert result["targets"].keys() == TARGETS.keys()
    for key, target in result["targets"].items():
        assert {"what", "value", "target", "pass"} <= target.keys()
        if key in PEER_TARGETS:
            assert target["value"] is None and target["pass"] is None
        else:
            assert isinstance(target["value"], float) and isinstance(target["pass"], bool)

    text = render_markdown(result)
    assert "| releases_page |" in text and "MiB per million sessions" in text


def test_small_benchmark_agrees_with_clickhouse(tmp_path, data_dir):
    """The whole command, ClickHouse peer included (chdb is the optional `bench` extra)."""
    pytest.importorskip("chdb")
    result, stderr = _run(data_dir, tmp_path / "bench.json")
    peer = result["peer"]["clickhouse"]
    assert "skipped" not in peer, peer
    for name in QUERY_NAMES:
        entry = peer[name]
        http = entry["http_vs_clickhouse"]
        assert http["same_numbers"] is True, (name, http["differences"])
        # 4,000 users at most: below the sketches' exact limit, so nothing is estimated
        assert http["estimated"] == 0 and http["compared"] > 0
        for kind in ("raw", "rollup"):
            ch = entry[f"clickhouse_{kind}"]
            assert ch["same_numbers"] is True, (name, kind, ch["differences"])
            assert ch["p50_ms"] > 0 and ch["http_over_clickhouse_p50"] > 0
        assert entry["http_over_fastest_clickhouse_p50"] >= max(
            entry["clickhouse_raw"]["http_over_clickhouse_p50"],
            entry["clickhouse_rollup"]["http_over_clickhouse_p50"],
        )
        assert entry["relhealth_sql"]["p50_ms"] == result["queries"][name]["sql_baseline"]["p50_ms"]
    assert peer["load"]["raw_rows"] == result["dataset"]["updates"]
    for key in PEER_TARGETS:
        target = result["targets"][key]
        assert isinstance(target["value"], float) and isinstance(target["pass"], bool), key
    assert result["targets"]["answers_equal_clickhouse"]["value"] == 1.0
    assert "| sessions_90d_by_release |" in render_markdown(result)
