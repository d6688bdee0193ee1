"""npm packages for the real-client tests, installed at test time into
~/.cache/relhealth-npm/<hash of the package list> (never into the repository), as
test_federation_gateway.py does. Without node/npm a test skips, except under CI=true."""

from __future__ import annotations

import fcntl
import hashlib
import os
import shutil
import subprocess
from collections.abc import Sequence
from pathlib import Path

import pytest

#: Apollo's gateway, subgraph library, server and composition (a dependency of the gateway),
#: for the federation tests; one list, so they share one cache directory.
APOLLO_FEDERATION = (
    "@apollo/gateway@2.14.4",
    "@apollo/subgraph@2.14.4",
    "@apollo/server@5.5.1",
    "graphql@16.15.0",
)

#: Apollo Client 4 (with its peers graphql and rxjs) for the normalized-cache test of API v2.
APOLLO_CLIENT = ("@apollo/client@4.3.8", "graphql@16.15.0", "rxjs@7.8.2")


def npm_dir(packages: Sequence[str], why: str) -> Path:
    """The cache directory holding node_modules for `packages`, installed if missing."""
    npm, node = shutil.which("npm"), shutil.which("node")
    if not (npm and node):
        if os.environ.get("CI") == "true":
            pytest.fail(f"node and npm are required under CI=true for {why}")
        pytest.skip(f"node/npm not installed; {why} is skipped")
    digest = hashlib.sha256("\n".join(packages).encode()).hexdigest()[:16]
    target = Path.home() / ".cache" / "relhealth-npm" / digest
    target.mkdir(parents=True, exist_ok=True)
    done = target / ".installed"
    with open(target / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # one install at a time, even across test runs
        if not done.exists():
            (target / "package.json").write_text('{"private": true}\n')
            proc = subprocess.run(
                [npm, "install", "--no-audit", "--no-fund", "--loglevel=error", *packages],
                cwd=target,
                capture_output=True,
                text=True,
                timeout=600,
            )
            assert proc.returncode == 0, f"npm install failed:\n{proc.stdout}\n{proc.stderr}"
            done.write_text("\n".join(packages) + "\n")
    return target
