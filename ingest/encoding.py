"""Content-Encoding of request bodies (`ingest.md` 4).

Every decoder is a stream: it yields the decoded body in chunks of at most `CHUNK` bytes
and never holds more than one chunk of output, so a reader that stops early (the framer
does, at the first limit it hits) never decodes the rest, and a small compressed body
that expands to gigabytes (a "zip bomb") costs no more memory than a small one. Every
stage, intermediate ones of a list of codings included, is refused with 413 as soon as
its output exceeds `max_size`.
"""

from __future__ import annotations

import io
import zlib
from collections.abc import Callable, Iterable, Iterator

import brotli
import zstandard

from ingest.errors import IngestError

SIZE_LIMIT_DETAIL = "envelope exceeded size limits (https://develop.sentry.dev/sdk/envelopes/#size-limits)"

# Old sentry-ruby and sentry-java label plain bodies `utf-8`.
_PLAIN = frozenset({"", "identity", "utf-8"})

#: Largest piece of output a decoder produces at once.
CHUNK = 64 * 1024

_GZIP_MAGIC = b"\x1f\x8b"


class _Undecodable(Exception):
    """The body claims an encoding it does not have."""


def too_large() -> IngestError:
    return IngestError(413, SIZE_LIMIT_DETAIL)


def undecodable() -> IngestError:
    return IngestError(400, "failed to decompress request body")


def content_codings(content_encoding: str | None) -> list[str]:
    """The codings to undo, in the order they were applied; 415 for an unknown one."""
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


def decoded_chunks(body: bytes, codings: list[str], *, max_size: int) -> Iterator[bytes]:
    """The decoded body, lazily, in chunks of at most `CHUNK` bytes.

    Raises IngestError 400 (while iterating) when the body does not decode, 413 when any
    stage's output exceeds `max_size` bytes.
    """
    if not codings and len(body) <= CHUNK and len(body) <= max_size:
        # An uncompressed envelope of one chunk (nearly every SDK envelope): itself,
        # without three generators around it.
        return iter((body,)) if body else iter(())
    stream: Iterator[bytes] = iter((body,)) if body else iter(())
    for coding in reversed(codings):
        stream = _bounded(_DECODERS[coding](stream), max_size)
    if not codings:
        stream = _bounded(_pieces(body), max_size)
    return _translated(stream)


def decode_body(body: bytes, content_encoding: str | None, *, max_size: int) -> bytes:
    """Undo every encoding named in `content_encoding`, last applied first (whole body).

    Raises IngestError 415 for an unknown encoding (before decoding anything), 400 when the
    body does not decode, 413 when the decoded body (or any intermediate stage) exceeds
    `max_size` bytes.
    """
    out = bytearray()
    for chunk in decoded_chunks(body, content_codings(content_encoding), max_size=max_size):
        out += chunk
    return bytes(out)


def _pieces(body: bytes) -> Iterator[bytes]:
    view = memoryview(body)
    for start in range(0, len(body), CHUNK):
        yield bytes(view[start : start + CHUNK])


def _translated(stream: Iterator[bytes]) -> Iterator[bytes]:
    try:
        yield from stream
    except _Undecodable:
        raise undecodable() from None


def _bounded(stream: Iterator[bytes], max_size: int) -> Iterator[bytes]:
    size = 0
    for chunk in stream:
        size += len(chunk)
        if size > max_size:
            raise too_large()
        if chunk:
            yield chunk


def _inflate(source: Iterable[bytes], wbits: int, members: bool) -> Iterator[bytes]:
    """zlib-family streams; with `members`, concatenated gzip members (RFC 1952 2.2).

    Bytes after the (last) stream that do not start another member are ignored, as zlib's
    own tools do.
    """
    decompressor = zlib.decompressobj(wbits)
    carry = b""
    ended = False
    try:
        for data in source:
            if ended:
                continue
            if carry:
                data, carry = carry + data, b""
            while data:
                if decompressor.eof:
                    if not members:
                        ended = True
                        break
                    if len(data) < len(_GZIP_MAGIC):
                        carry = data
                        break
                    if not data.startswith(_GZIP_MAGIC):
                        ended = True
                        break
                    decompressor = zlib.decompressobj(wbits)
                yield decompressor.decompress(data, CHUNK)
                data = decompressor.unused_data if decompressor.eof else decompressor.unconsumed_tail
        # Output the decoder still holds once the input is exhausted.
        while not decompressor.eof:
            chunk = decompressor.decompress(b"", CHUNK)
            if not chunk:
                break
            yield chunk
    except zlib.error:
        raise _Undecodable from None
    if not decompressor.eof:
        raise _Undecodable  # truncated stream


def _gzip(source: Iterable[bytes]) -> Iterator[bytes]:
    return _inflate(source, 31, members=True)


def _deflate(source: Iterable[bytes]) -> Iterator[bytes]:
    """zlib-wrapped deflate (RFC 9110), or raw deflate, which some clients send instead.

    The zlib header (CM 8, header checksum) tells them apart; raw deflate written by real
    encoders never starts with one (its first block is final or its type bits differ).
    """
    stream = iter(source)
    first = next(stream, b"")
    zlib_wrapped = len(first) >= 2 and first[0] & 0x0F == 8 and (first[0] << 8 | first[1]) % 31 == 0

    def chained() -> Iterator[bytes]:
        yield first
        yield from stream

    yield from _inflate(chained(), 15 if zlib_wrapped else -15, members=False)


def _brotli(source: Iterable[bytes]) -> Iterator[bytes]:
    decompressor = brotli.Decompressor()
    try:
        for data in source:
            yield decompressor.process(data, output_buffer_limit=CHUNK)
            while not decompressor.can_accept_more_data() and not decompressor.is_finished():
                # Output was capped: drain what the decoder still holds.
                yield decompressor.process(b"", output_buffer_limit=CHUNK)
    except brotli.error:
        raise _Undecodable from None
    if not decompressor.is_finished():
        raise _Undecodable  # truncated stream


class _ChunkReader(io.RawIOBase):
    """A file object over an iterator of chunks, for zstandard's stream reader; every
    chunk it hands out is also shown to `check`."""

    def __init__(self, source: Iterable[bytes], check: _ZstdFrames) -> None:
        self._source = iter(source)
        self._pending = b""
        self._check = check

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        while not self._pending:
            chunk = next(self._source, None)
            if chunk is None:
                return 0
            self._pending = chunk
            self._check.feed(chunk)
        n = min(len(buffer), len(self._pending))
        buffer[:n] = self._pending[:n]
        self._pending = self._pending[n:]
        return n


def _zstd(source: Iterable[bytes]) -> Iterator[bytes]:
    frames = _ZstdFrames()
    reader = _ChunkReader(source, frames)
    decompressor = zstandard.ZstdDecompressor()
    try:
        # The reader bounds the output (frames without a content size included) ...
        with decompressor.stream_reader(reader, read_across_frames=True) as stream:  # type: ignore[arg-type]
            while chunk := stream.read(CHUNK):
                yield chunk
    except zstandard.ZstdError:
        raise _Undecodable from None
    # ... but it silently stops at a truncated frame, so the frames' structure is checked
    # on the compressed input as it goes by (no second decompression).
    if not frames.complete():
        raise _Undecodable


_ZSTD_MAGIC = 0xFD2FB528
_ZSTD_SKIPPABLE = 0x184D2A50  # ... to 0x184D2A5F
_FCS_SIZES = (0, 2, 4, 8)
_DICT_ID_SIZES = (0, 1, 2, 4)


class _ZstdFrames:
    """Follows zstd frame and block headers (RFC 8878 3.1) over a byte stream, to tell
    complete frames from truncated ones without decoding anything."""

    def __init__(self) -> None:
        self._state = "magic"
        self._need = 4  # header bytes wanted by the state
        self._buffer = b""
        self._skip = 0  # payload bytes to pass over first
        self._frames = 0
        self._broken = False
        self._checksum = False

    def feed(self, data: bytes) -> None:
        position = 0
        while position < len(data) and not self._broken:
            if self._skip:
                step = min(self._skip, len(data) - position)
                self._skip -= step
                position += step
                continue
            take = self._need - len(self._buffer)
            self._buffer += data[position : position + take]
            position += take
            if len(self._buffer) == self._need:
                header, self._buffer = self._buffer, b""
                self._advance(int.from_bytes(header, "little"))

    def _advance(self, value: int) -> None:
        state = self._state
        if state == "magic":
            if value & 0xFFFFFFF0 == _ZSTD_SKIPPABLE:
                self._state, self._need = "skippable", 4
            elif value == _ZSTD_MAGIC:
                self._state, self._need = "descriptor", 1
            else:
                self._broken = True
        elif state == "skippable":
            self._skip = value
            self._frames += 1
            self._state, self._need = "magic", 4
        elif state == "descriptor":
            single_segment = value & 0x20
            fcs = _FCS_SIZES[value >> 6] or (1 if single_segment else 0)
            self._checksum = bool(value & 0x04)
            self._skip = (0 if single_segment else 1) + _DICT_ID_SIZES[value & 0x03] + fcs
            self._state, self._need = "block", 3
        elif state == "block":
            block_type = (value >> 1) & 0x03
            if block_type == 3:
                self._broken = True
                return
            self._skip = 1 if block_type == 1 else value >> 3
            if value & 1:  # last block
                self._skip += 4 if self._checksum else 0
                self._frames += 1
                self._state, self._need = "magic", 4

    def complete(self) -> bool:
        return (
            not self._broken
            and self._frames > 0
            and self._state == "magic"
            and not self._buffer
            and not self._skip
        )


_DECODERS: dict[str, Callable[[Iterable[bytes]], Iterator[bytes]]] = {
    "gzip": _gzip,
    "deflate": _deflate,
    "br": _brotli,
    "zstd": _zstd,
}
