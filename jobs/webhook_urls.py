"""Which URLs webhooks may be sent to: `http(s)` only, and, unless the operator allows it
(`RELHEALTH_WEBHOOK_ALLOW_PRIVATE`), no loopback, private, link-local or otherwise
internal address, so that an org:write token cannot make the server probe its own
network. Names are resolved and every address is checked, at creation and again before
each delivery (a name may be re-pointed later)."""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from urllib.parse import urlsplit

#: The longest URL an endpoint may have (the column's length).
MAX_URL = 2048


def _internal(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return not ip.is_global or ip.is_multicast


def check_syntax(url: str) -> str | None:
    """Why `url` is not a webhook URL at all; None when it is one."""
    if len(url) > MAX_URL:
        return f"At most {MAX_URL} characters."
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises on a malformed port
    except ValueError:
        return "Not a URL."
    if parts.scheme not in ("http", "https"):
        return "Only http and https URLs are allowed."
    if not parts.hostname:
        return "The URL has no host."
    if parts.username is not None or parts.password is not None:
        return "Credentials in the URL are not allowed; authenticate with the signature."
    return None


async def check_url(url: str, allow_private: bool) -> str | None:
    """Why webhooks may not be sent to `url`; None when they may."""
    problem = check_syntax(url)
    if problem is not None or allow_private:
        return problem
    host = urlsplit(url).hostname or ""
    try:
        addresses = [host] if _is_ip(host) else await _resolve(host)
    except OSError:
        return f"The host {host!r} does not resolve."
    if any(_internal(a) for a in addresses):
        return "Loopback, private and link-local addresses are refused (RELHEALTH_WEBHOOK_ALLOW_PRIVATE)."
    return None


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


async def _resolve(host: str) -> list[str]:
    infos = await asyncio.get_running_loop().getaddrinfo(host, None, type=socket.SOCK_STREAM)
    return [str(info[4][0]) for info in infos]
