"""The benchmark suite's small path runs end to end and reports every figure.

Timings are never asserted (they depend on the machine); the structure of the JSON, the
hand-written SQL baselines giving the same numbers as the API, and every ingest request
being accepted are.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from bench.run import TARGETS, render_markdown

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[1]

QUERIES = ("releases_page", "release_details", "sessions_90d_by_release", "sessions_24h_by_status")
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


def test_small_benchmark_reports_every_figure(tmp_path):
    out = tmp_path / "bench.json"
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
            str(tmp_path / "data"),
            "--output",
            str(out),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = json.loads(out.read_text())
    assert json.loads(proc.stdout) == result

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

    for name in QUERIES:
        q = result["queries"][name]
        assert {"p50_ms", "p95_ms"} <= q["http"].keys() and {"p50_ms", "p95_ms"} <= q["sql_baseline"].keys()
        assert "ratio_p50" in q and "ratio_p95" in q
        assert q["same_numbers"] is True, (name, proc.stderr[-3000:])
        counts = result["statements"][name]
        assert counts["1"]["statements"] > 0 and counts["50"]["statements"] > 0
        assert "constant" in counts

    assert result["targets"].keys() == TARGETS.keys()
    for target in result["targets"].values():
        assert {"what", "value", "target", "pass"} <= target.keys()

    assert "| releases_page |" in render_markdown(result)
