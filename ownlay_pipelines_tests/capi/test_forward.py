"""The whole forwarding path against the CAPI sandbox: outbox, wire formats, per-event answers."""

from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa

from ownlay_pipelines.capi.destinations import CapiSettings
from ownlay_pipelines.capi.forward import drain_destination
from ownlay_pipelines.capi.outbox import enqueue, expire, reopen_range, status_counts
from ownlay_pipelines.capi.senders import sender_for
from ownlay_pipelines.capi.tables import capi_delivery_log, capi_outbox
from ownlay_pipelines.http.clock import FakeClock
from ownlay_pipelines.http.rate_limit import RateLimit
from ownlay_pipelines.sandbox.capi import META_HOST, TIKTOK_HOST, CapiSandbox
from ownlay_pipelines.sandbox.capi_conversions import sandbox_conversions, sandbox_visitors
from ownlay_pipelines_tests.capi.destinations import ENV, NOW

WORKSPACE = "rive-gauche"


def _world(count: int, region: str = "FR", consent_share: float = 1.0):
    visitors = sandbox_visitors(20, region)
    conversions = sandbox_conversions(
        WORKSPACE, visitors, count, start=NOW - timedelta(hours=3), currency="EUR",
        consent_share=consent_share,
    )  # fmt: skip
    return CapiSandbox([v.person for v in visitors]), conversions


def _drain_all(store, settings: CapiSettings, sandbox: CapiSandbox, clock: FakeClock | None = None):
    clock = clock or FakeClock(NOW)
    reports = {}
    for destination in settings.destinations:
        sender = sender_for(destination, transport=sandbox.transport(), clock=clock, environ=ENV)
        reports[destination.id] = drain_destination(
            store, WORKSPACE, settings, destination, sender, now=clock.now
        )
    return reports


def test_every_destination_accepts_once_with_full_match_and_payload_wiped(store, settings) -> None:
    sandbox, conversions = _world(120)
    queued = enqueue(store, WORKSPACE, settings, conversions, now=NOW)
    google_kinds = {"purchase", "lead", "sign_up"}
    expected_google = sum(c.event_type in google_kinds for c in conversions)
    assert queued.queued == 3 * len(conversions) + expected_google
    reports = _drain_all(store, settings, sandbox)

    for destination_id in ("meta-capi", "tiktok-events", "snap-capi"):
        assert reports[destination_id].accepted == len(conversions)
        assert status_counts(store, WORKSPACE, destination_id) == {"accepted": len(conversions)}
    assert reports["google-ec"].accepted == expected_google
    for (platform, _account), tally in sandbox.tallies.items():
        assert tally.duplicates == 0, platform
        assert tally.match_rate == 1.0, platform
    assert reports["meta-capi"].match_keys["em"] == len(conversions)
    assert reports["meta-capi"].match_keys["fbc"] == len(conversions) // 4
    with store.connect() as connection:
        assert (
            connection.execute(
                sa.select(sa.func.count()).where(capi_outbox.c.payload.is_not(None))
            ).scalar()
            == 0
        )
        logged = connection.execute(
            sa.select(sa.func.count()).select_from(capi_delivery_log)
        ).scalar()
    assert logged == 3 * len(conversions) + expected_google

    # A rerun and a replayed enqueue send nothing again.
    requests = sandbox.requests
    again = enqueue(store, WORKSPACE, settings, conversions, now=NOW, reopen=True)
    assert (again.queued, again.reopened) == (0, 0)
    _drain_all(store, settings, sandbox)
    assert sandbox.requests == requests


def test_no_marketing_consent_is_never_queued_nor_sent(store, settings) -> None:
    sandbox, conversions = _world(40, consent_share=0.5)
    refused = sum(not c.marketing_consent for c in conversions)
    assert 0 < refused < 40
    report = enqueue(store, WORKSPACE, settings, conversions, now=NOW)
    assert report.no_consent == refused
    _drain_all(store, settings, sandbox)
    consented = {c.event_id for c in conversions if c.marketing_consent}
    for tally in sandbox.tallies.values():
        assert tally.accepted_ids <= consented | {c.order_id for c in conversions}


def _phone_only(conversions):
    return [type(c)(**{**c.__dict__, "email": None, "click_ids": {}}) for c in conversions]


def test_phone_alone_matches_on_every_platform(store, settings) -> None:
    sandbox, conversions = _world(40)
    enqueue(store, WORKSPACE, settings, _phone_only(conversions), now=NOW)
    _drain_all(store, settings, sandbox)
    assert len(sandbox.tallies) == 4
    for key, rate in sandbox.match_rates().items():
        assert rate == 1.0, key  # Meta/Snap digits only, Google/TikTok E.164 with +


def test_wrong_phone_region_shows_as_lower_match_rate(store) -> None:
    sandbox, conversions = _world(40)
    wrong = CapiSettings(default_region="US", destinations=_only("snap-capi"))
    enqueue(store, WORKSPACE, wrong, _phone_only(conversions), now=NOW)
    _drain_all(store, wrong, sandbox)
    [(_, tally)] = sandbox.tallies.items()
    assert tally.match_rate < 0.5  # French national numbers read as US numbers do not match


def test_transient_errors_are_retried_and_logged(store, settings) -> None:
    sandbox, conversions = _world(10)
    only_meta = CapiSettings(default_region="FR", destinations=_only("meta-capi"))
    enqueue(store, WORKSPACE, only_meta, conversions, now=NOW)
    sandbox.fail_next[META_HOST] += [503, 429]
    clock = FakeClock(NOW)
    reports = _drain_all(store, only_meta, sandbox, clock)
    assert reports["meta-capi"].accepted == 10
    assert clock.sleeps == [1.0, 2.0]  # seed 002's 1 s then 2 s, without jitter
    with store.connect() as connection:
        retries = connection.execute(sa.select(capi_delivery_log.c.retry_count)).scalars().all()
    assert retries == [2] * 10


def test_an_outage_keeps_events_pending_then_delivers(store, settings) -> None:
    sandbox, conversions = _world(10)
    only_tiktok = CapiSettings(default_region="FR", destinations=_only("tiktok-events"))
    enqueue(store, WORKSPACE, only_tiktok, conversions, now=NOW)
    sandbox.fail_next[TIKTOK_HOST] += [500] * 4
    clock = FakeClock(NOW)
    first = _drain_all(store, only_tiktok, sandbox, clock)["tiktok-events"]
    assert (first.accepted, first.retry_later) == (0, 10)
    assert status_counts(store, WORKSPACE, "tiktok-events") == {"pending": 10}
    assert (
        _drain_all(store, only_tiktok, sandbox, clock)["tiktok-events"].batches == 0
    )  # backing off
    clock.advance(60)
    assert _drain_all(store, only_tiktok, sandbox, clock)["tiktok-events"].accepted == 10


def test_one_bad_event_is_isolated_from_its_batch(store, settings) -> None:
    sandbox, conversions = _world(16)
    bad = type(conversions[5])(**{**conversions[5].__dict__, "event_id": ""})
    only_tiktok = CapiSettings(default_region="FR", destinations=_only("tiktok-events"))
    enqueue(store, WORKSPACE, only_tiktok, [*conversions[:5], bad, *conversions[6:]], now=NOW)
    report = _drain_all(store, only_tiktok, sandbox)["tiktok-events"]
    assert report.accepted == 15
    assert report.rejected_by_reason == {"tiktok_40002": 1}


def test_google_partial_failure_is_read_per_row(store) -> None:
    visitors = sandbox_visitors(5, "FR")
    conversions = sandbox_conversions(
        WORKSPACE, visitors, 40, start=NOW - timedelta(hours=1), currency="EUR", consent_share=1
    )
    known = {c.click_ids["gclid"] for c in conversions if "gclid" in c.click_ids}
    unknown = sorted(known)[:2]
    sandbox = CapiSandbox([v.person for v in visitors], known_gclids=known - set(unknown))
    only_google = CapiSettings(default_region="FR", destinations=_only("google-ec"))
    enqueue(store, WORKSPACE, only_google, conversions, now=NOW)
    report = _drain_all(store, only_google, sandbox)["google-ec"]
    bad = sum(
        c.click_ids.get("gclid") in unknown and c.event_type in {"purchase", "lead", "sign_up"}
        for c in conversions
    )
    assert report.rejected_by_reason == ({"UNPARSEABLE_GCLID": bad} if bad else {})
    assert (
        report.accepted
        == sum(c.event_type in {"purchase", "lead", "sign_up"} for c in conversions) - bad
    )


def test_events_per_minute_bucket_paces_large_backlogs(store) -> None:
    sandbox, conversions = _world(1_500)
    only_meta = CapiSettings(default_region="FR", destinations=_only("meta-capi"))
    enqueue(store, WORKSPACE, only_meta, conversions, now=NOW)
    clock = FakeClock(NOW)
    report = _drain_all(store, only_meta, sandbox, clock)["meta-capi"]
    assert (report.accepted, report.batches) == (1_500, 2)
    assert sum(clock.sleeps) == pytest.approx(30.0, abs=0.5)  # 500 events over 1,000/min


def test_expired_rows_lose_their_payload_and_backfill_reopens_them(store, settings) -> None:
    sandbox, conversions = _world(8)
    only_snap = CapiSettings(default_region="FR", retention_days=2, destinations=_only("snap-capi"))
    enqueue(store, WORKSPACE, only_snap, conversions[:4], now=NOW)
    assert expire(store, now=NOW + timedelta(days=2)) == 4
    with store.connect() as connection:
        payloads = connection.execute(sa.select(capi_outbox.c.payload)).scalars().all()
    assert payloads == [None] * 4
    report = enqueue(store, WORKSPACE, only_snap, conversions, now=NOW, reopen=True)
    assert (report.reopened, report.queued) == (4, 4)
    _drain_all(store, only_snap, sandbox)
    assert status_counts(store, WORKSPACE, "snap-capi") == {"accepted": 8}


def test_credentials_never_reach_logs_or_outbox(store, settings, caplog) -> None:
    sandbox, conversions = _world(6)
    enqueue(store, WORKSPACE, settings, conversions, now=NOW)
    sandbox.fail_next[META_HOST] += [500] * 4
    _drain_all(store, settings, sandbox)
    with store.connect() as connection:
        text = " ".join(
            str(row) for table in (capi_outbox, capi_delivery_log)
            for row in connection.execute(sa.select(table))
        )  # fmt: skip
    for secret in ENV.values():
        assert secret not in text
        assert secret not in caplog.text


def test_unlimited_event_bucket_for_bench(store) -> None:
    sandbox, conversions = _world(50)
    only_meta = CapiSettings(default_region="FR", destinations=_only("meta-capi"))
    enqueue(store, WORKSPACE, only_meta, conversions, now=NOW)
    clock = FakeClock(NOW)
    sender = sender_for(
        only_meta.destinations[0], transport=sandbox.transport(), clock=clock, environ=ENV,
        event_limit=RateLimit(10**9, 1.0),
    )  # fmt: skip
    drain_destination(store, WORKSPACE, only_meta, only_meta.destinations[0], sender, now=clock.now)
    assert clock.sleeps == []


def _only(destination_id: str):
    from ownlay_pipelines_tests.capi.destinations import DESTINATIONS

    return tuple(d for d in DESTINATIONS if d.id == destination_id)


def test_backfill_reforwards_only_what_was_never_accepted(store) -> None:
    sandbox, conversions = _world(12)
    only_meta = CapiSettings(default_region="FR", destinations=_only("meta-capi"))
    no_ua = [type(c)(**{**c.__dict__, "user_agent": None}) for c in conversions[:3]]
    enqueue(store, WORKSPACE, only_meta, [*no_ua, *conversions[3:]], now=NOW)
    first = _drain_all(store, only_meta, sandbox)["meta-capi"]
    assert (first.accepted, first.rejected_by_reason) == (9, {"missing_user_agent": 3})
    with store.connect() as connection:
        kept = connection.execute(
            sa.select(sa.func.count()).where(capi_outbox.c.payload.is_not(None))
        ).scalar()
    assert kept == 3  # rejected rows keep their raw data until expiry, accepted ones do not

    reopened = reopen_range(
        store, WORKSPACE, start=NOW - timedelta(days=1), end=NOW + timedelta(days=1), now=NOW
    )
    assert reopened == 3
    requests = sandbox.requests
    again = _drain_all(store, only_meta, sandbox)["meta-capi"]
    assert (again.accepted, again.rejected) == (0, 3)  # still no user agent: still rejected
    assert sandbox.requests == requests  # and nothing accepted was sent again
    assert expire(store, now=NOW + timedelta(days=8)) == 0
    with store.connect() as connection:
        assert (
            connection.execute(
                sa.select(sa.func.count()).where(capi_outbox.c.payload.is_not(None))
            ).scalar()
            == 0
        )
