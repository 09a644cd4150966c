from datetime import timedelta

import pytest
from pydantic import ValidationError

from ownlay_pipelines.events.event_types import EventType
from ownlay_pipelines.events.model import (
    EventValidationContext,
    OwnlayEvent,
    TimestampPolicy,
    TrackEvent,
)
from ownlay_pipelines.schema.platforms import Platform
from ownlay_pipelines_tests.ingest.payloads import NOW, ownlay_event, track_event

CONTEXT = EventValidationContext(now=NOW, policy=TimestampPolicy())


def _errors(model: type, payload: dict, context: EventValidationContext = CONTEXT) -> dict:
    with pytest.raises(ValidationError) as caught:
        model.model_validate(payload, context=context)
    return {
        ".".join(map(str, e["loc"])): e["msg"].removeprefix("Value error, ")
        for e in caught.value.errors(include_input=False)
    }


def test_a_real_shaped_seed_000_event_validates():
    event = OwnlayEvent.model_validate(ownlay_event(), context=CONTEXT)

    assert event.event_type is EventType.PURCHASE
    assert event.context.page.url == (
        "https://shop.example.com/checkout/thanks?gclid=Cj0KCQ&utm_source=google"
    )


def test_missing_required_fields_are_each_named():
    payload = ownlay_event()
    for field in ("event_type", "timestamp", "user_id", "event_id"):
        payload.pop(field)

    errors = _errors(OwnlayEvent, payload)

    assert errors["event_type"] == "Field required"
    assert errors["timestamp"] == "Field required"
    assert errors["event_id"] == "Field required"
    assert errors["user_id"] == "user_id is required unless anonymous_id is given"


def test_anonymous_id_stands_in_for_a_missing_user_id():
    payload = ownlay_event(anonymous_id="anon_42")
    payload.pop("user_id")

    assert OwnlayEvent.model_validate(payload, context=CONTEXT).anonymous_id == "anon_42"


def test_unknown_event_type_is_refused_with_the_allow_list():
    errors = _errors(OwnlayEvent, ownlay_event(event_type="add_to_wishlist"))

    assert errors["event_type"].startswith(
        "event_type 'add_to_wishlist' is not allowed; use one of"
    )
    assert "checkout_start" in errors["event_type"]


@pytest.mark.parametrize(
    ("sent", "stored"),
    [
        ("checkout_started", EventType.CHECKOUT_START),
        ("sign_up", EventType.SIGNUP),
        ("Checkout_Started", EventType.CHECKOUT_START),
        ("PAGE_VIEW", EventType.PAGE_VIEW),
    ],
)
def test_aliases_and_case_map_onto_seed_000_types(sent: str, stored: EventType):
    assert (
        OwnlayEvent.model_validate(ownlay_event(event_type=sent), context=CONTEXT).event_type
        is stored
    )


def test_timestamp_exactly_at_the_skew_limit_is_accepted_and_one_second_more_is_not():
    at_limit = (NOW + timedelta(minutes=5)).isoformat()
    past_limit = (NOW + timedelta(minutes=5, seconds=1)).isoformat()

    OwnlayEvent.model_validate(ownlay_event(timestamp=at_limit), context=CONTEXT)
    errors = _errors(OwnlayEvent, ownlay_event(timestamp=past_limit))

    assert errors["timestamp"] == (
        "timestamp 2026-11-21T12:05:01+00:00 is 301 s ahead of the server clock; "
        "at most 300 s of clock skew is allowed"
    )


def test_timestamp_older_than_the_window_is_refused_and_the_window_is_configurable():
    forty_days_ago = (NOW - timedelta(days=40)).isoformat()
    short = EventValidationContext(now=NOW, policy=TimestampPolicy(max_age=timedelta(days=30)))

    OwnlayEvent.model_validate(ownlay_event(timestamp=forty_days_ago), context=CONTEXT)
    errors = _errors(OwnlayEvent, ownlay_event(timestamp=forty_days_ago), short)

    assert errors["timestamp"] == (
        "timestamp 2026-10-12T12:00:00+00:00 is older than 30 days, "
        "the oldest event the lake accepts"
    )


def test_timestamp_without_a_timezone_is_refused():
    errors = _errors(OwnlayEvent, ownlay_event(timestamp="2026-11-21T11:30:00"))

    assert errors["timestamp"] == "Input should have timezone info"


def test_validating_without_the_clock_context_is_a_programming_error():
    with pytest.raises(TypeError, match="EventValidationContext"):
        OwnlayEvent.model_validate(ownlay_event())


def test_url_longer_than_500_characters_is_refused_naming_the_nested_field():
    payload = ownlay_event()
    payload["context"]["page"]["url"] = "https://shop.example.com/" + "a" * 480

    errors = _errors(OwnlayEvent, payload)

    assert errors["context.page.url"] == "String should have at most 500 characters"


def test_non_http_url_is_refused():
    payload = ownlay_event()
    payload["context"]["page"]["referrer"] = "javascript:alert(1)"

    assert (
        _errors(OwnlayEvent, payload)["context.page.referrer"] == "must be an absolute http(s) URL"
    )


def test_identifier_longer_than_255_characters_is_refused():
    errors = _errors(OwnlayEvent, ownlay_event(session_id="s" * 256))

    assert errors["session_id"] == "String should have at most 255 characters"


def test_user_id_that_is_an_email_is_refused_so_it_cannot_reach_the_lake_unhashed():
    errors = _errors(OwnlayEvent, ownlay_event(user_id="jane@example.com"))

    assert errors["user_id"] == (
        "looks like an e-mail address; send a stable id and put the e-mail in 'email'"
    )


def test_wrong_types_and_unknown_fields_are_named():
    payload = ownlay_event(properties=["not", "an", "object"], timestmp="2026-11-21T11:30:00Z")
    payload["context"]["geo"]["country"] = "USA"
    payload["context"]["ip"] = "999.1.1.1"

    errors = _errors(OwnlayEvent, payload)

    assert errors["properties"] == "Input should be a valid dictionary"
    assert errors["timestmp"] == "Extra inputs are not permitted"
    assert errors["context.geo.country"] == (
        "must be an ISO 3166-1 alpha-2 code such as 'US' (seed 001)"
    )
    assert errors["context.ip"] == "value is not a valid IPv4 or IPv6 address"


@pytest.mark.parametrize("model", [OwnlayEvent, TrackEvent])
@pytest.mark.parametrize("sent", ["yes", "true", "on", 1, "1"])
def test_consent_is_a_json_boolean_only_so_nothing_else_reads_as_consent(model, sent):
    # `marketing: true` sends the visitor's contact data to ad platforms (capi/): a "yes" or a 1
    # that pydantic would coerce to True is refused instead.
    payload = (ownlay_event if model is OwnlayEvent else track_event)()
    payload["consent"] = {"marketing": sent, "analytics": sent}

    errors = _errors(model, payload)

    assert errors == {
        "consent.marketing": "Input should be a valid boolean",
        "consent.analytics": "Input should be a valid boolean",
    }


def test_properties_larger_than_32_kib_are_refused():
    errors = _errors(OwnlayEvent, ownlay_event(properties={"blob": "x" * 33_000}))
    # Quotes are escaped in JSON: 20,000 characters, 40,011 bytes, found only once serialised.
    escaped = _errors(OwnlayEvent, ownlay_event(properties={"blob": '"' * 20_000}))

    assert errors["properties"] == "is over 32768 bytes as JSON; the limit is 32768"
    assert escaped["properties"] == "is 40011 bytes as JSON; the limit is 32768"


def test_seed_001_track_event_maps_onto_the_canonical_event():
    track = TrackEvent.model_validate(
        track_event(event_type="checkout_started", ip_address="198.51.100.4", country="de"),
        context=CONTEXT,
    )

    event = track.to_ownlay_event()

    assert event.event_id == track.id
    assert event.event_type is EventType.CHECKOUT_START
    assert event.timestamp == track.created_at
    assert event.source.platform is Platform.API
    assert str(event.context.ip) == "198.51.100.4"
    assert event.context.geo.country == "DE"
    assert (
        event.context.page.url == "https://shop.example.com/tents?fbclid=IwAR0x&utm_campaign=spring"
    )


def test_seed_001_requires_user_id_and_created_at():
    payload = track_event()
    payload.pop("user_id")
    payload.pop("created_at")

    errors = _errors(TrackEvent, payload)

    assert errors == {"user_id": "Field required", "created_at": "Field required"}


def test_opaque_identifiers_refuse_contact_and_network_data_naming_the_field():
    payload = ownlay_event(
        anonymous_id="jane@example.com",
        session_id="+14155550123",
        device_id="203.0.113.77",
        source={"platform": "webhook", "campaign_id": "::ffff:203.0.113.77"},
    )

    errors = _errors(OwnlayEvent, payload)

    assert errors["anonymous_id"].startswith("looks like an e-mail address")
    assert errors["session_id"].startswith("contains a phone number")
    assert errors["device_id"].startswith("contains an IP address")
    assert errors["source.campaign_id"].startswith("contains an IP address")


def test_free_text_fields_are_masked_and_properties_scrubbed_at_any_depth():
    payload = ownlay_event(
        utm={"term": "jane@example.com", "campaign": "call 415-555-0123"},
        properties={"note": {"deep": ["from 198.51.100.4"]}, "email": "Jane@Example.com"},
    )
    payload["context"]["geo"]["city"] = "Portland 203.0.113.77"
    payload["context"]["page"].update(
        path="/u/jane%40example.com",
        title="Hi jane@example.com",
        referrer="https://x.io/?q=%2B14155550123",
    )
    payload.pop("email")

    event = OwnlayEvent.model_validate(payload, context=CONTEXT)

    assert event.utm.term == "[email]"
    assert event.utm.campaign == "call [phone]"
    assert event.context.geo.city == "Portland [ip]"
    assert event.context.page.path == "/u/[email]"
    assert event.context.page.title == "Hi [email]"
    assert event.context.page.referrer == "https://x.io/?q=[phone]"
    assert event.properties == {"note": {"deep": ["from [ip]"]}}
    assert event.email == "Jane@Example.com"  # hashed into email_hash, never stored in clear


def test_control_characters_are_refused_with_a_plain_reason():
    from ownlay_pipelines.events.validation import PayloadKind, validate_batch

    verdict = validate_batch(
        [ownlay_event(session_id="s\x00x")],
        kind=PayloadKind.OWNLAY_EVENT,
        workspace_id="acme",
        context=CONTEXT,
    )

    (rejection,) = verdict.rejected
    assert [(e.field, e.reason) for e in rejection.errors] == [
        ("session_id", "must not contain control characters")
    ]


@pytest.mark.parametrize(
    ("field", "value", "reason"),
    [
        ("client_timestamp", "9999-12-31T23:59:59-14:00", "must lie between 1970 and 2100"),
        ("client_timestamp", "2026-11-25T12:00:00Z", "more than a day outside"),
        ("client_timestamp", "2020-01-01T00:00:00Z", "more than a day outside"),
        ("timestamp", "0001-01-01T00:00:00+14:00", "must lie between 1970 and 2100"),
        ("received_at", "9999-12-31T23:59:59Z", "must lie between 1970 and 2100"),
    ],
)
def test_out_of_range_timestamps_are_refused(field: str, value: str, reason: str):
    assert reason in _errors(OwnlayEvent, ownlay_event(**{field: value}))[field]
