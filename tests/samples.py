"""The byte-exact sample requests of `shared/samples/envelopes.txt`, as values.

    from tests.samples import load_samples, RECEIVED_AT
    sample = load_samples()["S01"]
    sample.method, sample.path, sample.query, sample.headers  # the request as sent
    sample.body                                               # exact bytes as sent
    sample.response.status, sample.response.body              # the expected answer

The file is the repository's own copy, `tests/fixtures/envelopes.txt` (taken verbatim from
the project's shared samples, so a clone alone passes). Bodies are rebuilt from the display conventions of that file:
every shown line ends with LF, `<CR>` stands for a CR byte, a base64 block is the exact
(compressed) body, and an empty block is an empty body.
"""

from __future__ import annotations

import base64
import functools
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson

#: The server receive time every sample assumes.
RECEIVED_AT_ISO = "2025-06-02T10:00:30Z"
RECEIVED_AT = datetime(2025, 6, 2, 10, 0, 30, tzinfo=UTC).timestamp()

_SAMPLE_HEADER = re.compile(r"^={20,}\n([SM][0-9]{2}): (.*)\n={20,}\n", re.MULTILINE)
_SECTION = re.compile(r"^--- (request|expected response|stored quantities|notes) ---\n", re.M)
_STATUS_LINE = re.compile(r"HTTP/1\.1 ([0-9]{3}) (.*)")


@dataclass(frozen=True)
class ExpectedResponse:
    status: int
    reason: str
    headers: tuple[tuple[str, str], ...]
    body: dict[str, Any]
    #: For an alternative answer, the sentence saying when it applies.
    condition: str = ""

    def header(self, name: str) -> str | None:
        return _header(self.headers, name)


@dataclass(frozen=True)
class Sample:
    id: str
    title: str
    received_at: str
    method: str
    path: str
    #: The raw query string, without the `?` ("" when there is none).
    query: str
    #: Request headers in the order shown, names as shown.
    headers: tuple[tuple[str, str], ...]
    #: The body exactly as sent (compressed when the sample has a Content-Encoding).
    body: bytes
    #: The decoded body the sample shows for a compressed request, else None.
    decoded_body: bytes | None
    response: ExpectedResponse
    #: Further answers a sample describes for a variant of the request (M10: 101 items).
    alternatives: tuple[ExpectedResponse, ...] = ()
    stored: str = ""
    notes: str = ""
    raw: str = field(default="", repr=False)

    def header(self, name: str) -> str | None:
        """A request header by case-insensitive name."""
        return _header(self.headers, name)

    @property
    def header_map(self) -> dict[str, str]:
        """Request headers keyed by lower-case name."""
        return {name.lower(): value for name, value in self.headers}

    @property
    def target(self) -> str:
        """Path and query as in the request line."""
        return f"{self.path}?{self.query}" if self.query else self.path

    @property
    def project_id(self) -> int:
        return int(self.path.strip("/").split("/")[1])

    @property
    def envelope_bytes(self) -> bytes:
        """The envelope after content decoding."""
        return self.body if self.decoded_body is None else self.decoded_body


def samples_path() -> Path:
    return Path(__file__).resolve().parent / "fixtures" / "envelopes.txt"


@functools.cache
def load_samples(path: Path | None = None) -> dict[str, Sample]:
    """Every sample of the file, keyed by id (`S01` ... `M23`), in file order."""
    text = (path or samples_path()).read_bytes().decode("utf-8")
    headers = list(_SAMPLE_HEADER.finditer(text))
    samples = {}
    for index, match in enumerate(headers):
        end = headers[index + 1].start() if index + 1 < len(headers) else len(text)
        sample = _parse_sample(match.group(1), match.group(2), text[match.end() : end])
        samples[sample.id] = sample
    return samples


def _parse_sample(sample_id: str, title: str, block: str) -> Sample:
    received = re.search(r"^Server receive time: (\S+)$", block, re.M)
    sections = _sections(block)
    request = sections["request"]

    head, _, rest = request.partition("\n\n")
    request_line, *header_lines = head.splitlines()
    method, target, _version = request_line.split(" ")
    path, _, query = target.partition("?")
    request_headers = tuple(_split_header(line) for line in header_lines)

    body = decoded = None
    for marker, lines in _blocks(rest):
        if marker.startswith("-----BEGIN DECODED BODY"):
            decoded = _shown_bytes(lines)
        elif "base64" in marker:
            body = base64.b64decode("".join(lines))
        else:
            body = _shown_bytes(lines)
    if body is None:
        raise ValueError(f"{sample_id}: no body block")

    responses = _responses(sections["expected response"])
    return Sample(
        id=sample_id,
        title=title,
        received_at=received.group(1) if received else RECEIVED_AT_ISO,
        method=method,
        path=path,
        query=query,
        headers=request_headers,
        body=body,
        decoded_body=decoded,
        response=responses[0],
        alternatives=tuple(responses[1:]),
        stored=sections.get("stored quantities", "").strip(),
        notes=sections.get("notes", "").strip(),
        raw=block,
    )


def _sections(block: str) -> dict[str, str]:
    marks = list(_SECTION.finditer(block))
    sections = {}
    for index, mark in enumerate(marks):
        end = marks[index + 1].start() if index + 1 < len(marks) else len(block)
        sections[mark.group(1)] = block[mark.end() : end]
    return sections


def _blocks(text: str) -> list[tuple[str, list[str]]]:
    """(BEGIN marker line, lines shown) of every `-----BEGIN ...-----` block."""
    blocks = []
    lines = text.split("\n")
    index = 0
    while index < len(lines):
        if lines[index].startswith("-----BEGIN"):
            marker = lines[index]
            start = index + 1
            index = start
            while not lines[index].startswith("-----END"):
                index += 1
            blocks.append((marker, lines[start:index]))
        index += 1
    return blocks


def _shown_bytes(lines: list[str]) -> bytes:
    # Every shown line ends with LF; an empty block is an empty body; <CR> is a CR byte.
    return "".join(line.replace("<CR>", "\r") + "\n" for line in lines).encode()


def _responses(section: str) -> list[ExpectedResponse]:
    """The expected answer, then any alternative answers the sample describes.

    An alternative is introduced by a sentence right above its status line.
    """
    responses = []
    paragraphs = [p for p in section.strip("\n").split("\n\n") if p.strip()]
    index = 0
    while index < len(paragraphs):
        lines = paragraphs[index].splitlines()
        first = next((n for n, line in enumerate(lines) if _STATUS_LINE.fullmatch(line)), None)
        if first is None:
            index += 1
            continue
        status = _STATUS_LINE.fullmatch(lines[first])
        assert status is not None
        body_text = paragraphs[index + 1] if index + 1 < len(paragraphs) else "{}"
        responses.append(
            ExpectedResponse(
                status=int(status.group(1)),
                reason=status.group(2),
                headers=tuple(_split_header(line) for line in lines[first + 1 :]),
                body=orjson.loads(body_text),
                condition=" ".join(lines[:first]).strip(),
            )
        )
        index += 2
    return responses


def _split_header(line: str) -> tuple[str, str]:
    name, _, value = line.partition(":")
    return name.strip(), value.strip()


def _header(headers: tuple[tuple[str, str], ...], name: str) -> str | None:
    wanted = name.lower()
    for key, value in headers:
        if key.lower() == wanted:
            return value
    return None
