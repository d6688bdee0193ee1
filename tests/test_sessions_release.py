"""Release parsing (sentry-release-parser port) and the release filters (release-health.md
8.7, 6.3)."""

from __future__ import annotations

import pytest

from resolvers.sessions import SessionsQueryError
from resolvers.sessions.filter_parser import SearchTerm, parse_query
from resolvers.sessions.release_filter import (
    parse_semver_filter,
    release_build_filter,
    release_package_filter,
    release_stage_filter,
    release_version_filter,
)
from storage.release_parser import parse_release, semver_info
from storage.types import Cond

SEMVER_ERROR = (
    'Invalid format of semantic version. For searching non-semver releases, use "release:" instead.'
)
IN_ERROR = "Invalid operation 'IN' for semantic version filter."


def term(query: str) -> SearchTerm:
    (token,) = parse_query(query)
    assert isinstance(token, SearchTerm)
    return token


# -- parsing ---------------------------------------------------------------------------


def test_parse_basic():
    release = parse_release("@foo.bar.baz--blah@1.2.3-dev+BUILD-code")
    assert release is not None and release.version is not None
    assert release.package == "@foo.bar.baz--blah"
    assert release.version_raw == "1.2.3-dev+BUILD-code"
    v = release.version
    assert (v.major, v.minor, v.patch, v.revision) == (1, 2, 3, 0)
    assert v.pre == "dev" and v.build_code == "BUILD-code"
    assert release.build_hash is None


def test_parse_short_versions_with_letter_prerelease():
    release = parse_release("@foo.bar.baz--blah@1.0alpha2+build-code")
    assert release is not None and release.version is not None
    assert (release.version.major, release.version.minor, release.version.patch) == (1, 0, 0)
    assert release.version.pre == "alpha2"
    assert release.version.components == 2


def test_parse_hash_release():
    release = parse_release("a86d127c4b2f23a0a862620280427dcc01c78676")
    assert release is not None
    assert release.package == "" and release.version is None
    assert release.build_hash == "a86d127c4b2f23a0a862620280427dcc01c78676"
    release = parse_release("some-package@a86d127c4b2f23a0a862620280427dcc01c78676")
    assert release is not None
    assert release.package == "some-package" and release.version is None
    release = parse_release("package@085240e737828d8326719bf97730188e927e49ca")
    assert release is not None and release.version is None


def test_parse_build_code_that_is_a_hash():
    release = parse_release("@foo@1.0a+a86d127c4b2f23a0a862620280427dcc01c78676")
    assert release is not None and release.version is not None
    assert release.build_hash == "a86d127c4b2f23a0a862620280427dcc01c78676"


def test_parse_four_components_and_build_number():
    release = parse_release("foo.bar.baz@1.2.3.04")
    assert release is not None and release.version is not None
    assert release.version.semver_key() == (1, 2, 3, 4, 1, "")
    release = parse_release("org.example.FooApp@1.0rc1+20200101100")
    assert release is not None and release.version is not None
    assert release.version.build_number == 20200101100
    assert release.version.semver_key() == (1, 0, 0, 0, 0, "rc1")


def test_parse_build_number_must_fit_bigint():
    info = semver_info("a@1.0+9223372036854775807")
    assert info is not None and info.build_number == 9223372036854775807
    info = semver_info("a@1.0+9223372036854775808")
    assert info is not None and info.build_number is None
    assert info.build_code == "9223372036854775808"
    info = semver_info("a@1.0+12ab")
    assert info is not None and info.build_number is None


def test_parse_invalid_and_unversioned():
    trimmed = parse_release("  foo   ")
    assert trimmed is not None and trimmed.version_raw == "foo"
    for invalid in ("foo/bar", ".", "..", "latest", "LATEST", "a\nb", "x" * 201):
        assert parse_release(invalid) is None
    assert semver_info("foo") is None  # no package: no parsed version
    assert semver_info("foo@bar") is None
    assert semver_info("foo@1.2.3.4.5") is None
    assert semver_info("foo@1.0.0") is not None


def test_dash_prerelease_is_dropped():
    info = semver_info("foo@1.0.0-beta.1")
    assert info is not None and info.version.pre == "beta.1"


# -- release.version ---------------------------------------------------------------------

AHMED = ["ahmed@1.0.0", "ahmed@1.1.0", "ahmed@2.0.0"]


def version(query: str, releases: list[str]) -> tuple[str | int | None, ...]:
    cond = release_version_filter(term(query), releases)
    assert cond.dimension == "release" and not cond.negate
    return cond.values


def test_spec_example_wildcard():
    assert version("release.version:1.*", AHMED) == ("ahmed@1.0.0", "ahmed@1.1.0")


def test_version_operators():
    releases = [*AHMED, "other@1.1.0", "ahmed@1.1.0-beta", "unparsed", "x@abcdef123456"]
    assert version("release.version:1.1.0", releases) == ("ahmed@1.1.0", "other@1.1.0")
    assert version("release.version:1.1", releases) == ("ahmed@1.1.0", "other@1.1.0")
    assert version("release.version:>1.1.0", releases) == ("ahmed@2.0.0",)
    assert version("release.version:>=1.1.0", releases) == (
        "ahmed@1.1.0",
        "ahmed@2.0.0",
        "other@1.1.0",
    )
    assert version("release.version:<1.1.0", releases) == ("ahmed@1.0.0", "ahmed@1.1.0-beta")
    assert version("release.version:<=1.0.0", releases) == ("ahmed@1.0.0",)
    # a prerelease sorts below the release itself
    assert version("release.version:>1.1.0-beta", releases) == (
        "ahmed@1.1.0",
        "ahmed@2.0.0",
        "other@1.1.0",
    )


def test_version_with_package():
    releases = [*AHMED, "other@1.1.0"]
    assert version("release.version:other@1.1.0", releases) == ("other@1.1.0",)
    with pytest.raises(SessionsQueryError):
        version("release.version:ahmed@>1", releases)  # not a version, not a pattern
    assert version("release.version:>ahmed@1.0.0", releases) == ("ahmed@1.1.0", "ahmed@2.0.0")
    assert version("release.version:ahmed@1.*", releases) == ("ahmed@1.0.0", "ahmed@1.1.0")


def test_version_negation_only_among_parsed_releases():
    releases = [*AHMED, "unparsed"]
    assert version("!release.version:1.1.0", releases) == ("ahmed@1.0.0", "ahmed@2.0.0")
    assert version("!release.version:1.*", releases) == ("ahmed@2.0.0",)
    assert version("release.version:!=2.0.0", releases) == ("ahmed@1.0.0", "ahmed@1.1.0")
    # `!` flips a comparison
    assert version("!release.version:>1.0.0", releases) == ("ahmed@1.0.0",)


def test_version_wildcard_patterns():
    releases = ["a@1.2.3", "a@1.2.4", "a@1.3.0", "a@2.0.0", "a@1.2.3.7"]
    assert version("release.version:1.2.*", releases) == ("a@1.2.3", "a@1.2.3.7", "a@1.2.4")
    assert version("release.version:1.2.X", releases) == ("a@1.2.3", "a@1.2.3.7", "a@1.2.4")
    assert version("release.version:1.2.3.*", releases) == ("a@1.2.3", "a@1.2.3.7")
    assert version("release.version:*", releases) == tuple(sorted(releases))
    assert version("release.version:1.*.7", releases) == (
        "a@1.2.3",
        "a@1.2.3.7",
        "a@1.2.4",
        "a@1.3.0",
    )
    # the operator is ignored for patterns
    assert version("release.version:>1.*", releases) == version("release.version:1.*", releases)


def test_version_no_match_is_empty():
    assert version("release.version:9.9.9", AHMED) == ()


@pytest.mark.parametrize("value", ["foo", "1.x", "1.2.3.4.5", "abc.*", "1.2.three"])
def test_malformed_semantic_version(value):
    with pytest.raises(SessionsQueryError) as info:
        release_version_filter(term(f"release.version:{value}"), AHMED)
    assert info.value.message == SEMVER_ERROR


@pytest.mark.parametrize("query", ["release.version:[1.0.0, 2.0.0]", "!release.version:[1.0.0]"])
def test_version_list_is_an_error(query):
    with pytest.raises(SessionsQueryError) as info:
        release_version_filter(term(query), AHMED)
    assert info.value.message == IN_ERROR


def test_semver_filter_shape():
    semver = parse_semver_filter("pkg@1.2.3-rc1", ">=")
    assert semver.package == "pkg" and not semver.prefix
    assert semver.parts == (1, 2, 3, 0, 0, "rc1")
    pattern = parse_semver_filter("1.X", "=")
    assert pattern.prefix and pattern.parts == (1,) and pattern.package is None


# -- release.package and release.build ---------------------------------------------------

BUILDS = ["ahmed@1.2.4+124", "ahmed@1.2.3+123", "ahmed2@1.2.5+125"]


def test_spec_example_build_and_package():
    cond = release_build_filter(term("release.build:<125"), BUILDS)
    assert cond == Cond("release", ("ahmed@1.2.3+123", "ahmed@1.2.4+124"))
    cond = release_package_filter(term("release.package:ahmed2"), BUILDS)
    assert cond == Cond("release", ("ahmed2@1.2.5+125",))


def test_package_list_and_negation():
    releases = [*BUILDS, "plain", "other@abcdef123456"]
    assert release_package_filter(term("release.package:[ahmed, x]"), releases).values == (
        "ahmed@1.2.3+123",
        "ahmed@1.2.4+124",
    )
    negated = release_package_filter(term("!release.package:ahmed"), releases)
    assert negated == Cond("release", ("ahmed@1.2.3+123", "ahmed@1.2.4+124"), negate=True)
    # a package of a release without a parsed version does not count
    assert release_package_filter(term("release.package:other"), releases).values == ()


def test_build_numeric_operators():
    def build(query: str) -> tuple[str | int | None, ...]:
        return release_build_filter(term(query), BUILDS).values

    assert build("release.build:124") == ("ahmed@1.2.4+124",)
    assert build("release.build:>=124") == ("ahmed2@1.2.5+125", "ahmed@1.2.4+124")
    assert build("release.build:>124") == ("ahmed2@1.2.5+125",)
    assert build("release.build:<=124") == ("ahmed@1.2.3+123", "ahmed@1.2.4+124")
    assert build("!release.build:124") == ("ahmed2@1.2.5+125", "ahmed@1.2.3+123")
    assert build("!release.build:>124") == ("ahmed@1.2.3+123", "ahmed@1.2.4+124")


def test_build_code_exact_and_prefix():
    releases = ["a@1.0+abc-1", "a@1.0+abc-2", "a@1.0+xyz", "a@1.0", "plain"]

    def build(query: str) -> tuple[str | int | None, ...]:
        return release_build_filter(term(query), releases).values

    assert build("release.build:abc-1") == ("a@1.0+abc-1",)
    assert build("release.build:abc*") == ("a@1.0+abc-1", "a@1.0+abc-2")
    assert build("release.build:*") == ("a@1.0+abc-1", "a@1.0+abc-2", "a@1.0+xyz")
    assert build("release.build:ab") == ()
    # negation: every other known release, also those without a build
    assert build("!release.build:abc*") == ("a@1.0", "a@1.0+xyz", "plain")


def test_build_list_is_an_error():
    with pytest.raises(SessionsQueryError) as info:
        release_build_filter(term("release.build:[1, 2]"), BUILDS)
    assert info.value.message == IN_ERROR


# -- release.stage -----------------------------------------------------------------------

STAGES = {"a@1": "adopted", "a@2": "replaced", "a@3": "low_adoption", "a@4": "adopted"}


def stage(query: str, environments=("prod",)) -> Cond:
    def lookup(environment: str):
        assert environment == "prod"
        return STAGES

    return release_stage_filter(term(query), environments, lookup)


def test_stage_values():
    assert stage("release.stage:adopted") == Cond("release", ("a@1", "a@4"))
    assert stage("release.stage:replaced") == Cond("release", ("a@2",))
    assert stage("release.stage:low_adoption") == Cond("release", ("a@3",))
    assert stage("release.stage:[replaced, low_adoption]") == Cond("release", ("a@2", "a@3"))
    assert stage("!release.stage:adopted") == Cond("release", ("a@1", "a@4"), negate=True)
    assert stage("!release.stage:[adopted]") == Cond("release", ("a@1", "a@4"), negate=True)


@pytest.mark.parametrize("environments", [(), ("prod", "dev")])
def test_stage_needs_one_environment(environments):
    with pytest.raises(SessionsQueryError) as info:
        stage("release.stage:adopted", environments)
    assert info.value.message == "Choose a single environment to filter by release stage."


@pytest.mark.parametrize("value", ["bogus", "[adopted, nope]", "Adopted"])
def test_unsupported_stage(value):
    with pytest.raises(SessionsQueryError) as info:
        stage(f"release.stage:{value}")
    assert info.value.message == "Unsupported release.stage value."


def test_environment_check_comes_before_the_value_check():
    with pytest.raises(SessionsQueryError) as info:
        stage("release.stage:bogus", ())
    assert info.value.message == "Choose a single environment to filter by release stage."
