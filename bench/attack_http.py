"""A small raw HTTP/1.1 client for the attack harness.

It writes the request body and reads the answer at the same time, so a server that
answers 413 before reading a 200 MB body is measured as such (a client that first sends
the whole body would report a broken pipe instead). Each request uses its own connection
(`Connection: close`); only the first `body_cap` bytes of an answer are kept, its size is
always counted. Traffic goes to 127.0.0.1 only.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

HOST = "127.0.0.1"
BODY_CAP = 32 * 1024 * 1024
CHUNK = 256 * 1024


@dataclass
class Reply:
    status: int | None = None
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""
    size: int = 0
    seconds: float = 0.0
    sent: int = 0
    error: str | None = None

    def json(self) -> Any:
        """The body as JSON, or None (truncated, empty or not JSON)."""
        if self.size > len(self.body) or not self.body:
            return None
        try:
            return json.loads(self.body)
        except ValueError:
            return None

    def summary(self) -> dict[str, Any]:
        out: dict[str, Any] = {"status": self.status, "ms": round(self.seconds * 1000, 1)}
        if self.error:
            out["error"] = self.error
        if self.size > 4096:
            out["answer_bytes"] = self.size
        return out


def _chunks(body: bytes | Iterable[bytes] | None) -> Iterable[bytes]:
    if body is None:
        return ()
    if isinstance(body, bytes):
        return (body[i : i + CHUNK] for i in range(0, len(body), CHUNK))
    return body


async def request(
    port: int,
    method: str,
    path: str,
    headers: dict[str, str] | None = None,
    body: bytes | Iterable[bytes] | None = None,
    *,
    length: int | None = None,
    body_cap: int = BODY_CAP,
) -> Reply:
    """Send one request; `length` is the declared Content-Length of an iterable body
    (without it, an iterable body is sent with `Transfer-Encoding: chunked`)."""
    reply = Reply()
    started = time.perf_counter()
    if isinstance(body, bytes):
        length = len(body)
    head = [f"{method} {path} HTTP/1.1", f"Host: {HOST}:{port}", "Connection: close"]
    chunked = body is not None and length is None
    if length is not None:
        head.append(f"Content-Length: {length}")
    elif chunked:
        head.append("Transfer-Encoding: chunked")
    head += [f"{k}: {v}" for k, v in (headers or {}).items()]
    try:
        reader, writer = await asyncio.open_connection(HOST, port, limit=1024 * 1024)
    except OSError as exc:
        reply.error = f"connect: {type(exc).__name__}"
        reply.seconds = time.perf_counter() - started
        return reply

    async def send() -> None:
        writer.write(("\r\n".join(head) + "\r\n\r\n").encode())
        for chunk in _chunks(body):
            writer.write(b"%x\r\n%s\r\n" % (len(chunk), chunk) if chunked else chunk)
            await writer.drain()
            reply.sent += len(chunk)
        if chunked:
            writer.write(b"0\r\n\r\n")
        await writer.drain()

    sender = asyncio.ensure_future(send())
    try:
        await _read_reply(reader, reply, body_cap)
    except (OSError, asyncio.IncompleteReadError, ValueError) as exc:
        if reply.status is None:
            reply.error = f"read: {type(exc).__name__}"
    finally:
        reply.seconds = time.perf_counter() - started
        if not sender.done():
            sender.cancel()
        # gather, not a suppressed await: a cancellation of this request must go through.
        (failure,) = await asyncio.gather(sender, return_exceptions=True)
        if isinstance(failure, Exception) and reply.status is None and reply.error is None:
            reply.error = f"write: {type(failure).__name__}"
        # Abort, not close: close() would wait to flush a body the server does not read.
        writer.transport.abort()
    return reply


async def _read_reply(reader: asyncio.StreamReader, reply: Reply, cap: int) -> None:
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    reply.status = int(lines[0].split()[1])
    for line in lines[1:]:
        name, sep, value = line.partition(":")
        if sep:
            reply.headers[name.strip().lower()] = value.strip()
    keep: list[bytes] = []
    kept = 0

    def take(data: bytes) -> None:
        nonlocal kept
        reply.size += len(data)
        if kept < cap:
            keep.append(data[: cap - kept])
            kept += len(keep[-1])

    if reply.headers.get("transfer-encoding", "").lower() == "chunked":
        while True:
            size = int((await reader.readline()).split(b";")[0].strip() or b"0", 16)
            if size == 0:
                break
            while size:
                data = await reader.read(min(size, CHUNK))
                if not data:
                    raise asyncio.IncompleteReadError(b"", size)
                take(data)
                size -= len(data)
            await reader.readline()
    elif "content-length" in reply.headers:
        remaining = int(reply.headers["content-length"])
        while remaining:
            data = await reader.read(min(remaining, CHUNK))
            if not data:
                raise asyncio.IncompleteReadError(b"", remaining)
            take(data)
            remaining -= len(data)
    else:
        while data := await reader.read(CHUNK):
            take(data)
    reply.body = b"".join(keep)


def envelope_headers(key: str, *, gzip: bool = False) -> dict[str, str]:
    headers = {
        "Content-Type": "application/x-sentry-envelope",
        "X-Sentry-Auth": f"Sentry sentry_key={key}, sentry_version=7, sentry_client=attacks/1.0",
    }
    if gzip:
        headers["Content-Encoding"] = "gzip"
    return headers


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}


def graphql_errors(reply: Reply) -> list[dict[str, Any]]:
    """The `errors` of a GraphQL answer: message (shortened) and `extensions.code`."""
    body = reply.json()
    if not isinstance(body, dict):
        return []
    out = []
    for err in body.get("errors") or []:
        if isinstance(err, dict):
            code = (err.get("extensions") or {}).get("code")
            out.append({"message": str(err.get("message", ""))[:160], "code": code})
    return out
