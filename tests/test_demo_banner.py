"""`relhealth serve --demo`'s banner: the dashboard's address, signed in through the URL
fragment, comes first, then GraphiQL, the token and the DSN."""

from __future__ import annotations

import asyncio

import pytest

from cli.main import _demo_banner
from server.settings import Settings
from storage.accounts import AccountStore
from storage.engine import create_engine
from storage.schema import ensure_schema


async def _demo_org(url: str) -> None:
    engine = create_engine(url)
    try:
        await ensure_schema(engine)
        await AccountStore(engine).create_project("demo", "web")
    finally:
        await engine.dispose()


def test_the_dashboard_comes_first(sqlite_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    asyncio.run(_demo_org(sqlite_url))
    asyncio.run(_demo_banner(Settings(database_url=sqlite_url, port=9123)))
    lines = capsys.readouterr().out.splitlines()
    start = lines.index("relhealth demo is ready")
    dashboard, graphiql, token = lines[start + 1 : start + 4]
    secret = token.split()[1]
    assert secret.startswith("rh_")
    assert dashboard == (
        f"  Dashboard: http://127.0.0.1:9123/#token={secret}   (opens signed in; the token stays "
        "in the fragment, which browsers never send)"
    )
    assert graphiql.startswith(f"  GraphiQL:  http://127.0.0.1:9123/graphql#token={secret}")
