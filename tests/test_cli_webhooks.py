"""`relhealth webhooks add|list|remove` on a local database, and `relhealth webhooks receive`'s
checks: a bad signature is refused with 401, a retried delivery is printed once, and
`--fail-first` refuses exactly that many deliveries."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import httpx
import pytest

from cli.main import main
from cli.webhooks import Receiver
from jobs.webhook_signature import sign


def test_add_list_remove(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'hooks.db'}"
    monkeypatch.setenv("RELHEALTH_DATABASE_URL", url)
    assert main(["projects", "create", "acme", "shop", "--database-url", url]) == 0
    capsys.readouterr()
    # Loopback is refused unless private addresses are allowed.
    assert main(["webhooks", "add", "--org", "acme", "--url", "http://127.0.0.1:9/h"]) == 1
    assert "error:" in capsys.readouterr().err
    monkeypatch.setenv("RELHEALTH_WEBHOOK_ALLOW_PRIVATE", "1")
    assert (
        main(
            [
                "webhooks",
                "add",
                "--org",
                "acme",
                "--url",
                "http://127.0.0.1:9/h",
                "--event",
                "alert.transition",
            ]
        )
        == 0
    )
    out = capsys.readouterr().out
    assert out.startswith("webhook endpoint 1 added: http://127.0.0.1:9/h (alert.transition)")
    secret = out.split("secret: ")[1].split()[0]
    assert len(secret) >= 32
    assert main(["webhooks", "list", "--org", "acme"]) == 0
    assert capsys.readouterr().out == "1\thttp://127.0.0.1:9/h\talert.transition\tenabled\n"
    assert main(["webhooks", "add", "--org", "nobody", "--url", "http://127.0.0.1:9/h"]) == 1
    assert main(["webhooks", "remove", "--org", "acme", "7"]) == 1
    assert main(["webhooks", "remove", "--org", "acme", "1"]) == 0
    capsys.readouterr()
    assert main(["webhooks", "list", "--org", "acme"]) == 0
    assert capsys.readouterr().out == ""


def test_the_receiver_checks_signatures_and_prints_each_delivery_once(
    capsys: pytest.CaptureFixture[str],
) -> None:
    server = Receiver(("127.0.0.1", 0), "s3cret", fail_first=1)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{server.server_address[1]}/"
    body = b'{"release":"shop@2.0"}'

    def post(delivery: str, secret: str = "s3cret") -> int:
        stamp = int(time.time())
        headers = {
            "Relhealth-Event": "alert.transition",
            "Relhealth-Delivery": delivery,
            "Relhealth-Timestamp": str(stamp),
            "Relhealth-Signature": sign(secret, stamp, body),
        }
        return httpx.post(url, content=body, headers=headers).status_code

    try:
        assert post("1", secret="wrong") == 401
        assert [post("1"), post("1"), post("1"), post("2")] == [503, 204, 204, 204]
    finally:
        server.shutdown()
        server.server_close()
    printed = capsys.readouterr().out.splitlines()
    assert printed == [
        '{"delivery": "1", "event": "alert.transition", "payload": {"release": "shop@2.0"}}',
        '{"delivery": "2", "event": "alert.transition", "payload": {"release": "shop@2.0"}}',
    ]
