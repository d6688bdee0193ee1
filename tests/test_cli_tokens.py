"""`relhealth tokens create|revoke` on a local database: a revoked token no longer
authenticates (checked through the store a server uses), revoking it again or an unknown
token fails with exit code 1, and the token is read from standard input, never argv."""

from __future__ import annotations

import asyncio
import io
from pathlib import Path

import pytest

from cli.main import main
from storage.accounts import AccountStore
from storage.engine import create_engine


async def _lookup(url: str, token: str) -> object:
    engine = create_engine(url)
    try:
        return await AccountStore(engine).token(token)
    finally:
        await engine.dispose()


def test_create_then_revoke(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'tokens.db'}"
    monkeypatch.setenv("RELHEALTH_DATABASE_URL", url)
    assert main(["projects", "create", "acme", "shop"]) == 0
    capsys.readouterr()
    assert main(["tokens", "create", "acme", "--scope", "org:read"]) == 0
    token = capsys.readouterr().out.strip()
    kept = main(["tokens", "create", "acme", "--scope", "org:read"]) == 0 and capsys.readouterr().out.strip()
    assert kept and kept != token
    assert asyncio.run(_lookup(url, token)) is not None

    monkeypatch.setattr("sys.stdin", io.StringIO(token + "\n"))
    assert main(["tokens", "revoke"]) == 0
    assert capsys.readouterr().out.startswith("token revoked")
    assert asyncio.run(_lookup(url, token)) is None
    assert asyncio.run(_lookup(url, kept)) is not None  # only that token

    monkeypatch.setattr("sys.stdin", io.StringIO(token + "\n"))
    assert main(["tokens", "revoke"]) == 1
    assert capsys.readouterr().err == "error: no such token\n"

    monkeypatch.setattr("sys.stdin", io.StringIO(""))
    assert main(["tokens", "revoke"]) == 2
    assert "no token on standard input" in capsys.readouterr().err

    # The token is never an argument (argv is visible to every user of the machine).
    with pytest.raises(SystemExit):
        main(["tokens", "revoke", kept])
