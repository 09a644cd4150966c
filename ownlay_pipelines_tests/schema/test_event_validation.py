from ownlay_pipelines.events import validation
from ownlay_pipelines.events.model import EventValidationContext, TimestampPolicy
from ownlay_pipelines.events.validation import (
    FieldError,
    PayloadKind,
    derive_event_id,
    foreign_workspace,
    validate_batch,
)
from ownlay_pipelines_tests.ingest.payloads import NOW, ownlay_event, track_event

CONTEXT = EventValidationContext(now=NOW, policy=TimestampPolicy())


def _validate(items: list, kind: PayloadKind = PayloadKind.OWNLAY_EVENT):
    return validate_batch(items, kind=kind, workspace_id="acme", context=CONTEXT)


def test_mixed_batch_keeps_good_events_and_names_each_bad_one_by_index():
    items = [ownlay_event(1), ownlay_event(2, event_type="teleport"), "oops", ownlay_event(3)]

    verdict = _validate(items)

    assert [accepted.index for accepted in verdict.accepted] == [0, 3]
    assert [rejection.index for rejection in verdict.rejected] == [1, 2]
    assert verdict.rejected[0].errors[0].field == "event_type"
    assert verdict.rejected[1].errors == (
        FieldError("(event)", "an event must be a JSON object, not a string"),
    )


def test_repeated_event_id_within_a_batch_is_dropped_not_refused():
    verdict = _validate([ownlay_event(1), ownlay_event(2), ownlay_event(1)])

    assert [accepted.index for accepted in verdict.accepted] == [0, 1]
    assert verdict.duplicate_indexes == (2,)
    assert verdict.rejected == ()


def test_events_without_id_get_a_stable_id_so_a_retry_is_recognised():
    event = ownlay_event()
    event.pop("event_id")

    first = _validate([event]).accepted[0].event.event_id
    retried = _validate([dict(event)]).accepted[0].event.event_id

    assert first == retried
    assert str(first) == derive_event_id(event, "acme")  # derived from the event as sent
    assert derive_event_id(event, "acme") != derive_event_id(event, "globex")


def test_an_event_without_id_is_validated_before_its_id_is_derived(monkeypatch):
    track = track_event()
    track.pop("id")
    too_big = {**ownlay_event(), "properties": {"x": "a" * 40_000}}
    too_big.pop("event_id")
    derived: list[dict] = []
    real_derive = validation.derive_event_id

    def counting_derive(item: dict, workspace_id: str) -> str:
        derived.append(item)
        return real_derive(item, workspace_id)

    monkeypatch.setattr(validation, "derive_event_id", counting_derive)
    refused = _validate([too_big])
    accepted = _validate([track], kind=PayloadKind.TRACK)

    assert refused.rejected and derived == [track]  # a 40 kB property is never serialised
    assert str(accepted.accepted[0].event.event_id) == real_derive(track, "acme")


def test_rejection_reasons_never_echo_the_submitted_value():
    verdict = _validate([ownlay_event(email="not-an-email-but-secret-ish")])

    (error,) = verdict.rejected[0].errors
    assert error.field == "email"
    assert "secret-ish" not in error.reason


def test_track_events_validate_under_seed_001_names():
    verdict = _validate([track_event(url="ftp://x")], PayloadKind.TRACK)

    assert verdict.rejected[0].errors == (FieldError("url", "must be an absolute http(s) URL"),)


def test_foreign_workspace_finds_the_first_other_tenant_in_either_naming():
    assert (
        foreign_workspace([ownlay_event(workspace_id="acme")], PayloadKind.OWNLAY_EVENT, "acme")
        is None
    )
    assert (
        foreign_workspace(
            [ownlay_event(), ownlay_event(workspace_id="globex")], PayloadKind.OWNLAY_EVENT, "acme"
        )
        == "globex"
    )
    assert (
        foreign_workspace([track_event(project_id="globex")], PayloadKind.TRACK, "acme") == "globex"
    )


def test_an_event_flooded_with_unknown_keys_is_refused_briefly_beside_good_ones():
    flooded = {**ownlay_event(2), **{f"k{n}": 1 for n in range(5000)}}
    nested = ownlay_event(3)
    nested["context"] = {**nested["context"], **{f"c{n}": 1 for n in range(5000)}}
    few = {**ownlay_event(4), "zz": 1}

    verdict = _validate([ownlay_event(1), flooded, nested, few])

    assert [accepted.index for accepted in verdict.accepted] == [0]
    flood, nested_flood, one = (rejection.errors for rejection in verdict.rejected)
    assert flood == (
        *(FieldError(f"k{n}", "Extra inputs are not permitted") for n in range(5)),
        FieldError("(event)", "5000 unknown keys; 18 are allowed here"),
    )
    assert nested_flood[0] == FieldError("context.c0", "Extra inputs are not permitted")
    assert nested_flood[-1].field == "context" and nested_flood[-1].reason.startswith("5000 ")
    assert one == (FieldError("zz", "Extra inputs are not permitted"),)  # pydantic's own


def test_a_flood_of_unknown_keys_never_reaches_pydantic_or_the_id_derivation(monkeypatch):
    flooded = {k: v for k, v in ownlay_event(1).items() if k != "event_id"}
    flooded |= {f"k{n}": 1 for n in range(100)}
    monkeypatch.setattr(validation, "derive_event_id", None)  # calling it would raise TypeError

    verdict = _validate([flooded])

    assert verdict.rejected[0].errors[-1] == FieldError(
        "(event)", "100 unknown keys; 18 are allowed here"
    )
