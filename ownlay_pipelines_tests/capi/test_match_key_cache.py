"""A drain normalises and hashes each distinct contact value once: same answers, fewer calls."""

from __future__ import annotations

import pytest

from ownlay_pipelines.capi.normalize import (
    CapiPlatform,
    MatchField,
    MatchKeyCache,
    NormalizationError,
    match_key,
)

CASES = [
    (CapiPlatform.META, MatchField.PHONE, "06 12 34 56 78", "FR"),
    (CapiPlatform.GOOGLE, MatchField.PHONE, "06 12 34 56 78", "FR"),
    (CapiPlatform.GOOGLE, MatchField.EMAIL, "J.o.h.n@Gmail.com ", "US"),
    (CapiPlatform.SNAPCHAT, MatchField.CITY, " Paris ", "US"),
    (CapiPlatform.TIKTOK, MatchField.EXTERNAL_ID, " customer-42 ", "US"),
]


def test_the_cache_answers_exactly_as_match_key_and_computes_each_value_once() -> None:
    cache = MatchKeyCache()
    for _ in range(3):
        for platform, field, value, region in CASES:
            assert cache.match_key(platform, field, value, default_region=region) == match_key(
                platform, field, value, default_region=region
            )
    assert (cache.misses, cache.hits, len(cache)) == (len(CASES), 2 * len(CASES), len(CASES))


def test_a_refused_value_is_refused_again_with_its_reason() -> None:
    cache = MatchKeyCache()
    for _ in range(2):
        with pytest.raises(NormalizationError, match="not a valid number in region US"):
            cache.match_key(CapiPlatform.META, MatchField.PHONE, "+1 000 000 0000")
    assert (cache.misses, cache.hits) == (1, 1)


def test_the_cache_keeps_at_most_max_entries_oldest_out_first() -> None:
    cache = MatchKeyCache(max_entries=2)
    for name in ("anna", "jean", "kenji"):
        cache.match_key(CapiPlatform.SNAPCHAT, MatchField.FIRST_NAME, name)
    assert len(cache) == 2
    cache.match_key(CapiPlatform.SNAPCHAT, MatchField.FIRST_NAME, "kenji")
    cache.match_key(CapiPlatform.SNAPCHAT, MatchField.FIRST_NAME, "anna")
    assert (cache.hits, cache.misses) == (1, 4)
    with pytest.raises(ValueError, match="room for 1 entry"):
        MatchKeyCache(max_entries=0)
