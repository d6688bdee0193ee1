"""Client dimensions (SDK, OS, browser) derived at ingest from what SDKs really send.

User agents are real ones of current browsers; expected families are uap-core's (the names
Sentry's `os.name` / `browser.name` tags carry), majors carry their family's name.
"""

from __future__ import annotations

import pytest

from ingest.dimensions import MAX_SDK_NAME, client_dimensions, sdk_name_of
from ingest.request import ingest_envelope, read_envelope_request
from storage.types import NO_DIMENSIONS, ClientDimensions
from tests.samples import RECEIVED_AT, Sample, load_samples

SAMPLES = load_samples()

CHROME_WINDOWS = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko)"
    " Chrome/120.0.0.0 Safari/537.36"
)
FIREFOX_MAC = "Mozilla/5.0 (Macintosh; Intel Mac OS X 10.15; rv:121.0) Gecko/20100101 Firefox/121.0"
SAFARI_IPHONE = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko)"
    " Version/17.1 Mobile/15E148 Safari/604.1"
)
CHROME_ANDROID = (
    "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko)"
    " Chrome/120.0.6099.144 Mobile Safari/537.36"
)


@pytest.mark.parametrize(
    ("user_agent", "expected"),
    [
        (
            CHROME_WINDOWS,
            ClientDimensions("sentry.javascript.browser", "Windows", "Windows 10", "Chrome", "Chrome 120"),
        ),
        (
            FIREFOX_MAC,
            ClientDimensions(
                "sentry.javascript.browser", "Mac OS X", "Mac OS X 10", "Firefox", "Firefox 121"
            ),
        ),
        (
            SAFARI_IPHONE,
            ClientDimensions(
                "sentry.javascript.browser", "iOS", "iOS 17", "Mobile Safari", "Mobile Safari 17"
            ),
        ),
        (
            CHROME_ANDROID,
            ClientDimensions(
                "sentry.javascript.browser", "Android", "Android 14", "Chrome Mobile", "Chrome Mobile 120"
            ),
        ),
    ],
)
def test_browser_user_agents(user_agent: str, expected: ClientDimensions) -> None:
    # From the session's attrs.user_agent, and from the request header when attrs has none.
    assert client_dimensions("sentry.javascript.browser", user_agent, None) == expected
    assert client_dimensions("sentry.javascript.browser", None, user_agent) == expected


def test_request_user_agent_counts_only_for_browser_sdks() -> None:
    # A server SDK's request header names the SDK, not the end user's browser.
    assert client_dimensions("sentry.python", None, CHROME_WINDOWS) == ClientDimensions(
        sdk_name="sentry.python"
    )
    assert client_dimensions(None, None, CHROME_WINDOWS) is NO_DIMENSIONS
    # attrs.user_agent wins over the request's.
    assert client_dimensions("sentry.javascript.react", FIREFOX_MAC, CHROME_WINDOWS).browser_name == "Firefox"


def test_mobile_sdks_imply_the_os_only_where_they_determine_it() -> None:
    assert client_dimensions("sentry.java.android", None) == ClientDimensions(
        "sentry.java.android", "Android"
    )
    # Cocoa runs on iOS, macOS, tvOS and watchOS; Flutter and React Native on iOS and Android.
    for sdk in ("sentry.cocoa", "sentry.dart.flutter", "sentry.javascript.react-native"):
        assert client_dimensions(sdk, None) == ClientDimensions(sdk_name=sdk)
    # A user agent that names the OS wins over the SDK's.
    assert client_dimensions("sentry.java.android", CHROME_WINDOWS).os_name == "Windows"


def test_derivations_are_shared_per_distinct_input() -> None:
    first = client_dimensions("sentry.javascript.browser", SAFARI_IPHONE)
    assert client_dimensions("sentry.javascript.browser", None, SAFARI_IPHONE) is first
    assert client_dimensions("sentry.javascript.browser", SAFARI_IPHONE) is first


def test_unknown_user_agents_give_no_os_or_browser() -> None:
    # What a meta-framework SDK's server side sends (sentry.javascript.nextjs on Node).
    assert client_dimensions("sentry.javascript.nextjs", None, "node") == ClientDimensions(
        sdk_name="sentry.javascript.nextjs"
    )


def test_sdk_name_of_the_envelope_header() -> None:
    assert sdk_name_of({"sdk": {"name": "sentry.cocoa", "version": "8.0.0"}}) == "sentry.cocoa"
    assert sdk_name_of({}) is None
    assert sdk_name_of({"sdk": "sentry.cocoa"}) is None
    assert sdk_name_of({"sdk": {"name": 7}}) is None
    assert sdk_name_of({"sdk": {"name": "x" * (MAX_SDK_NAME + 1)}}) is None
    assert sdk_name_of({"sdk": {"name": "bad\nname"}}) is None


def ingest(sample: Sample, user_agent: str | None = None) -> list[ClientDimensions]:
    request = read_envelope_request(
        project_id=42, headers=sample.header_map, query=sample.query, body=sample.body
    )
    ingested = ingest_envelope(
        sample.body,
        [],
        project_id=42,
        credentials=request.credentials,
        received_at=RECEIVED_AT,
        user_agent=user_agent if user_agent is not None else sample.header("User-Agent"),
    )
    return [inc.dimensions for batch in ingested.items for inc in batch.increments]


def test_real_envelopes_carry_their_dimensions() -> None:
    # S04: the Android SDK's header names it, and the SDK determines the OS.
    assert ingest(SAMPLES["S04"]) == [ClientDimensions("sentry.java.android", "Android")]
    # S10: Flutter names itself but runs on several operating systems.
    flutter = ingest(SAMPLES["S10"])
    assert flutter and all(d == ClientDimensions(sdk_name="sentry.dart.flutter") for d in flutter)
    # Every increment of an envelope shares one instance.
    assert all(d is flutter[0] for d in flutter)
    # S06: a browser-style session with attrs.user_agent "... (X11; Linux x86_64) Firefox/126.0".
    assert ingest(SAMPLES["S06"]) == [ClientDimensions(None, "Linux", None, "Firefox", "Firefox 126")]
    # S05: sentry-python, whose request User-Agent (sentry.python/2.68.0) is no client's.
    assert all(d is NO_DIMENSIONS for d in ingest(SAMPLES["S05"]))


def test_browser_envelope_takes_the_request_user_agent() -> None:
    body = (
        b'{"sdk":{"name":"sentry.javascript.browser","version":"8.9.0"}}\n{"type":"session"}\n'
        b'{"sid":"5b6c7d8e9fa04b1c8d2e3f4051627384","init":true,"started":"2025-06-02T10:00:00Z",'
        b'"status":"ok","attrs":{"release":"web@1.0"}}\n'
    )
    request = read_envelope_request(
        project_id=42,
        headers={"x-sentry-auth": "Sentry sentry_key=e12d836b15bb49d7bbf99e64295d995b"},
        query="",
        body=body,
    )
    ingested = ingest_envelope(
        body,
        [],
        project_id=42,
        credentials=request.credentials,
        received_at=RECEIVED_AT,
        user_agent=SAFARI_IPHONE,
    )
    [increment] = ingested.items[0].increments
    assert increment.dimensions == ClientDimensions(
        "sentry.javascript.browser", "iOS", "iOS 17", "Mobile Safari", "Mobile Safari 17"
    )
