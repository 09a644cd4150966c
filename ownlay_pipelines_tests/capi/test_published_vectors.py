"""The input → normalised → SHA-256 examples the platforms publish, through our normalisers.

Snapchat: developers.snap.com/api/marketing-api/Conversions-API/Parameters ("User Data
Parameters": em, ph and fn examples; read 2026-12-06). Meta: developers.facebook.com/docs/
marketing-api/conversions-api/parameters/customer-information-parameters (em, ph, fn examples).
Each digest was also recomputed with `hashlib.sha256(normalized.encode()).hexdigest()`.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from ownlay_pipelines.capi.conversions import Conversion
from ownlay_pipelines.capi.normalize import CapiPlatform, MatchField, match_key
from ownlay_pipelines.capi.wire import build_event
from ownlay_pipelines_tests.capi.destinations import DESTINATIONS

SNAPCHAT_VECTORS = [
    (
        MatchField.EMAIL,
        "Person@Example.com",
        "person@example.com",
        "542d240129883c019e106e3b1b2d3f3cb3537c43c425364de8e951d5a3083345",
    ),
    (
        MatchField.PHONE,
        "+44 844 412 4653",
        "448444124653",
        "dc008fda46e2e64002cf2f82a4906236282d431c4f75e5b60bfe79fc48546383",
    ),
    (
        MatchField.FIRST_NAME,
        "John",
        "john",
        "96d9632f363564cc3032521409cf22a852f2032eec099ed5967c0d000cec607a",
    ),
    (
        MatchField.FIRST_NAME,
        "Raphaël",
        "raphaël",
        "e74bb89e718fe1e19c422a48382870399f8bf7ca8dfa008739e75b0be76627b7",
    ),
]
META_VECTORS = [
    (
        MatchField.EMAIL,
        "John_Smith@gmail.com",
        "john_smith@gmail.com",
        "62a14e44f765419d10fea99367361a727c12365e2520f32218d505ed9aa0f62f",
    ),
    (
        MatchField.PHONE,
        "(650)555-1212",
        "16505551212",
        "e323ec626319ca94ee8bff2e4c87cf613be6ea19919ed1364124e16807ab3176",
    ),
    (
        MatchField.FIRST_NAME,
        "Mary",
        "mary",
        "6915771be1c5aa0c886870b6951b03d7eafc121fea0e80a5ea83beb7c449f4ec",
    ),
    (
        MatchField.FIRST_NAME,
        "정",
        "정",
        "8fa8cd9c440be61d0151429310034083132b35975c4bea67fdd74158eb51db14",
    ),
    (
        MatchField.FIRST_NAME,
        "Valéry",
        "valéry",
        "08e1996b5dd49e62a4b4c010d44e4345592a863bb9f8e3976219bac29417149c",
    ),
]


@pytest.mark.parametrize(("field", "raw", "normalized", "digest"), SNAPCHAT_VECTORS)
def test_snapchat_published_vectors(field, raw, normalized, digest) -> None:
    key = match_key(CapiPlatform.SNAPCHAT, field, raw, default_region="US")
    assert (key.normalized, key.sha256) == (normalized, digest)


@pytest.mark.parametrize(("field", "raw", "normalized", "digest"), META_VECTORS)
def test_meta_published_vectors(field, raw, normalized, digest) -> None:
    key = match_key(CapiPlatform.META, field, raw, default_region="US")
    assert (key.normalized, key.sha256) == (normalized, digest)


def test_snapchat_wire_event_carries_the_published_digests() -> None:
    snap = next(d for d in DESTINATIONS if d.platform == "snapchat")
    now = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)
    conversion = Conversion(
        workspace_id="w",
        event_id="e1",
        event_type="purchase",
        event_time=now,
        marketing_consent=True,
        email="Person@Example.com",
        phone="+44 844 412 4653",
        first_name="Raphaël",
    )
    user = build_event(conversion, snap, "PURCHASE", default_region="FR", now=now).body["user_data"]
    assert user["em"] == [SNAPCHAT_VECTORS[0][3]]
    assert user["ph"] == [SNAPCHAT_VECTORS[1][3]]
    assert user["fn"] == SNAPCHAT_VECTORS[3][3]
