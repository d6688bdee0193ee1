"""Failed sign-ins per client address (`POST /auth/session`), in memory per process.

A token is 256 random bits, so guessing is hopeless anyway; the limit keeps a client from
using the endpoint as a cheap oracle or a way to make the server hash and query without
end. After `max_failures` failures within `window` seconds, the address is refused (429)
until that window ends, correct token or not. IPv6 clients are counted per /64, the
smallest block one subscriber usually holds. The table is bounded: beyond `max_clients`
addresses, finished windows are dropped first, then the oldest."""

from __future__ import annotations

import ipaddress
import math
import time
from collections.abc import Callable


def client_key(host: str) -> str:
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return host[:64]
    if address.version == 6:
        return str(ipaddress.ip_network(f"{address}/64", strict=False))
    return str(address)


class SignInLimiter:
    def __init__(
        self,
        max_failures: int,
        window: float,
        *,
        max_clients: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.max_failures = max_failures
        self.window = window
        self.max_clients = max_clients
        self.clock = clock
        #: Client key -> (start of its window, failures in it); insertion order = age.
        self._failures: dict[str, tuple[float, int]] = {}

    def retry_after(self, host: str) -> int | None:
        """Seconds until this client may try again, or None when it may now."""
        entry = self._failures.get(client_key(host))
        if entry is None:
            return None
        started, count = entry
        left = started + self.window - self.clock()
        if left <= 0 or count < self.max_failures:
            return None
        return max(1, math.ceil(left))

    def failed(self, host: str) -> None:
        key = client_key(host)
        now = self.clock()
        entry = self._failures.pop(key, None)
        if entry is None or now - entry[0] >= self.window:
            entry = (now, 0)
        self._failures[key] = (entry[0], entry[1] + 1)
        if len(self._failures) > self.max_clients:
            self._shrink(now)

    def _shrink(self, now: float) -> None:
        for key in [k for k, (started, _) in self._failures.items() if now - started >= self.window]:
            del self._failures[key]
        while len(self._failures) > self.max_clients:
            del self._failures[next(iter(self._failures))]
