"""Signing webhook deliveries, and checking them on the receiving side.

`Relhealth-Signature: v1=<hex HMAC-SHA256(secret, timestamp + "." + body)>`, with the
timestamp (unix seconds) in `Relhealth-Timestamp`. A receiver recomputes the HMAC over
the raw body and refuses timestamps older than a tolerance, which makes a captured
request useless later. Only the standard library, so receivers can copy this file."""

from __future__ import annotations

import hashlib
import hmac
import time

#: How old a delivery's timestamp may be, in seconds, by default.
TOLERANCE = 300


def sign(secret: str, timestamp: int, body: bytes) -> str:
    """The `Relhealth-Signature` header value of `body` sent at `timestamp`."""
    mac = hmac.new(secret.encode(), str(timestamp).encode() + b"." + body, hashlib.sha256)
    return "v1=" + mac.hexdigest()


def verify_signature(
    secret: str,
    timestamp: str | int,
    body: bytes,
    header: str,
    tolerance: float = TOLERANCE,
    now: float | None = None,
) -> bool:
    """True when `header` (the `Relhealth-Signature` value; several comma-separated `v1=`
    signatures are allowed) signs `body` at `timestamp` (the `Relhealth-Timestamp` value)
    with `secret`, and that timestamp is within `tolerance` seconds of `now`."""
    try:
        stamp = int(timestamp)
    except (TypeError, ValueError):
        return False
    current = time.time() if now is None else now
    if abs(current - stamp) > tolerance:
        return False
    expected = sign(secret, stamp, body)
    return any(hmac.compare_digest(expected, part.strip()) for part in header.split(","))
