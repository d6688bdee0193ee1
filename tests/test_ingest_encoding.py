"""Content-Encoding handling: every supported coding, lists, failures and bombs."""

from __future__ import annotations

import gzip
import tracemalloc
import zlib

import brotli
import pytest
import zstandard

from ingest.encoding import decode_body
from ingest.errors import IngestError

DATA = b'{}\n{"type":"session","length":2}\n{}\n' * 50
MIB = 1024 * 1024


def raw_deflate(data: bytes) -> bytes:
    compressor = zlib.compressobj(wbits=-15)
    return compressor.compress(data) + compressor.flush()


def zstd_streamed(data: bytes) -> bytes:
    """A frame without content size, as streaming encoders write it."""
    compressor = zstandard.ZstdCompressor().compressobj()
    return compressor.compress(data) + compressor.flush()


ENCODERS = {
    "gzip": gzip.compress,
    "deflate": zlib.compress,
    "br": brotli.compress,
    "zstd": zstandard.ZstdCompressor().compress,
}


def decode(body: bytes, encoding: str | None, max_size: int = 10 * MIB) -> bytes:
    return decode_body(body, encoding, max_size=max_size)


def status_of(body: bytes, encoding: str | None, max_size: int = 10 * MIB) -> int:
    with pytest.raises(IngestError) as error:
        decode(body, encoding, max_size)
    return error.value.status


@pytest.mark.parametrize("encoding", [None, "", "identity", "utf-8", "UTF-8", " Identity "])
def test_plain_bodies_are_untouched(encoding: str | None) -> None:
    assert decode(DATA, encoding) == DATA


@pytest.mark.parametrize("encoding", sorted(ENCODERS))
def test_each_coding_round_trips(encoding: str) -> None:
    assert decode(ENCODERS[encoding](DATA), encoding) == DATA
    assert decode(ENCODERS[encoding](DATA), encoding.upper()) == DATA


def test_deflate_also_accepts_raw_deflate() -> None:
    assert decode(raw_deflate(DATA), "deflate") == DATA


def test_zstd_without_content_size_and_multiple_frames() -> None:
    frame = zstd_streamed(DATA)
    assert zstandard.get_frame_parameters(frame).content_size == zstandard.CONTENTSIZE_UNKNOWN
    assert decode(frame, "zstd") == DATA
    assert decode(frame + frame, "zstd") == DATA + DATA


def test_gzip_members_are_concatenated() -> None:
    assert decode(gzip.compress(DATA) + gzip.compress(b"tail"), "gzip") == DATA + b"tail"


def test_lists_decode_in_reverse_order_of_application() -> None:
    body = brotli.compress(gzip.compress(DATA))  # gzip applied first, then br
    assert decode(body, "gzip, br") == DATA
    assert decode(body, "gzip,identity,br") == DATA
    assert decode(zstd_streamed(zlib.compress(DATA)), "deflate , zstd") == DATA


@pytest.mark.parametrize("encoding", ["compress", "x-gzip", "gzip, lzma", "bzip2"])
def test_unknown_codings_are_415(encoding: str) -> None:
    with pytest.raises(IngestError) as error:
        decode(gzip.compress(DATA), encoding)
    assert (error.value.status, error.value.detail) == (415, "unsupported content encoding")


@pytest.mark.parametrize("encoding", sorted(ENCODERS))
def test_garbage_and_truncated_bodies_are_400(encoding: str) -> None:
    encoded = ENCODERS[encoding](DATA)
    for body in (b"definitely not compressed", encoded[: len(encoded) // 2], encoded[:-1], b""):
        with pytest.raises(IngestError) as error:
            decode(body, encoding)
        assert (error.value.status, error.value.detail) == (400, "failed to decompress request body")


def test_zstd_trailing_garbage_is_400() -> None:
    assert status_of(zstd_streamed(DATA) + b"junk", "zstd") == 400


def test_decoded_size_limit_is_inclusive() -> None:
    assert decode(gzip.compress(DATA), "gzip", max_size=len(DATA)) == DATA
    with pytest.raises(IngestError) as error:
        decode(gzip.compress(DATA), "gzip", max_size=len(DATA) - 1)
    assert error.value.status == 413
    assert error.value.detail == (
        "envelope exceeded size limits (https://develop.sentry.dev/sdk/envelopes/#size-limits)"
    )
    assert status_of(DATA, None, max_size=len(DATA) - 1) == 413


@pytest.mark.parametrize("encoding", [*sorted(ENCODERS), "gzip, br"])
def test_compression_bombs_stop_at_the_limit(encoding: str) -> None:
    payload = b"\0" * (64 * MIB)
    body = payload
    for coding in [c.strip() for c in encoding.split(",")]:
        body = ENCODERS[coding](body)
    assert len(body) < MIB
    limit = MIB
    tracemalloc.start()
    try:
        assert status_of(body, encoding, max_size=limit) == 413
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    # Never the 64 MiB the body expands to: the limit plus bounded decoder overhead.
    assert peak < 4 * limit
