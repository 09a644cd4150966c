"""The ASCII shortcut for dropping punctuation removes exactly what Unicode's P* categories do."""

from __future__ import annotations

import unicodedata

from ownlay_pipelines.capi.normalize import CapiPlatform, MatchField, match_key


def _by_category(value: str) -> str:
    return "".join(c for c in value if not unicodedata.category(c).startswith("P"))


def test_every_ascii_character_is_kept_or_dropped_as_its_unicode_category_says() -> None:
    ascii_text = "".join(map(chr, range(32, 127)))
    key = match_key(CapiPlatform.META, MatchField.FIRST_NAME, f"x{ascii_text}x")
    assert key.normalized == _by_category(f"x{ascii_text}x".lower().strip())
    # Symbols are not punctuation ($ + < = > ^ ` | ~ stay), as in the non-ASCII path.
    assert match_key(CapiPlatform.META, MatchField.LAST_NAME, "a$b+c").normalized == "a$b+c"
    assert match_key(CapiPlatform.META, MatchField.LAST_NAME, "Zoë-Ann").normalized == "zoëann"
