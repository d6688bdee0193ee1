"""Drives tests/js/subscriptions.mjs (the graphql-ws npm client, with `ws`) from a test:
starts it, collects the JSON lines it prints, waits for what the test expects."""

from __future__ import annotations

import json
import os
import queue
import subprocess
import threading
import time
from pathlib import Path
from typing import Any

from tests.npm_cache import npm_dir

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "tests" / "js" / "subscriptions.mjs"
#: graphql-ws 6 (the graphql-transport-ws protocol's reference client) and its peers.
GRAPHQL_WS = ("graphql-ws@6.4.2", "ws@8.23.0", "graphql@16.15.0")


class NodeClient:
    def __init__(self, base_url: str, token: str, subscriptions: list[dict[str, Any]]) -> None:
        env = {
            **os.environ,
            "RELHEALTH_NPM_DIR": str(npm_dir(GRAPHQL_WS, "the graphql-ws subscription test")),
            "RELHEALTH_WS_URL": base_url.replace("http://", "ws://") + "/graphql",
            "RELHEALTH_TOKEN": token,
            "SUBSCRIPTIONS": json.dumps(subscriptions),
        }
        self.proc = subprocess.Popen(
            ["node", str(SCRIPT)],
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.lines: list[dict[str, Any]] = []
        self._inbox: queue.Queue[dict[str, Any] | None] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self._inbox.put(json.loads(line))
        self._inbox.put(None)

    def wait_for(self, done: Any, timeout: float = 60) -> list[dict[str, Any]]:
        """Every line so far, once `done(lines)` holds (AssertionError past `timeout`)."""
        deadline = time.monotonic() + timeout
        while not done(self.lines):
            remaining = deadline - time.monotonic()
            try:
                line = self._inbox.get(timeout=max(remaining, 0.01))
            except queue.Empty:
                raise AssertionError(f"the client did not get there; it printed {self.lines}") from None
            if line is None:
                stderr = self.proc.stderr.read() if self.proc.stderr else ""
                raise AssertionError(f"the client exited; it printed {self.lines}\n{stderr}")
            self.lines.append(line)
        return self.lines

    def received(self, sub: str) -> list[dict[str, Any]]:
        """The events of subscription `sub`, in the order they arrived."""
        return [line["data"] for line in self.lines if line["event"] == "next" and line["sub"] == sub]

    def count(self, sub: str) -> int:
        return len(self.received(sub))

    def close(self) -> None:
        if self.proc.poll() is None:
            assert self.proc.stdin is not None
            self.proc.stdin.close()
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        for stream in (self.proc.stdout, self.proc.stderr):
            if stream is not None:
                stream.close()
