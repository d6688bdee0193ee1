"""The series catalogue: series and first_seen, known releases and environments,
releases seen in an organization, environment records; ping."""

from __future__ import annotations

from storage.types import HOUR, SeriesInfo
from tests.store_contract.conftest import API, SHOP, WEB
from tests.store_contract.support import T0, inc, write


async def _catalogue(store):
    await write(
        store,
        inc(T0 + 100.9, release="1.0", env="production"),
        inc(T0 + 50.7, release="1.0", env="production"),
        inc(T0 + 20, release="1.0", env=None),
        inc(T0 + 30, release="2.0", env="staging", project=API),
        inc(T0 + 40, release="3.0", env="production", project=SHOP),
    )


def _sorted(infos):
    return sorted(infos, key=lambda i: (i.project_id, i.release, i.environment or ""))


async def test_series_and_first_seen(subject):
    await _catalogue(subject.store)
    # first_seen: the earliest session start of the call that stored the series, in whole seconds.
    assert _sorted(await subject.store.series([WEB, API])) == [
        SeriesInfo(WEB, "1.0", None, T0 + 20),
        SeriesInfo(WEB, "1.0", "production", T0 + 50),
        SeriesInfo(API, "2.0", "staging", T0 + 30),
    ]
    assert await subject.store.series([WEB, API], releases=["2.0", "9.9"]) == [
        SeriesInfo(API, "2.0", "staging", T0 + 30)
    ]
    assert await subject.store.series([]) == []
    assert await subject.store.series([WEB], releases=[]) == []
    # A later call never moves first_seen, even with an earlier start; new series get theirs.
    await write(subject.store, inc(T0 - HOUR, release="1.0", env="production"), inc(T0 + 7, release="4.0"))
    assert _sorted(await subject.store.series([WEB])) == [
        SeriesInfo(WEB, "1.0", None, T0 + 20),
        SeriesInfo(WEB, "1.0", "production", T0 + 50),
        SeriesInfo(WEB, "4.0", "production", T0 + 7),
    ]


async def test_known_releases_and_environments(subject):
    await _catalogue(subject.store)
    s = subject.store
    assert await s.known_releases(WEB, ["1.0", "2.0", "9.9"]) == {"1.0"}
    assert await s.known_releases(API, iter(["2.0"])) == {"2.0"}
    assert await s.known_releases(WEB, []) == set()
    assert await s.known_environments(WEB, ["production", "staging", ""]) == {"production"}
    assert await s.known_environments(API, ["staging"]) == {"staging"}
    assert await s.known_environments(WEB, []) == set()


async def test_releases_seen_in_org(subject):
    await _catalogue(subject.store)
    s = subject.store
    assert await s.releases_seen_in_org(subject.acme, ["1.0", "2.0", "3.0", "9.9"]) == {"1.0", "2.0"}
    assert await s.releases_seen_in_org(subject.globex, ["1.0", "3.0"]) == {"3.0"}
    assert await s.releases_seen_in_org(subject.acme, []) == set()


async def test_environment_records(subject):
    await _catalogue(subject.store)
    await write(subject.store, inc(T0, env=""))  # "" is a name; None gets no record
    acme = await subject.store.environments(subject.acme)
    globex = await subject.store.environments(subject.globex)
    assert set(acme) == {"production", "staging", ""}
    assert set(globex) == {"production"}
    ids = [*acme.values(), *globex.values()]
    assert len(set(ids)) == len(ids)  # unique, across organizations too
    # Stable: new series do not renumber existing records.
    await write(subject.store, inc(T0, env="development"), inc(T0, env="production", release="5.0"))
    again = await subject.store.environments(subject.acme)
    assert {k: again[k] for k in acme} == acme
    assert set(again) == {"production", "staging", "", "development"}


async def test_ping(subject):
    assert await subject.store.ping() is None
