"""A stand-in application for the README's walk-through: it runs user sessions of one
release with the real Sentry SDK (sentry-python), pointed at relhealth by its DSN.

    python examples/shop_app.py --dsn DSN --release shop@2.0 --sessions 200 --crash-every 10

Every `--crash-every`-th session ends in an unhandled error, reported as the SDK reports
one caught by an integration (mechanism `handled: false`), which marks the session
crashed without ending the process; 0 means none crash. Each session belongs to its own
user `user-<n>`, so crash-free users equal crash-free sessions."""

from __future__ import annotations

import argparse

import sentry_sdk
from sentry_sdk.utils import event_from_exception


def crash() -> None:
    try:
        raise RuntimeError("checkout failed: card form did not load")
    except RuntimeError as exc:
        client = sentry_sdk.get_client()
        event, hint = event_from_exception(
            exc, client_options=client.options, mechanism={"type": "shop", "handled": False}
        )
        sentry_sdk.capture_event(event, hint=hint)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--dsn", required=True)
    parser.add_argument("--release", required=True)
    parser.add_argument("--environment", default="production")
    parser.add_argument("--sessions", type=int, default=100)
    parser.add_argument("--crash-every", type=int, default=0)
    args = parser.parse_args()
    sentry_sdk.init(
        dsn=args.dsn,
        release=args.release,
        environment=args.environment,
        http_proxy="",
        https_proxy="",
        # Sessions only: errors' events are not what relhealth stores.
        sample_rate=1.0,
    )
    for n in range(1, args.sessions + 1):
        sentry_sdk.start_session()
        sentry_sdk.set_user({"id": f"user-{n}"})
        if args.crash_every and n % args.crash_every == 0:
            crash()
        sentry_sdk.end_session()
    sentry_sdk.flush(timeout=30)
    crashed = args.sessions // args.crash_every if args.crash_every else 0
    print(f"{args.release}: sent {args.sessions} sessions, {crashed} crashed")


if __name__ == "__main__":
    main()
