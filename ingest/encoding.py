"""Content-Encoding of request bodies (`ingest.md` 4).

Every decoder works incrementally with a bounded output buffer, so a small compressed body
that expands to gigabytes (a "zip bomb") is refused after producing about `max_size + 1`
bytes (zlib exactly; brotli and zstd overshoot by at most a few hundred KiB, their output
granularity) instead of exhausting memory.
"""

from __future__ import annotations

import io
import zlib
from collections.abc import Callable

import brotli
import zstandard

from ingest.errors import IngestError

SIZE_LIMIT_DETAIL = (
    "envelope exceeded size limits (https://develop.sentry.dev/sdk/envelopes/#size-limits)"
)

# Old sentry-ruby and sentry-java label plain bodies `utf-8`.
_PLAIN = frozenset({"", "identity", "utf-8"})

# Output step for brotli and zstd: brotli's output limit is only approximate (its buffer
# grows by doubling), so asking for small steps keeps the overshoot small.
_CHUNK = 256 * 1024

_GZIP_MAGIC = b"\x1f\x8b"


class _Undecodable(Exception):
    """The body claims an encoding it does not have."""


def too_large() -> IngestError:
    return IngestError(413, SIZE_LIMIT_DETAIL)


def decode_body(body: bytes, content_encoding: str | None, *, max_size: int) -> bytes:
    """Undo every encoding named in `content_encoding`, last applied first.

    Raises IngestError 415 for an unknown encoding (before decoding anything), 400 when the
    body does not decode, 413 when the decoded body (or any intermediate stage) exceeds
    `max_size` bytes.
    """
    codings = _codings(content_encoding)
    data = body
    for coding in reversed(codings):
        try:
            data = _DECODERS[coding](data, max_size)
        except _Undecodable:
            raise IngestError(400, "failed to decompress request body") from None
    if len(data) > max_size:
        raise too_large()
    return data


def _codings(content_encoding: str | None) -> list[str]:
    if not content_encoding:
        return []
    codings = []
    for token in content_encoding.split(","):
        coding = token.strip().lower()
        if coding in _PLAIN:
            continue
        if coding not in _DECODERS:
            raise IngestError(415, "unsupported content encoding")
        codings.append(coding)
    return codings


def _inflate(data: bytes, wbits: int, max_size: int) -> tuple[bytes, bytes]:
    """One zlib-family stream; returns (output, bytes after the stream)."""
    decompressor = zlib.decompressobj(wbits)
    out = bytearray()
    pending = data
    try:
        while not decompressor.eof:
            # max_length is never 0 here (0 would mean "unlimited").
            chunk = decompressor.decompress(pending, max_size + 1 - len(out))
            out += chunk
            if len(out) > max_size:
                raise too_large()
            pending = decompressor.unconsumed_tail
            if not chunk and not pending:
                break
    except zlib.error:
        raise _Undecodable from None
    if not decompressor.eof:
        raise _Undecodable  # truncated stream
    return bytes(out), decompressor.unused_data


def _gzip(data: bytes, max_size: int) -> bytes:
    out, rest = _inflate(data, 31, max_size)
    # Concatenated gzip members are one valid body (RFC 1952 2.2).
    while rest.startswith(_GZIP_MAGIC):
        more, rest = _inflate(rest, 31, max_size - len(out))
        out += more
    return out


def _deflate(data: bytes, max_size: int) -> bytes:
    try:
        return _inflate(data, 15, max_size)[0]
    except _Undecodable:
        # Some clients send raw deflate despite RFC 9110 requiring the zlib wrapper.
        return _inflate(data, -15, max_size)[0]


def _brotli(data: bytes, max_size: int) -> bytes:
    decompressor = brotli.Decompressor()
    out = bytearray()
    try:
        chunk = decompressor.process(data, output_buffer_limit=min(max_size + 1, _CHUNK))
        while True:
            out += chunk
            if len(out) > max_size:
                raise too_large()
            if decompressor.is_finished() or decompressor.can_accept_more_data():
                break
            # Output was capped: drain what the decoder still holds.
            room = max_size + 1 - len(out)
            chunk = decompressor.process(b"", output_buffer_limit=min(room, _CHUNK))
    except brotli.error:
        raise _Undecodable from None
    if not decompressor.is_finished():
        raise _Undecodable  # truncated stream
    return bytes(out)


def _zstd(data: bytes, max_size: int) -> bytes:
    if not data:
        raise _Undecodable  # the reader would take "no frames" for an empty result
    decompressor = zstandard.ZstdDecompressor()
    out = bytearray()
    try:
        # The reader bounds the output (frames without a content size included) ...
        with decompressor.stream_reader(io.BytesIO(data), read_across_frames=True) as reader:
            while chunk := reader.read(_CHUNK):
                out += chunk
                if len(out) > max_size:
                    raise too_large()
        # ... but it silently stops at a truncated frame, so completeness is checked
        # separately. The output is known to be small by now.
        _check_zstd_frames(decompressor, data)
    except zstandard.ZstdError:
        raise _Undecodable from None
    return bytes(out)


def _check_zstd_frames(decompressor: zstandard.ZstdDecompressor, data: bytes) -> None:
    rest = data
    while rest:
        frame = decompressor.decompressobj()
        frame.decompress(rest)
        if not frame.eof:
            raise _Undecodable
        rest = frame.unused_data


_DECODERS: dict[str, Callable[[bytes, int], bytes]] = {
    "gzip": _gzip,
    "deflate": _deflate,
    "br": _brotli,
    "zstd": _zstd,
}
