"""CORS for the query APIs (`/graphql`, `/api/0/...`): browsers on the allowed origins may
call them with a Bearer token. The envelope endpoint keeps its own permissive CORS (SDKs in
any web page post to it), so it is left out here."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from starlette.datastructures import Headers, MutableHeaders
from starlette.responses import PlainTextResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

ALLOWED_METHODS = ("GET", "POST")
#: What a frontend sends: the token and a JSON body (the rest are CORS-safelisted anyway).
ALLOWED_HEADERS = ("Authorization", "Content-Type")
_SAFELISTED_HEADERS = frozenset({"accept", "accept-language", "content-language", "content-type"})
#: Readable by browser code: pagination and successor links, the auth challenge, approximate
#: answers, and the deprecation of /graphql/v1 (RFC 9745 `Deprecation`, RFC 8594 `Sunset`).
EXPOSED_HEADERS = ("Link", "WWW-Authenticate", "Relhealth-Approximate", "Deprecation", "Sunset")
_PREFLIGHT_VARY = "Origin, Access-Control-Request-Method, Access-Control-Request-Headers"


@dataclass(frozen=True)
class CorsPolicy:
    origins: frozenset[str]
    max_age: int

    @classmethod
    def of(cls, origins: Iterable[str], max_age: int) -> CorsPolicy:
        return cls(frozenset(origins), max_age)

    @property
    def any_origin(self) -> bool:
        return "*" in self.origins

    def allows(self, origin: str) -> bool:
        return self.any_origin or origin in self.origins


def covers(path: str) -> bool:
    """The query APIs: GraphQL and the REST API, but not the envelope endpoint."""
    if path.rstrip("/") in ("/graphql", "/graphql/v1"):
        return True
    return path.startswith("/api/0/") and not path.rstrip("/").endswith("/envelope")


class CorsMiddleware:
    def __init__(self, app: ASGIApp, policy: CorsPolicy) -> None:
        self.app = app
        self.policy = policy

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not covers(scope["path"]):
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        origin = headers.get("origin")
        if scope["method"] == "OPTIONS" and origin and "access-control-request-method" in headers:
            await self._preflight(origin, headers)(scope, receive, send)
            return

        async def send_with_cors(message: Message) -> None:
            if message["type"] == "http.response.start":
                out = MutableHeaders(scope=message)
                # Always: a cache must not serve one origin's answer to another.
                out.add_vary_header("Origin")
                if origin and self.policy.allows(origin):
                    out["Access-Control-Allow-Origin"] = "*" if self.policy.any_origin else origin
                    out["Access-Control-Expose-Headers"] = ", ".join(EXPOSED_HEADERS)
            await send(message)

        await self.app(scope, receive, send_with_cors)

    def _preflight(self, origin: str, headers: Headers) -> Response:
        vary = {"Vary": _PREFLIGHT_VARY}
        if not self.policy.allows(origin):
            return PlainTextResponse(f"CORS: origin {origin} is not allowed", 403, headers=vary)
        method = headers["access-control-request-method"]
        if method not in ALLOWED_METHODS:
            return PlainTextResponse(f"CORS: method {method} is not allowed", 400, headers=vary)
        allowed = _SAFELISTED_HEADERS | {h.lower() for h in ALLOWED_HEADERS}
        requested = [h.strip().lower() for h in headers.get("access-control-request-headers", "").split(",")]
        refused = [h for h in requested if h and h not in allowed]
        if refused:
            return PlainTextResponse(f"CORS: header {refused[0]} is not allowed", 400, headers=vary)
        return Response(
            status_code=204,
            headers={
                **vary,
                "Access-Control-Allow-Origin": "*" if self.policy.any_origin else origin,
                "Access-Control-Allow-Methods": ", ".join(ALLOWED_METHODS),
                "Access-Control-Allow-Headers": ", ".join(ALLOWED_HEADERS),
                "Access-Control-Max-Age": str(self.policy.max_age),
            },
        )
