"""Accepted session data as stored quantities (`release-health.md` 2.3, 2.4).

Inputs are already validated and normalized (drift-corrected `started`, checked release and
environment, known status). An update or bucket that adds nothing yields None.
"""

from __future__ import annotations

import hashlib
import re

from ingest.payloads import AggregateBucket, SessionUpdate
from ingest.uuids import NIL_UUIDS
from storage.types import (
    USER_ABNORMAL,
    USER_ANR_BACKGROUND,
    USER_ANR_FOREGROUND,
    USER_CRASHED,
    USER_ERRORED,
    USER_SEEN,
    USER_UNHANDLED,
    SessionIncrement,
)

_ANR_TAGS = {"anr_foreground": USER_ANR_FOREGROUND, "anr_background": USER_ANR_BACKGROUND}

#: Longest `did` stored as sent, in UTF-8 bytes. Longer ones, and any with a control
#: character, are stored as `HASHED_DID_PREFIX` + their SHA-256 instead (README "Ingest
#: limits"): the user still counts, the same `did` always maps to the same value, and what
#: is stored is short and storable on every database (PostgreSQL refuses NUL in text and
#: index entries over ~2.7 KB).
MAX_DID_BYTES = 200
HASHED_DID_PREFIX = "sha256:"
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")

#: Longest session duration recorded (2^32 s, 136 years); longer ones are not recorded,
#: like negative ones, so that sums of durations stay finite on every database.
MAX_DURATION_SECONDS = float(2**32)


def has_user(did: str | None) -> bool:
    """A user is any string `did` but the nil UUID; `""` is a user, as upstream."""
    return did is not None and did not in NIL_UUIDS


def stored_user(did: str | None) -> str | None:
    """The value stored for a `did`: None without a user, else the `did` itself or, when it
    is too long or holds control characters, its hash."""
    if did is None or did in NIL_UUIDS:
        return None
    short = len(did) <= MAX_DID_BYTES // 4 or len(did.encode("utf-8", "surrogatepass")) <= MAX_DID_BYTES
    if short and not _CONTROL.search(did):
        return did
    digest = hashlib.sha256(did.encode("utf-8", "surrogatepass")).hexdigest()
    return HASHED_DID_PREFIX + digest


def update_increment(
    project_id: int, update: SessionUpdate, environment: str | None
) -> SessionIncrement | None:
    """Section 2.3 for one update; `init` must already be resolved (None counts as false)."""
    status = update.status
    errored = update.errors > 0 or (status != "ok" and status != "exited")
    crashed = 1 if status == "crashed" else 0
    abnormal = 1 if status == "abnormal" else 0
    unhandled = 1 if status == "unhandled" else 0

    tags = 0
    user = stored_user(update.did)
    if user is not None:
        tags = USER_SEEN
        if errored:
            tags |= USER_ERRORED
        if crashed:
            tags |= USER_CRASHED
        if abnormal:
            tags |= USER_ABNORMAL | _ANR_TAGS.get(update.abnormal_mechanism or "", 0)
        if unhandled:
            tags |= USER_UNHANDLED

    duration = update.duration
    if status != "exited" or duration is None or not 0 <= duration <= MAX_DURATION_SECONDS:
        duration = None

    started_count = 1 if update.init else 0
    if not (started_count or errored or user is not None or duration is not None):
        return None
    return SessionIncrement(
        project_id=project_id,
        release=update.attrs.release,
        environment=environment,
        started=update.started,
        started_count=started_count,
        crashed=crashed,
        abnormal=abnormal,
        unhandled=unhandled,
        error_sid=update.sid if errored else None,
        user=user,
        user_tags=tags,
        duration=duration,
    )


def bucket_increment(
    project_id: int, release: str, environment: str | None, bucket: AggregateBucket
) -> SessionIncrement | None:
    """Section 2.4 for one bucket: counters only, never the error set or durations."""
    all_errored = bucket.errored + bucket.abnormal + bucket.crashed + bucket.unhandled
    total = bucket.exited + all_errored

    tags = 0
    user = stored_user(bucket.did)
    if user is not None:
        tags = USER_SEEN
        if all_errored:
            tags |= USER_ERRORED
        if bucket.crashed:
            tags |= USER_CRASHED
        if bucket.abnormal:
            tags |= USER_ABNORMAL
        if bucket.unhandled:
            tags |= USER_UNHANDLED

    if not total and user is None:
        return None
    return SessionIncrement(
        project_id=project_id,
        release=release,
        environment=environment,
        started=bucket.started,
        started_count=total,
        crashed=bucket.crashed,
        abnormal=bucket.abnormal,
        unhandled=bucket.unhandled,
        errored_preaggr=all_errored,
        user=user,
        user_tags=tags,
    )
