"""Funnel definition files: seed 001's shape, aliases, filters, windows, and clear errors."""

from __future__ import annotations

import json

import pytest

from ownlay_pipelines.analyst.funnel_definitions import (
    DEFAULT_FUNNELS,
    FunnelDefinitionError,
    StepFilter,
    funnels_file,
    load_funnels,
    parse_window,
)

SEED_001 = {
    "id": "uuid",
    "project_id": "uuid",
    "name": "E-commerce Purchase Funnel",
    "conversion_window": "2d",
    "stages": [
        {"order": 2, "name": "Add to Cart", "event_type": "add_to_cart", "filter": None},
        {"order": 1, "name": "Page View", "event_type": "page_view", "filter": None},
        {"order": 3, "name": "Checkout Started", "event_type": "checkout_started", "filter": None},
        {
            "order": 4,
            "name": "Purchase Completed",
            "event_type": "purchase",
            "filter": {"properties.status": "completed", "device_type": "mobile"},
        },
    ],
    "is_active": True,
}


def _write(tmp_path, document) -> None:
    path = funnels_file(tmp_path, "acme")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(document))


def test_seed_001_funnel_loads_in_order_with_aliases_filters_and_window(tmp_path):
    _write(tmp_path, {"funnels": [SEED_001]})
    (funnel,) = load_funnels(tmp_path, "acme")
    assert [s.event_type for s in funnel.steps] == [
        "page_view",
        "add_to_cart",
        "checkout_start",
        "purchase",
    ]
    assert funnel.steps[2].name == "Checkout Started"
    assert funnel.steps[3].filters == (
        StepFilter("mobile", column="device_type"),
        StepFilter("completed", property_key="status"),
    )
    assert funnel.window_seconds == 2 * 86_400


def test_a_file_saved_with_a_utf8_bom_loads(tmp_path):
    """Windows Notepad and Excel save UTF-8 with a BOM, which is no part of the JSON."""
    _write(tmp_path, {"funnels": [SEED_001]})
    path = funnels_file(tmp_path, "acme")
    path.write_bytes(b"\xef\xbb\xbf" + path.read_bytes())
    (funnel,) = load_funnels(tmp_path, "acme")
    assert funnel.window_seconds == 2 * 86_400


def test_a_workspace_without_a_file_gets_the_default_funnel(tmp_path):
    assert load_funnels(tmp_path, "acme") == DEFAULT_FUNNELS


@pytest.mark.parametrize(
    ("text", "seconds"), [("45", 45), ("30m", 1_800), ("24h", 86_400), (" 7d ", 604_800), (90, 90)]
)
def test_windows(text, seconds):
    assert parse_window(text) == seconds


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"stages": SEED_001["stages"][:1]}, "needs at least 2 steps"),
        ({"conversion_window": "0d"}, "must be longer than zero"),
        ({"conversion_window": "a week"}, "is not a duration"),
        (
            {"stages": [*SEED_001["stages"][:3], {"event_type": "teleport"}]},
            "step event type 'teleport'",
        ),
        (
            {
                "stages": [
                    *SEED_001["stages"][:3],
                    {"event_type": "purchase", "filter": {"ip_hash": "x"}},
                ]
            },
            "cannot filter on 'ip_hash'",
        ),
        (
            {
                "stages": [
                    *SEED_001["stages"][:3],
                    {"event_type": "purchase", "filter": {"properties.a'b": "x"}},
                ]
            },
            'property name "a\'b" is invalid',
        ),
        ({"name": ""}, "non-empty 'name'"),
    ],
)
def test_bad_definitions_name_the_problem(tmp_path, change, message):
    _write(tmp_path, {"funnels": [{**SEED_001, **change}]})
    with pytest.raises(FunnelDefinitionError) as error:
        load_funnels(tmp_path, "acme")
    assert message in str(error.value)


def test_invalid_json_and_duplicate_names_are_refused(tmp_path):
    path = funnels_file(tmp_path, "acme")
    path.parent.mkdir(parents=True)
    path.write_text("{not json")
    with pytest.raises(FunnelDefinitionError, match="not valid JSON"):
        load_funnels(tmp_path, "acme")
    _write(tmp_path, [SEED_001, SEED_001])
    with pytest.raises(FunnelDefinitionError, match="names must be unique"):
        load_funnels(tmp_path, "acme")


def test_a_workspace_id_cannot_escape_the_funnels_folder(tmp_path):
    with pytest.raises(ValueError, match="slug"):
        funnels_file(tmp_path, "../etc")
