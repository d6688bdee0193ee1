"""Bulk-import records: one JSON object per line (interfaces.md "Bulk import format").

Pure: a line in, a typed record or the reason it is rejected out. The record's payload is
then validated exactly like a live `session` / `sessions` item, minus the time window.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import orjson

from ingest.items import ItemContext, session_item, sessions_item
from storage.types import WriteBatch


@dataclass(frozen=True, slots=True)
class ImportRecord:
    line_no: int
    type: str  # "session" or "sessions"
    org: str
    project: str | int  # slug or numeric id
    payload: Mapping[str, Any]  # the whole record (the item parsers ignore the routing keys)


@dataclass(frozen=True, slots=True)
class RejectedLine:
    line_no: int
    reason: str
    detail: str = ""


def parse_record(line: bytes | str, line_no: int) -> ImportRecord | RejectedLine | None:
    """The record on one line; None for a blank line."""
    if not line or line.isspace():
        return None
    try:
        obj = orjson.loads(line)
    except orjson.JSONDecodeError as exc:
        return RejectedLine(line_no, "invalid_json", str(exc))
    if not isinstance(obj, dict):
        return RejectedLine(line_no, "invalid_record", "a record must be a JSON object")
    kind = obj.get("type")
    if kind not in ("session", "sessions"):
        return RejectedLine(line_no, "invalid_record", "`type` must be `session` or `sessions`")
    org = obj.get("org")
    if not isinstance(org, str) or not org:
        return RejectedLine(line_no, "invalid_record", "`org` must be an organization slug")
    project = obj.get("project")
    if isinstance(project, bool) or not isinstance(project, str | int) or project in ("", 0):
        return RejectedLine(line_no, "invalid_record", "`project` must be a project slug or id")
    if isinstance(project, str) and project.isdigit():
        project = int(project)
    # The routing keys stay in the payload: the item parsers read only their own fields,
    # and a copy without them cost a dict per line.
    return ImportRecord(line_no, kind, org, project, obj)


def record_batch(record: ImportRecord, project_id: int, received_at: float) -> WriteBatch:
    """Validate a record like live ingestion, without the time window (ingest.md 15.2)."""
    ctx = _import_context(project_id, received_at)
    if record.type == "session":
        return session_item(record.payload, ctx)
    return sessions_item(record.payload, ctx)


@lru_cache(maxsize=256)
def _import_context(project_id: int, received_at: float) -> ItemContext:
    """The (immutable) context of an import record: one per project and import."""
    return ItemContext(project_id=project_id, received_at=received_at, live=False)


def rejection(batch: WriteBatch) -> str | None:
    """The drop reason when validation dropped the whole record."""
    reason = None
    for o in batch.outcomes:
        if o.kind == "accepted":
            return None
        if reason is None and o.kind == "dropped":
            reason = o.reason
    return reason
