"""What a session's client is: SDK, operating system and browser (`ClientDimensions`).

Derived at ingest from what SDKs really send:

- the envelope header's `sdk.name` (`sentry.javascript.browser`, `sentry.cocoa`, ...);
- the session's `attrs.user_agent`, which browser SDKs fill in;
- for envelopes from a browser SDK only, the request's `User-Agent` header as a fallback
  (a server SDK's request header names the SDK or the HTTP library, not the end user's
  client: `sentry.python/2.68.0`).

User agents are parsed with ua-parser (the maintained uap-core rules, the same families
Sentry's `os.name` / `browser.name` tags carry: `Mac OS X`, `Mobile Safari`, ...). Without
a user agent, an SDK that only runs on one operating system implies it (`sentry.java.android`
-> Android); SDKs that run on several (`sentry.cocoa`: iOS, macOS, tvOS, watchOS;
`sentry.dart.flutter`, `sentry.javascript.react-native`: iOS and Android) imply nothing.

Every increment of an envelope shares one instance: derivations are cached per distinct
input (LRU), so an envelope or an import of a million sessions parses each user agent once.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from typing import Any

from ua_parser import parse_os, parse_user_agent

from storage.types import NO_DIMENSIONS, ClientDimensions

#: Longest `sdk.name` kept (real ones are under 40 characters); longer or non-string
#: names are ignored, so a client cannot store arbitrary text as a dimension value.
MAX_SDK_NAME = 64
#: Longest user agent parsed; longer ones are cut (real ones are under 500 characters,
#: and uap-core's rules all match near the start).
MAX_USER_AGENT = 512
#: Distinct (sdk, user agent) inputs whose derivation is kept.
CACHE_SIZE = 4096

#: SDKs that run in a browser: for them the request's `User-Agent` is the end user's.
#: Meta-framework SDKs (nextjs, remix, ...) send the same name from their server side,
#: whose user agent (`node`) parses to nothing, so including them is harmless.
BROWSER_SDKS = frozenset(
    "sentry.javascript." + name
    for name in (
        "browser",
        "react",
        "vue",
        "angular",
        "angular-ivy",
        "svelte",
        "sveltekit",
        "ember",
        "gatsby",
        "solid",
        "solidstart",
        "nextjs",
        "remix",
        "nuxt",
        "astro",
        "wasm",
    )
)
#: SDKs that determine the operating system (used only when no user agent names one).
SDK_OS: Mapping[str, str] = {
    "sentry.java.android": "Android",
    "sentry.native.android": "Android",
    "sentry.kotlin.android": "Android",
}

#: What ua-parser answers when no rule matches.
_UNKNOWN = "Other"


def sdk_name_of(envelope_headers: Mapping[str, Any]) -> str | None:
    """The envelope header's `sdk.name`, when it is a plausible name."""
    sdk = envelope_headers.get("sdk")
    if not isinstance(sdk, dict):
        return None
    name = sdk.get("name")
    if not isinstance(name, str) or not name or len(name) > MAX_SDK_NAME or not name.isprintable():
        return None
    return name


def client_dimensions(
    sdk_name: str | None, user_agent: str | None, request_user_agent: str | None = None
) -> ClientDimensions:
    """The dimensions of one session: from its own user agent, else (browser SDKs only)
    the request's; the same inputs always give the same (shared) instance."""
    if not user_agent and sdk_name in BROWSER_SDKS:
        user_agent = request_user_agent
    if user_agent:
        user_agent = user_agent[:MAX_USER_AGENT]
    return _derive(sdk_name, user_agent or None)


@functools.lru_cache(maxsize=CACHE_SIZE)
def _derive(sdk_name: str | None, user_agent: str | None) -> ClientDimensions:
    os_name = os_major = browser_name = browser_major = None
    if user_agent is not None:
        os = parse_os(user_agent)
        if os is not None and os.family != _UNKNOWN:
            os_name = os.family
            os_major = f"{os.family} {os.major}" if os.major else None
        browser = parse_user_agent(user_agent)
        if browser is not None and browser.family != _UNKNOWN:
            browser_name = browser.family
            browser_major = f"{browser.family} {browser.major}" if browser.major else None
    if os_name is None and sdk_name is not None:
        os_name = SDK_OS.get(sdk_name)
    if sdk_name is None and os_name is None and browser_name is None:
        return NO_DIMENSIONS
    return ClientDimensions(
        sdk_name=sdk_name,
        os_name=os_name,
        os_major=os_major,
        browser_name=browser_name,
        browser_major=browser_major,
    )
