"""The properties scrub stops as soon as its result is known too large, and never sooner."""

import random

import pytest
from pydantic_core import to_json

from ownlay_pipelines.privacy import properties
from ownlay_pipelines.privacy.properties import PropertiesTooLarge, scrub_properties


def _random_json(rng: random.Random, depth: int = 0) -> object:
    kind = rng.choice(
        ["str", "int", "float", "bool", "null", "list", "dict"] if depth < 3 else ["str", "int"]
    )
    if kind == "str":
        return rng.choice(["", "x", "jane@example.com", "+1 415 555 0100", "Zürich ✓", 'a"b\\c\n'])
    if kind == "int":
        return rng.randint(-(10**12), 10**12)
    if kind == "float":
        return rng.uniform(-1e6, 1e6)
    if kind == "bool":
        return rng.random() < 0.5
    if kind == "null":
        return None
    if kind == "list":
        return [_random_json(rng, depth + 1) for _ in range(rng.randint(0, 4))]
    return {
        rng.choice(["a", "plan", "email", "mail to jane@x.io", "ü", "token"])
        + str(n): _random_json(rng, depth + 1)
        for n in range(rng.randint(0, 4))
    }


def test_an_object_exactly_at_the_limit_is_never_refused_by_the_running_bound():
    rng = random.Random(7)
    for _ in range(500):
        value = {f"k{n}": _random_json(rng) for n in range(rng.randint(0, 6))}
        size = len(to_json(scrub_properties(value)))

        assert scrub_properties(value, max_json_bytes=size) == scrub_properties(value)


def test_a_huge_object_is_refused_after_a_fraction_of_its_keys(monkeypatch: pytest.MonkeyPatch):
    masked: list[str] = []
    real_mask = properties.mask_contact_data

    def counting_mask(text: str) -> str:
        masked.append(text)
        return real_mask(text)

    monkeypatch.setattr(properties, "mask_contact_data", counting_mask)
    huge = {f"k{n}": 1 for n in range(80_000)}

    with pytest.raises(PropertiesTooLarge, match="is over 32768 bytes as JSON; the limit is 32768"):
        scrub_properties(huge, max_json_bytes=32_768)

    assert len(masked) < 6_000  # 8-byte entries: the bound passes 32 KiB after ~4,100 keys
