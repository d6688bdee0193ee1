"""The sample-file parser itself: exact bytes, the special bodies, the file override."""

from __future__ import annotations

from pathlib import Path

from tests.samples import RECEIVED_AT, load_samples, samples_path


def test_every_body_has_its_declared_content_length() -> None:
    for sample in load_samples().values():
        assert sample.header("Content-Length") == str(len(sample.body)), sample.id


def test_special_bodies() -> None:
    samples = load_samples()
    assert samples["M20"].body.startswith(b"{}\r\n{")
    assert samples["M14"].body.endswith(b"}\n\n")
    assert samples["M21"].body == b""
    s11 = samples["S11"]
    assert s11.body[:2] == b"\x1f\x8b" and s11.decoded_body is not None
    assert len(s11.decoded_body) == 211 and s11.envelope_bytes == s11.decoded_body
    assert all(b"\r" not in s.body for k, s in samples.items() if k not in ("M20", "S11"))


def test_request_and_response_fields() -> None:
    samples = load_samples()
    s06 = samples["S06"]
    assert (s06.method, s06.path, s06.project_id) == ("POST", "/api/42/envelope/", 42)
    assert s06.query.startswith("sentry_key=e12d836b15bb49d7bbf99e64295d995b&")
    assert s06.target == f"{s06.path}?{s06.query}"
    assert s06.header_map["content-type"] == "text/plain;charset=UTF-8"
    m11 = samples["M11"].response
    assert (m11.status, m11.header("retry-after"), m11.header("X-Sentry-Rate-Limits")) == (
        429,
        "60",
        "60:session:project",
    )
    assert samples["S03"].response.body == {"id": "9ec79c33ec9942ab8353589fcb2e04dc"}
    (alternative,) = samples["M10"].alternatives
    assert alternative.status == 413 and alternative.condition.startswith("With 101 such items")
    assert samples["S01"].received_at == "2025-06-02T10:00:30Z" and RECEIVED_AT == 1748858430.0
    assert "started        +1" in samples["S01"].stored
    assert samples["M17"].header("Content-Encoding") == "compress"


def test_fixture_is_inside_the_repository() -> None:
    # A clone alone must pass: the samples are the repository's own copy.
    repo = Path(__file__).resolve().parents[1]
    assert samples_path().is_relative_to(repo) and samples_path().is_file()
