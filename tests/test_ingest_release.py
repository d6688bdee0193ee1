"""Release and environment validation (`ingest.md` 10)."""

from __future__ import annotations

import pytest

from ingest.release import validate_environment, validate_release


@pytest.mark.parametrize(
    "release",
    [
        "",
        "myapp@1.4.2",
        "io.example.app@3.2.0+450",
        "a" * 200,
        "é" * 100,
        "latest2",
        "...",
        " ",
        "release with spaces",
        "LATEST-1",
        "x.y",
    ],
)
def test_valid_releases(release: str) -> None:
    assert validate_release(release)


@pytest.mark.parametrize(
    "release",
    [
        ".",
        "..",
        "latest",
        "Latest",
        "LATEST",
        "a" * 201,
        "é" * 101,
        "a/b",
        "a\\b",
        "a\nb",
        "a\rb",
        "a\tb",
        "a\x00b",
        "a\x1fb",
        "a\x7fb",
        "\x0c",
    ],
)
def test_invalid_releases(release: str) -> None:
    assert not validate_release(release)


@pytest.mark.parametrize(
    "environment", ["", "production", "staging-eu", "a" * 64, "ü" * 32, "none2", "nonE-x"]
)
def test_valid_environments(environment: str) -> None:
    assert validate_environment(environment)


@pytest.mark.parametrize(
    "environment",
    [".", "..", "none", "None", "NONE", "a" * 65, "ü" * 33, "a/b", "a\\b", "a\nb", "a\tb", "a\x7f", "a\x01"],
)
def test_invalid_environments(environment: str) -> None:
    assert not validate_environment(environment)
