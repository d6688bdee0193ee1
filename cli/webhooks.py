"""`relhealth webhooks add|list|remove|receive`: an organization's webhook endpoints in
the local database (API v2's `createWebhookEndpoint` does the same over HTTP), and a
small receiver that checks each delivery's signature and prints it, for trying webhooks
out and for the README's walk-through."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from jobs.webhook_signature import verify_signature
from jobs.webhook_urls import check_url
from server.settings import Settings
from storage.webhooks import EVENT_TYPES

#: The largest delivery body the receiver reads.
MAX_BODY = 1024 * 1024


def add_parser(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    hooks = sub.add_parser("webhooks", help="manage webhook endpoints (local database); run a test receiver")
    actions = hooks.add_subparsers(dest="action", required=True)
    add = actions.add_parser("add", help="add an endpoint; prints its signing secret (shown once)")
    add.add_argument("--org", required=True, help="the organization's slug")
    add.add_argument("--url", required=True, help="where deliveries are POSTed (http or https)")
    add.add_argument(
        "--event",
        nargs="+",
        choices=EVENT_TYPES,
        default=list(EVENT_TYPES),
        dest="events",
        help="the event types to send (default: all)",
    )
    add.add_argument("--database-url")
    listing = actions.add_parser("list", help="list an organization's endpoints")
    listing.add_argument("--org", required=True)
    listing.add_argument("--database-url")
    remove = actions.add_parser("remove", help="remove an endpoint with its outbox and delivery log")
    remove.add_argument("--org", required=True)
    remove.add_argument("id", type=int)
    remove.add_argument("--database-url")
    receive = actions.add_parser(
        "receive",
        help="listen for deliveries, check their signatures and print each accepted event as a JSON line",
    )
    receive.add_argument("--secret", required=True, help="the endpoint's signing secret")
    receive.add_argument("--host", default="127.0.0.1")
    receive.add_argument("--port", type=int, default=9100)
    receive.add_argument(
        "--fail-first",
        type=int,
        default=0,
        metavar="N",
        help="answer 503 to the first N deliveries (to watch relhealth retry)",
    )


def run(settings: Settings, args: argparse.Namespace) -> int:
    if args.action == "receive":
        return receive(args.host, args.port, args.secret, fail_first=args.fail_first)
    return asyncio.run(_manage(settings, args))


async def _manage(settings: Settings, args: argparse.Namespace) -> int:
    from cli.main import _open
    from storage import webhooks

    services = await _open(settings)
    engine = services.accounts.engine
    try:
        org_id = await services.accounts.organization_id(args.org)
        if org_id is None:
            print(f"error: no organization {args.org!r}", file=sys.stderr)
            return 1
        if args.action == "add":
            problem = await check_url(args.url, settings.webhook_allow_private)
            if problem is not None:
                print(f"error: {problem}", file=sys.stderr)
                return 1
            endpoint = await webhooks.create_endpoint(
                engine, org_id, args.url, args.events, True, now=time.time()
            )
            print(f"webhook endpoint {endpoint.id} added: {endpoint.url} ({', '.join(endpoint.event_types)})")
            print(f"secret: {endpoint.secret}   (shown once; receivers check signatures with it)")
        elif args.action == "list":
            for e in await webhooks.endpoints_of(engine, org_id):
                state = "enabled" if e.enabled else "disabled"
                print(f"{e.id}\t{e.url}\t{','.join(e.event_types)}\t{state}")
        elif not await webhooks.delete_endpoint(engine, org_id, args.id):
            print(f"error: organization {args.org!r} has no webhook endpoint {args.id}", file=sys.stderr)
            return 1
        else:
            print(f"webhook endpoint {args.id} removed")
    finally:
        await services.engine.dispose()
    return 0


class Receiver(ThreadingHTTPServer):
    """Accepts deliveries signed with `secret`, each delivery id once (relhealth delivers
    at least once: a retry after a lost answer carries the same `Relhealth-Delivery`)."""

    daemon_threads = True

    def __init__(self, address: tuple[str, int], secret: str, fail_first: int) -> None:
        super().__init__(address, _Handler)
        self.secret = secret
        self.to_fail = fail_first
        self.seen: set[str] = set()
        self.lock = threading.Lock()


class _Handler(BaseHTTPRequestHandler):
    server: Receiver

    def do_POST(self) -> None:
        length = int(self.headers.get("content-length") or 0)
        if length > MAX_BODY:
            self._answer(413)
            return
        body = self.rfile.read(length)
        signed = verify_signature(
            self.server.secret,
            self.headers.get("relhealth-timestamp", ""),
            body,
            self.headers.get("relhealth-signature", ""),
        )
        if not signed:
            print("refused a delivery: bad or stale signature", file=sys.stderr, flush=True)
            self._answer(401)
            return
        delivery = self.headers.get("relhealth-delivery", "")
        with self.server.lock:
            if self.server.to_fail > 0:
                self.server.to_fail -= 1
                print(f"answered 503 to delivery {delivery} (--fail-first)", file=sys.stderr, flush=True)
                self._answer(503)
                return
            first = delivery not in self.server.seen
            self.server.seen.add(delivery)
            if first:
                event = {
                    "event": self.headers.get("relhealth-event"),
                    "delivery": delivery,
                    "payload": json.loads(body or b"null"),
                }
                # Under the lock, in one write: deliveries arrive on several threads.
                sys.stdout.write(json.dumps(event, sort_keys=True) + "\n")
                sys.stdout.flush()
        self._answer(204)

    def _answer(self, status: int) -> None:
        self.send_response(status)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:
        pass  # one line per accepted event on stdout is the whole output


def receive(host: str, port: int, secret: str, *, fail_first: int = 0) -> int:
    server = Receiver((host, port), secret, fail_first)
    print(f"listening on http://{host}:{server.server_address[1]}/", file=sys.stderr, flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0
