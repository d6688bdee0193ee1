"""UUID spellings accepted on the wire: 32 hex digits or the hyphenated 8-4-4-4-12 form.

`uuid.UUID` is not used for validation because it also accepts braces, `urn:uuid:` and
hyphens anywhere, none of which the protocol allows.
"""

from __future__ import annotations

import re

_HEX32 = re.compile(r"[0-9a-f]{32}")

NIL_UUIDS = frozenset({"00000000-0000-0000-0000-000000000000", "0" * 32})


def uuid_hex(value: str) -> str | None:
    """The 32 lower-case hex digits of a UUID string, or None when it is not one."""
    if len(value) == 32:
        digits = value.lower()
    elif len(value) == 36 and value[8] == value[13] == value[18] == value[23] == "-":
        digits = (value[:8] + value[9:13] + value[14:18] + value[19:23] + value[24:]).lower()
    else:
        return None
    return digits if _HEX32.fullmatch(digits) else None


def canonical_uuid(value: str) -> str | None:
    """The lower-case hyphenated form of a UUID string, or None when it is not one."""
    digits = uuid_hex(value)
    if digits is None:
        return None
    return f"{digits[:8]}-{digits[8:12]}-{digits[12:16]}-{digits[16:20]}-{digits[20:]}"
