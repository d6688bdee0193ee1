"""Run by the end-to-end tests in a subprocess: the real sentry-sdk sends sessions.

usage: python -m tests.sdk_scenarios MODE DSN RELEASE COMPRESSION [USER ...]

MODE is `healthy`, `errored` (a handled exception), `crash` (an uncaught exception; the
process dies like a real app), or `requests` (request mode: a WSGI app with session
tracking serves five requests, one of which raises).
"""

from __future__ import annotations

import sys
from wsgiref.util import setup_testing_defaults

import sentry_sdk
from sentry_sdk.integrations.wsgi import SentryWsgiMiddleware


def init(dsn: str, release: str, compression: str) -> None:
    experiments: dict[str, object] = {"transport_compression_algo": compression}
    sentry_sdk.init(
        dsn=dsn,
        release=release,
        environment="production",
        http_proxy="",
        https_proxy="",
        default_integrations=True,
        _experiments=experiments,
    )


def app_mode(mode: str, users: list[str]) -> None:
    for user in users:
        sentry_sdk.start_session()
        sentry_sdk.set_user({"id": user})
        if mode == "errored":
            try:
                raise ValueError("handled")
            except ValueError as exc:
                sentry_sdk.capture_exception(exc)
        if mode == "crash":
            raise RuntimeError("uncaught: the excepthook marks the session crashed")
        sentry_sdk.end_session()
    sentry_sdk.flush(timeout=10)


def request_mode() -> None:
    def app(environ, start_response):  # type: ignore[no-untyped-def]
        if environ["PATH_INFO"] == "/boom":
            raise RuntimeError("request failed")
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"ok"]

    wrapped = SentryWsgiMiddleware(app)
    for path in ["/", "/a", "/b", "/boom", "/c"]:
        environ: dict[str, object] = {"PATH_INFO": path}
        setup_testing_defaults(environ)
        try:
            body = wrapped(environ, lambda status, headers, exc_info=None: None)
            b"".join(body)
        except RuntimeError:
            pass
    sentry_sdk.flush(timeout=10)


def main() -> None:
    mode, dsn, release, compression, *users = sys.argv[1:]
    init(dsn, release, compression)
    if mode == "requests":
        request_mode()
    else:
        app_mode(mode, users)


if __name__ == "__main__":
    main()
