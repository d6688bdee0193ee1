"""The session simulator: session updates and aggregate buckets described in code become
stored increments through ingest's own rules (`ingest.quantities`, `release-health.md` 2.3
and 2.4).

The demo data (`jobs.demo`), the benchmark dataset (`bench.dataset`) and the tests
describe what a client sent, never the increments themselves, so that generated data is
exactly what a server that received those updates stores, and a change to the rule
changes all of them at once.

Inputs are taken as already valid (what ingest's validation would accept): an unknown
status, or an errored update without a session id, is a bug in the caller and raises
`ValueError` instead of being dropped.
"""

from __future__ import annotations

from functools import lru_cache

from ingest.dimensions import client_dimensions
from ingest.payloads import KNOWN_STATUSES, AggregateBucket, SessionAttributes, SessionUpdate
from ingest.quantities import bucket_increment, update_increment
from storage.types import ClientDimensions, SessionIncrement

#: The session id of updates that never join the error set, when the caller has none: the
#: rule only stores the id of an errored update.
_UNSTORED_SID = "00000000-0000-0000-0000-000000000000"


@lru_cache(maxsize=4096)
def _attributes(release: str, environment: str | None, user_agent: str | None = None) -> SessionAttributes:
    # Shared between updates: the rule only reads them, and the benchmark simulates
    # millions of updates over a few hundred (release, environment) pairs.
    return SessionAttributes(release, environment, user_agent=user_agent)


def _dimensions(
    dimensions: ClientDimensions | None, sdk_name: str | None, user_agent: str | None
) -> ClientDimensions | None:
    """Given dimensions, else what ingest derives from the envelope's `sdk.name` and the
    session's `attrs.user_agent` (`ingest.dimensions`, cached per distinct pair)."""
    if dimensions is not None or (sdk_name is None and user_agent is None):
        return dimensions
    return client_dimensions(sdk_name, user_agent)


def session_update(
    project_id: int,
    release: str,
    started: float,
    *,
    environment: str | None = None,
    status: str = "ok",
    init: bool = False,
    errors: int = 0,
    sid: str | None = None,
    did: str | None = None,
    duration: float | None = None,
    timestamp: float | None = None,
    abnormal_mechanism: str | None = None,
    dimensions: ClientDimensions | None = None,
    sdk_name: str | None = None,
    user_agent: str | None = None,
) -> SessionIncrement | None:
    """The increment ingest stores for one `session` update, or None when the update adds
    nothing (a later `ok` update of an anonymous session without errors).

    Fields are those of the `session` item (`started`, `timestamp` in unix seconds; `did`
    is the user). `sid` is needed when the update is errored (`errors > 0` or a status
    other than `ok` / `exited`): the error set counts distinct session ids. `timestamp`
    does not change what is stored (every quantity is bucketed by `started`).
    `dimensions` are the client's (`ClientDimensions`), as ingest derives them from the
    envelope and the user agent; or give the envelope's `sdk_name` and the session's
    `attrs.user_agent` and they are derived by ingest's own rule.
    """
    if status not in KNOWN_STATUSES:
        raise ValueError(f"unknown session status {status!r}")
    update = SessionUpdate(
        sid=_UNSTORED_SID if sid is None else sid,
        did=did,
        seq=None,
        init=init,
        timestamp=timestamp,
        started=started,
        duration=duration,
        status=status,
        errors=errors,
        abnormal_mechanism=abnormal_mechanism,
        attrs=_attributes(release, environment, user_agent),
    )
    increment = update_increment(project_id, update, environment)
    if increment is None:
        return None
    if increment.error_sid == _UNSTORED_SID:
        # The rule found the update errored: it joins the error set under its id.
        raise ValueError(f"an errored update (status {status!r}, errors {errors}) needs its session id")
    dimensions = _dimensions(dimensions, sdk_name, user_agent)
    if dimensions is not None:
        increment.dimensions = dimensions
    return increment


def aggregate_bucket(
    project_id: int,
    release: str,
    started: float,
    *,
    environment: str | None = None,
    exited: int = 0,
    errored: int = 0,
    abnormal: int = 0,
    crashed: int = 0,
    unhandled: int = 0,
    did: str | None = None,
    dimensions: ClientDimensions | None = None,
    sdk_name: str | None = None,
) -> SessionIncrement | None:
    """The increment ingest stores for one bucket of a `sessions` item (counts of sessions
    that ended in each way during the bucket), or None when it adds nothing. `sdk_name`:
    the envelope's, from which ingest derives the dimensions (aggregates have no user
    agent)."""
    bucket = AggregateBucket(started, did, exited, errored, abnormal, crashed, unhandled)
    increment = bucket_increment(project_id, release, environment, bucket)
    dimensions = _dimensions(dimensions, sdk_name, None)
    if increment is not None and dimensions is not None:
        increment.dimensions = dimensions
    return increment
