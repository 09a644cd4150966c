"""Normalise-then-hash per field and platform (reference/analytics.md §4.6).

The expected digests were computed outside Python (`printf '%s' VALUE | sha256sum`), so a
wrong normalisation or encoding fails here rather than as a lower match rate in production.
"""

from __future__ import annotations

import json

import pytest

from ownlay_pipelines.capi.normalize import (
    CapiPlatform,
    MatchField,
    NormalizationError,
    match_key,
)
from ownlay_pipelines.cli import main

META, GOOGLE, TIKTOK, SNAP = (
    CapiPlatform.META,
    CapiPlatform.GOOGLE,
    CapiPlatform.TIKTOK,
    CapiPlatform.SNAPCHAT,
)
F = MatchField

TEST_EXAMPLE = "973dfe463ec85785f5f95af5ba3906eedb2d931c24e69824a89ea65dba4e813b"
FR_DIGITS = "8a3e7886c9335e82e02299fa3e87b46e2de3b0c63d56003e30a5029394a47661"
FR_E164 = "42d573cfc315801d4cd8eddd5416b416a0bf298b9b9e12d6b07442c91db42bd8"
US_DIGITS = "e323ec626319ca94ee8bff2e4c87cf613be6ea19919ed1364124e16807ab3176"
US_E164 = "1e231c66011e7a2d867a9cfae267a6aff103cf4913640b6e71a99850fc0ffbc8"


@pytest.mark.parametrize("platform", list(CapiPlatform))
def test_email_is_trimmed_and_lowercased_everywhere(platform: CapiPlatform) -> None:
    key = match_key(platform, F.EMAIL, "  Test@Example.COM \n")
    assert (key.normalized, key.sha256) == ("test@example.com", TEST_EXAMPLE)


def test_google_drops_every_dot_of_a_gmail_local_part_only() -> None:
    assert match_key(GOOGLE, F.EMAIL, "J.o.h.n.Doe@Gmail.com").normalized == "johndoe@gmail.com"
    assert match_key(GOOGLE, F.EMAIL, "john.doe@example.com").normalized == "john.doe@example.com"
    # The other platforms never touch the dots (Segment's replace('.') pitfall, §4.8).
    assert match_key(META, F.EMAIL, "j.o.h.n@gmail.com").normalized == "j.o.h.n@gmail.com"


@pytest.mark.parametrize(
    ("platform", "raw", "region", "normalized", "digest"),
    [
        (META, "06 12 34 56 78", "FR", "33612345678", FR_DIGITS),
        (SNAP, "0033 6 12 34 56 78", "US", "33612345678", FR_DIGITS),
        (GOOGLE, "+33 (0)6 12 34 56 78", "US", "+33612345678", FR_E164),
        (TIKTOK, "06.12.34.56.78", "FR", "+33612345678", FR_E164),
        (META, "(650) 555-1212", "US", "16505551212", US_DIGITS),
        (SNAP, "+1 650 555 1212", "FR", "16505551212", US_DIGITS),
        (GOOGLE, "650-555-1212", "US", "+16505551212", US_E164),
        (TIKTOK, "+1 (650) 555-1212", "DE", "+16505551212", US_E164),
    ],
)
def test_phone_becomes_e164_with_or_without_plus_per_platform(
    platform: CapiPlatform, raw: str, region: str, normalized: str, digest: str
) -> None:
    key = match_key(platform, F.PHONE, raw, default_region=region)
    assert (key.normalized, key.sha256) == (normalized, digest)


@pytest.mark.parametrize("raw", ["12", "not a phone", "+1 000 000 0000"])
def test_an_invalid_phone_is_refused_with_the_reason(raw: str) -> None:
    with pytest.raises(NormalizationError, match="phone"):
        match_key(META, F.PHONE, raw)


def test_meta_address_fields_follow_its_sdk_rules() -> None:
    assert match_key(META, F.CITY, " New-York (NY) 2 ").normalized == "newyorkny"
    assert match_key(META, F.STATE, "N.Y.").normalized == "ny"
    assert match_key(META, F.ZIP, "94025-1234").sha256 == (
        "b9a9cf3cd3723a2e91b7c23ecf68456e872b6e5d86e5cab7f3d45a7302da32c7"
    )
    assert match_key(META, F.COUNTRY, "US").sha256 == (
        "79adb2a2fce5c6ba215fe5f27f532d4e7edbac4b6a5e09e1ef3a08084a904621"
    )
    assert match_key(META, F.LAST_NAME, "O'Neil").normalized == "oneil"


def test_snapchat_lowercases_and_trims_names_and_address() -> None:
    assert match_key(SNAP, F.FIRST_NAME, " Jane ").sha256 == (
        "81f8f6dde88365f3928796ec7aa53f72820b06db8664f5fe76a7eb13e24546a2"
    )
    assert match_key(SNAP, F.LAST_NAME, "O'Neil").sha256 == (
        "eb1aed4f494ca276a88d3161252e48e0fe703f32666fe44fe4652f660b82cda4"
    )
    assert match_key(SNAP, F.CITY, " Paris ").sha256 == (
        "1670f2e42fefa5044d59a65349e47c566009488fc57d7b4376dd5787b59e3c57"
    )


def test_google_sends_address_fields_as_plain_text() -> None:
    city = match_key(GOOGLE, F.CITY, " Paris ")
    assert (city.normalized, city.sha256, city.wire_value) == ("Paris".lower(), None, "paris")
    assert match_key(GOOGLE, F.COUNTRY, "fr").wire_value == "FR"
    assert match_key(GOOGLE, F.FIRST_NAME, "  Mary   Ann ").normalized == "mary ann"


def test_a_sha256_is_passed_through_not_hashed_twice() -> None:
    key = match_key(TIKTOK, F.EMAIL, TEST_EXAMPLE.upper())
    assert key.sha256 == TEST_EXAMPLE
    assert match_key(SNAP, F.PHONE, f" {FR_DIGITS} ").sha256 == FR_DIGITS


def test_external_id_keeps_its_case() -> None:
    key = match_key(TIKTOK, F.EXTERNAL_ID, " customer-42 ")
    assert key.sha256 == "a045eb33f8797f35ea7d5fad7c5e0d021e2142e9c1bb6e9dc9f45b4f503b03e8"


@pytest.mark.parametrize(
    ("platform", "field", "value", "reason"),
    [
        (TIKTOK, F.CITY, "Paris", "tiktok does not accept city"),
        (GOOGLE, F.EXTERNAL_ID, "x", "google does not accept external_id"),
        (META, F.EMAIL, "no-at-sign", "not an e-mail address"),
        (META, F.COUNTRY, "France", "two-letter"),
        (SNAP, F.FIRST_NAME, "   ", "empty"),
    ],
)
def test_bad_input_names_the_reason(
    platform: CapiPlatform, field: MatchField, value: str, reason: str
) -> None:
    with pytest.raises(NormalizationError, match=reason):
        match_key(platform, field, value)


def test_cli_prints_json(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(
        ["capi", "hash", "--platform", "google", "--field", "phone", "--region", "FR",
         "--json", "06 12 34 56 78"]
    )  # fmt: skip
    assert code == 0
    assert json.loads(capsys.readouterr().out) == {"normalized": "+33612345678", "sha256": FR_E164}


def test_cli_refuses_bad_value_with_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["capi", "hash", "--platform", "meta", "--field", "email", "nope"]) == 2
    assert "not an e-mail address" in capsys.readouterr().err
