"""Delivering the webhook outbox (docs/alerts.md "Webhooks").

Every server process runs a `WebhookSender`. Once a second it claims due events under a
lease (`storage.webhooks.claim`), POSTs each signed JSON body to its endpoint and records
the attempt. A 2xx is delivered; anything else, a timeout or a connection error is
retried after 10 s, 30 s, 2 min, 10 min, 1 h and then every 6 h (plus up to 10 % jitter,
so that a receiver coming back is not hit by every retry at once), and the event is
`dead` once it is 24 hours old. A sender killed mid-delivery commits nothing: its lease
runs out and another sender (or the same server, restarted) sends the event again, with
the same `Relhealth-Delivery` id, which is what receivers deduplicate on.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections.abc import Callable

import httpx
from sqlalchemy.ext.asyncio import AsyncEngine

from jobs.webhook_signature import sign
from jobs.webhook_urls import check_url
from storage import webhooks
from storage.webhooks import Attempt, Claimed

log = logging.getLogger(__name__)

#: Seconds to wait after the 1st, 2nd, ... failed attempt; the last one repeats.
BACKOFF = (10.0, 30.0, 120.0, 600.0, 3600.0, 6 * 3600.0)
#: After this many seconds an undelivered event is dead.
GIVE_UP_AFTER = 24 * 3600.0
#: At most this many events claimed per pass (each is sent concurrently).
BATCH = 20
USER_AGENT = "relhealth-webhooks/1"


def _most_attempts() -> int:
    """Attempts an event gets at most: every backoff step without jitter (jitter only
    spaces them further), and the last one at the 24-hour mark."""
    at, attempts = 0.0, 1
    while at < GIVE_UP_AFTER:
        at = min(at + BACKOFF[min(attempts, len(BACKOFF)) - 1], GIVE_UP_AFTER)
        attempts += 1
    return attempts


#: The longest delivery log of one event (the API's cost model sizes it so).
MAX_ATTEMPTS = _most_attempts()


def next_attempt(created: float, failed_at: float, attempts: int, jitter: float) -> float | None:
    """When to try again after `attempts` failed attempts, the last at `failed_at`; None
    when the event is dead. The last retry is moved to the 24-hour mark, so that an
    event is tried right before it is given up."""
    deadline = created + GIVE_UP_AFTER
    if failed_at >= deadline:
        return None
    delay = BACKOFF[min(attempts, len(BACKOFF)) - 1]
    return min(failed_at + delay * (1 + jitter), deadline)


class WebhookSender:
    """Claims and delivers due outbox events every `interval` seconds (0: never)."""

    def __init__(
        self,
        engine: AsyncEngine,
        *,
        interval: float,
        timeout: float,
        allow_private: bool,
        now: Callable[[], float],
        rng: Callable[[], float] = random.random,
    ) -> None:
        self.engine = engine
        self.interval = interval
        self.timeout = timeout
        self.allow_private = allow_private
        self.now = now
        self.rng = rng
        #: A claim outlives the slowest possible delivery of a whole batch.
        self.lease = 2 * timeout + 5
        self._task: asyncio.Task[None] | None = None
        self._client: httpx.AsyncClient | None = None

    def start(self) -> None:
        if self.interval > 0 and self._task is None:
            # trust_env=False: no proxy from the environment sees (or diverts) deliveries.
            self._client = httpx.AsyncClient(
                timeout=self.timeout,
                trust_env=False,
                follow_redirects=False,
                headers={"User-Agent": USER_AGENT},
            )
            self._task = asyncio.create_task(self._run(), name="relhealth-webhooks")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    async def run_once(self) -> int:
        """One pass: claim due events and deliver them. Returns how many were attempted."""
        claimed = await webhooks.claim(self.engine, now=self.now(), lease=self.lease, limit=BATCH)
        if claimed:
            await asyncio.gather(*(self._deliver(c) for c in claimed))
        return len(claimed)

    async def _run(self) -> None:
        while True:
            try:
                await self.run_once()
            except Exception:
                log.exception("webhook delivery pass failed; retrying")
            await asyncio.sleep(self.interval)

    async def _deliver(self, event: Claimed) -> None:
        attempt = event.attempts + 1
        sent_at = self.now()
        status, error, response = None, None, None
        started = time.monotonic()
        problem = await check_url(event.url, self.allow_private)
        if problem is not None:
            error = f"refused: {problem}"
        else:
            status, error, response = await self._post(event, int(sent_at))
        duration_ms = (time.monotonic() - started) * 1000
        delivered = status is not None and 200 <= status < 300
        retry = None
        if not delivered:
            retry = next_attempt(event.created_at.timestamp(), sent_at, attempt, 0.1 * self.rng())
        record = Attempt(event.id, attempt, webhooks.utc(sent_at), status, error, response, duration_ms)
        await webhooks.record_attempt(self.engine, record, delivered=delivered, next_attempt=retry)
        if not delivered and retry is None:
            log.warning("webhook event %s is dead after %s attempts", event.id, attempt)

    async def _post(self, event: Claimed, timestamp: int) -> tuple[int | None, str | None, str | None]:
        assert self._client is not None
        body = event.payload.encode()
        headers = {
            "Content-Type": "application/json",
            "Relhealth-Event": event.event_type,
            "Relhealth-Delivery": str(event.id),
            "Relhealth-Timestamp": str(timestamp),
            "Relhealth-Signature": sign(event.secret, timestamp, body),
        }
        try:
            async with self._client.stream("POST", event.url, content=body, headers=headers) as r:
                kept = b""
                async for chunk in r.aiter_bytes():
                    kept += chunk
                    if len(kept) >= webhooks.RESPONSE_KEPT:
                        break
                text = kept[: webhooks.RESPONSE_KEPT].decode("utf-8", "replace")
                return r.status_code, None, text
        except httpx.TimeoutException:
            return None, f"timeout after {self.timeout:g} s", None
        except httpx.HTTPError as exc:
            return None, f"{type(exc).__name__}: {exc}"[:512], None
