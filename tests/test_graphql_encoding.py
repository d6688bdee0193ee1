"""How GraphQL answers are encoded: orjson (UTF-8, compact), with the standard encoder as
the fallback for what orjson refuses, so no answer fails for its encoding."""

from __future__ import annotations

import json

from server.graphql_protocol import encode_json
from tests.backend_support import backend


def test_encode_json_is_compact_utf8_json():
    data = {"data": {"release": {"version": "app@1.0+ü", "rates": [0.5, None, 1e-7]}}}
    raw = encode_json(data)
    assert isinstance(raw, bytes)
    assert "ü".encode() in raw and b"\\u00fc" not in raw  # UTF-8, not \u-escaped
    assert b": " not in raw and b", " not in raw
    assert json.loads(raw) == data


def test_what_orjson_refuses_falls_back_to_the_standard_encoder():
    # orjson holds integers to 64 bits; an extension could carry a larger one.
    data = {"extensions": {"cost": {"left": 2**70}}, "data": None}
    assert json.loads(encode_json(data)) == data


async def test_answers_over_http_are_utf8_json(make_app, sqlite_url):
    b = await backend(make_app, sqlite_url)
    r = await b.app.client.post(
        "/graphql/v1",
        json={"query": '{ organization(slug: "acme") { slug } }'},
        headers={"Authorization": f"Bearer {b.token}"},
    )
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("application/json")
    assert r.content.startswith(b'{"data":{"organization":{"slug":"acme"}}')
    assert "etag" not in r.headers  # POST answers are not validated (nothing hashed)
