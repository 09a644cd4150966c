"""One pooled httpx client per platform and run, its connection limit following the backlog."""

from __future__ import annotations

from datetime import timedelta

import httpx
import pytest

from ownlay_pipelines.capi import pool as pool_module
from ownlay_pipelines.capi.destinations import CapiDestination, CapiSettings
from ownlay_pipelines.capi.outbox import backlog, enqueue, status_counts
from ownlay_pipelines.capi.platforms import CapiPlatform
from ownlay_pipelines.capi.pool import MAX_CONNECTIONS, PlatformClients, connection_limit
from ownlay_pipelines.capi.run import forward_platform
from ownlay_pipelines.capi.senders import sender_for
from ownlay_pipelines.http.clock import FakeClock
from ownlay_pipelines.http.rate_limit import RateLimit
from ownlay_pipelines.sandbox.capi import CapiSandbox
from ownlay_pipelines.sandbox.capi_conversions import sandbox_conversions, sandbox_visitors
from ownlay_pipelines_tests.capi.destinations import DESTINATIONS, ENV, NOW

WORKSPACE = "rive-gauche"
META_EU = CapiDestination(
    id="meta-eu", platform="meta", pixel_id="900009", credentials={"access_token": "META_TOKEN"}
)


@pytest.mark.parametrize(
    ("platform", "backlogs", "limit"),
    [
        (CapiPlatform.META, [], 1),
        (CapiPlatform.META, [0, 0], 1),
        (CapiPlatform.META, [1], 1),
        (CapiPlatform.META, [2_500], 3),
        (CapiPlatform.META, [1_500, 10], 3),  # 2 batches + 1 batch
        (CapiPlatform.GOOGLE, [2_500], 2),
        (CapiPlatform.TIKTOK, [2_500], 5),
        (CapiPlatform.SNAPCHAT, [10**6], MAX_CONNECTIONS),
    ],
)
def test_one_connection_per_waiting_batch_within_bounds(
    platform: CapiPlatform, backlogs: list[int], limit: int
) -> None:
    assert connection_limit(platform, backlogs) == limit


def test_the_pool_makes_one_client_per_platform_and_reuses_it() -> None:
    with PlatformClients() as clients:
        meta = clients.client(CapiPlatform.META, [5_000])
        assert clients.client(CapiPlatform.META, [10**6]) is meta  # sized once per run
        assert clients.connection_limits == {CapiPlatform.META: 5}
        # A sender on the pooled client leaves it open when it closes: the pool owns it.
        with sender_for(DESTINATIONS[0], environ=ENV, http_client=meta) as sender:
            assert sender.max_batch == 1_000
        assert not meta.is_closed
        tiktok = clients.client(CapiPlatform.TIKTOK, [])
        assert tiktok is not meta and str(tiktok.base_url).startswith("https://business-api")
        assert clients.connection_limits[CapiPlatform.TIKTOK] == 1
    assert meta.is_closed and tiktok.is_closed


def test_a_run_sends_every_batch_of_every_destination_through_one_client(
    store, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = CapiSettings(default_region="FR", destinations=(DESTINATIONS[0], META_EU))
    visitors = sandbox_visitors(20, "FR")
    conversions = sandbox_conversions(
        WORKSPACE, visitors, 2_100, start=NOW - timedelta(hours=40), currency="EUR",
        consent_share=1.0,
    )  # fmt: skip
    enqueue(store, WORKSPACE, settings, conversions, now=NOW)
    assert backlog(store, WORKSPACE, now=NOW) == {"meta-capi": 2_100, "meta-eu": 2_100}
    made: list[httpx.Client] = []

    class CountedClient(httpx.Client):
        def __init__(self, **kwargs: object) -> None:
            super().__init__(**kwargs)  # type: ignore[arg-type]
            made.append(self)

    monkeypatch.setattr(pool_module.httpx, "Client", CountedClient)
    monkeypatch.setattr("ownlay_pipelines.http.client.httpx.Client", CountedClient)
    sandbox = CapiSandbox([v.person for v in visitors])
    clock = FakeClock(NOW)
    runs = forward_platform(
        store, WORKSPACE, settings, CapiPlatform.META, transport=sandbox.transport(),
        environ=ENV, clock=clock, event_limit=RateLimit(10**9, 1.0),
    )  # fmt: skip
    # 3 batches waiting per destination → 6 connections; 2 destinations drained at once,
    # 6 requests, one client, closed at the end of the run.
    assert len(made) == 1 and made[0].is_closed
    assert sandbox.requests == 6
    assert [(r.destination.id, r.report.accepted, r.report.batches) for r in runs] == [
        ("meta-capi", 2_100, 3),
        ("meta-eu", 2_100, 3),
    ]
    for destination in settings.destinations:
        assert status_counts(store, WORKSPACE, destination.id) == {"accepted": 2_100}
    assert all(t.duplicates == 0 and t.accepted == 2_100 for t in sandbox.tallies.values())
