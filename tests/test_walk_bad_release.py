"""The README's walk-through "A bad release ships", run for real: `scripts/walk-bad-release.sh`
(the README's commands, verbatim) with real processes on 127.0.0.1: `relhealth serve`, the
CLI, the real Sentry SDK in `examples/shop_app.py` and `relhealth webhooks receive`.

Worked by hand: shop@1.0 sends 300 healthy sessions; shop@2.0, the latest release, sends
200 with every tenth crashed: 180/200 = 90 % crash-free sessions. The gate (WARN below 99,
FAIL below 97, at least 100 sessions) says FAIL, so `relhealth gate` exits 2, and its
change of verdict is a `gate.verdict_changed` event. The alert
rule (latest release, last hour, WARNING below 99, CRITICAL below 97, 100 sessions) goes
from OK straight to CRITICAL at 90: one `alert.transition` event, delivered once."""

from __future__ import annotations

import itertools
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import free_port

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "scripts" / "walk-bad-release.sh"

pytestmark = pytest.mark.slow


def test_the_readme_shows_the_walk_command_for_command() -> None:
    """Every command line of the script is in the README's walk-through, so the two agree."""
    readme = (ROOT / "README.md").read_text()
    lines = SCRIPT.read_text().splitlines()
    # The script's own defaults come before its `trap` line; the README sets them itself.
    body = lines[next(i for i, line in enumerate(lines) if line.startswith("trap ")) + 1 :]
    commands = [line for line in body if line.strip()]
    assert len(commands) > 20
    missing = [line for line in commands if line not in readme]
    assert not missing


def test_a_bad_release_fails_the_gate_and_fires_the_webhook(tmp_path: Path) -> None:
    if shutil.which("curl") is None:
        pytest.skip("curl is not installed") if os.environ.get("CI") != "true" else pytest.fail(
            "curl missing"
        )
    bin_dir = Path(sys.executable).parent
    (tmp_path / "examples").symlink_to(ROOT / "examples")
    env = {
        **os.environ,
        "RH": str(bin_dir / "relhealth"),
        "PY": sys.executable,
        "RELHEALTH_PORT": str(free_port()),
        "HOOK_PORT": str(free_port()),
        "RELHEALTH_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'walk.db'}",
        # Evaluate every 2 s instead of every minute, and skip the receiver's two refusals
        # (their retries wait 10 s and 30 s; tests/test_webhooks*.py count retries).
        "RELHEALTH_ALERT_INTERVAL_SECONDS": "2",
        "FAIL_FIRST": "0",
    }
    run = subprocess.run(
        ["bash", str(SCRIPT)], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=240
    )
    assert run.returncode == 0, run.stdout + run.stderr
    out = run.stdout
    assert "FAIL  shop@2.0 in production" in out
    assert re.search(r"crash free sessions\s+90 %\s+target 99 critical 97\s+FAIL", out)
    assert "pipeline: halted (relhealth gate exited 2)" in out
    assert "shop@2.0: sent 200 sessions, 20 crashed" in out

    deliveries = [json.loads(line) for line in (tmp_path / "deliveries.jsonl").read_text().splitlines()]
    alerts = [d for d in deliveries if d["event"] == "alert.transition"]
    assert [
        (a["payload"]["release"], a["payload"]["from"], a["payload"]["to"], a["payload"]["value"])
        for a in alerts
    ] == [("shop@2.0", "OK", "CRITICAL", 90.0)]
    assert len({d["delivery"] for d in deliveries}) == len(deliveries)
    # The gate's verdicts as the evaluator saw them: each release's changes chain from
    # none, and end at PASS for shop@1.0 (300 healthy sessions) and FAIL for shop@2.0.
    # (A pass that ran while the SDK was still sending may have seen fewer than 100
    # sessions first: INSUFFICIENT_DATA.)
    gates = [d["payload"] for d in deliveries if d["event"] == "gate.verdict_changed"]
    for release, final in (("shop@1.0", "PASS"), ("shop@2.0", "FAIL")):
        steps = [(g["from"], g["to"]) for g in gates if g["release"] == release]
        assert steps and steps[0][0] is None and steps[-1][1] == final
        assert all(a[1] == b[0] for a, b in itertools.pairwise(steps))
