"""Omnisend client: both API flavours' paging and auth, problem bodies, normalised records."""

from decimal import Decimal

import httpx
import pytest

from ownlay_pipelines.connectors.omnisend import (
    ApiFlavour,
    OmnisendClient,
    Resource,
    normalise_automation,
    normalise_campaign,
    pull,
)
from ownlay_pipelines.connectors.wire_values import RowError
from ownlay_pipelines.http.clock import FakeClock
from ownlay_pipelines.http.errors import AuthExpired, FatalApiError, RateLimited
from ownlay_pipelines.http.pagination import RepeatedCursorError
from ownlay_pipelines.registry.workspaces import Connection, Workspace
from ownlay_pipelines_tests.connectors.wire import Script, json_response

KEY = "omni-secret-key"
V3_NEXT = "https://api.omnisend.com/v3/campaigns?limit=100&offset=100"
V3_CAMPAIGN = {
    "campaignID": "5e4f1a2b3c4d5e6f7a8b9c0d",
    "name": "Black Friday - 2026-11-24",
    "status": "sent",
    "type": "regular",
    "fromName": "Acme Outdoor",
    "subject": "Just landed: Black Friday",
    "createdAt": "2026-11-17T14:00:00Z",
    "updatedAt": "2026-11-24T15:00:00Z",
    "startDate": "2026-11-24T14:00:00Z",
    "endDate": "2026-11-24T15:00:00Z",
    "sent": 12000,
    "opened": 3000,
    "clicked": 240,
    "bounced": 60,
    "complained": 2,
    "unsubscribed": 18,
    "byDevices": {"opened": {"desktop": 1050, "mobile": 1800, "tablet": 150}},
}
DRAFT = {"campaignID": "5e4f1a2b3c4d5e6f7a8b9c0e", "name": "Next week", "status": "draft"}
DRAFT |= {"sent": 0, "opened": 0, "clicked": 0, "bounced": 0, "complained": 0, "unsubscribed": 0}
AUTOMATION = {
    "id": "60aa11bb22cc33dd44ee55ff",
    "brandID": "5f1a2b3c4d5e6f7a8b9c0d1e",
    "name": "Abandoned Cart",
    "isEnabled": True,
    "trigger": {"condition": {"event": "started checkout"}},
    "createdAt": "2025-04-02T10:00:00Z",
}
RATE_LIMIT_PROBLEM = {
    "type": "https://problems.omnisend.com/rate-limit-exceeded",
    "title": "Too Many Requests",
    "status": 429,
    "detail": "Rate limit of 400 requests per minute for this brand exceeded",
    "instance": "urn:omnisend:request:3f2c0d4e-5a6b-4c7d-8e9f-0a1b2c3d4e5f",
    "retryAfter": 17,
}
WORKSPACE = Workspace(
    id="acme",
    name="Acme",
    tier="growth",
    timezone="America/New_York",
    currency="USD",
    connections=(Connection(platform="omnisend", account_id="5f1a2b3c4d5e6f7a8b9c0d1e"),),
)


def _client(script: Script, flavour: ApiFlavour, clock: FakeClock | None = None):
    return OmnisendClient(
        api_key=KEY,
        flavour=flavour,
        account_id="5f1a2b3c4d5e6f7a8b9c0d1e",
        transport=script.transport,
        clock=clock or FakeClock(),
    )


def _page(key: str, items: list, *, after: str | None, has_more: bool) -> httpx.Response:
    cursors = {"before": "YmVmb3Jl" if items else None, "after": after}
    paging = {"limit": 250, "hasMore": has_more, "cursors": cursors}
    return json_response(200, {key: items, "paging": paging})


def _problem(status: int, **body: object) -> httpx.Response:
    problem = {"status": status, "instance": "urn:omnisend:request:00000000-0000-4000-8000-1"}
    return httpx.Response(
        status, json=problem | body, headers={"content-type": "application/problem+json"}
    )


def test_v3_follows_paging_next_with_the_api_key_header_until_it_is_null():
    script = Script(
        [
            json_response(200, {"campaign": [V3_CAMPAIGN], "paging": {"next": V3_NEXT}}),
            json_response(200, {"campaign": [DRAFT], "paging": {"next": None, "previous": "x"}}),
        ]
    )
    items = list(_client(script, ApiFlavour.V3).items(Resource.CAMPAIGNS))

    assert [i["campaignID"] for i in items] == [V3_CAMPAIGN["campaignID"], DRAFT["campaignID"]]
    first, second = script.requests
    assert str(first.url) == "https://api.omnisend.com/v3/campaigns?limit=100"
    assert str(second.url) == V3_NEXT
    assert first.headers["X-API-KEY"] == KEY
    assert "omnisend-version" not in first.headers and "authorization" not in first.headers


def test_versioned_sends_the_cursor_back_and_stops_when_has_more_is_false():
    script = Script(
        [
            _page("automations", [AUTOMATION], after="YWZ0ZXI6MA", has_more=True),
            # The last page still carries an after cursor; hasMore alone ends the listing.
            _page(
                "automations", [AUTOMATION | {"id": "b" * 24}], after="YWZ0ZXI6MQ", has_more=False
            ),
        ]
    )
    items = list(_client(script, ApiFlavour.VERSIONED).items(Resource.AUTOMATIONS))

    assert [i["id"] for i in items] == [AUTOMATION["id"], "b" * 24]
    first, second = script.requests
    assert str(first.url) == "https://api.omnisend.com/api/automations?limit=250"
    assert second.url.params["after"] == "YWZ0ZXI6MA" and second.url.params["limit"] == "250"
    for request in script.requests:
        assert request.headers["Authorization"] == f"Omnisend-API-Key {KEY}"
        assert request.headers["Omnisend-Version"] == "2026-03-15"


def test_versioned_stops_on_a_null_after_cursor_even_if_has_more_says_true():
    script = Script([_page("campaigns", [], after=None, has_more=True)])
    assert list(_client(script, ApiFlavour.VERSIONED).items(Resource.CAMPAIGNS)) == []
    assert len(script.requests) == 1


def test_a_cursor_handed_back_twice_stops_the_listing_instead_of_looping():
    page = _page("campaigns", [{"id": "c" * 24}], after="c2FtZQ", has_more=True)
    script = Script([page, page])
    with pytest.raises(RepeatedCursorError, match="same next-page cursor"):
        list(_client(script, ApiFlavour.VERSIONED).items(Resource.CAMPAIGNS))


def test_a_body_without_the_items_key_is_refused_naming_the_key():
    script = Script([json_response(200, {"campaigns": [], "paging": {"next": None}})])
    with pytest.raises(FatalApiError, match="no list under 'campaign'"):
        list(_client(script, ApiFlavour.V3).items(Resource.CAMPAIGNS))


def test_429_waits_exactly_the_body_retry_after_then_retries():
    clock = FakeClock()
    script = Script(
        [
            _problem(**RATE_LIMIT_PROBLEM),
            json_response(200, {"campaign": [V3_CAMPAIGN], "paging": {"next": None}}),
        ]
    )
    client = _client(script, ApiFlavour.V3, clock)
    items = list(client.items(Resource.CAMPAIGNS))

    assert len(items) == 1
    assert clock.sleeps == [17.0]
    assert client.stats.throttled == 1 and client.stats.retries == 1


def test_429_without_retry_after_is_rate_limited_with_no_server_wait():
    script = Script([])
    response = _problem(429, title="Too Many Requests")
    response.request = httpx.Request("GET", "https://api.omnisend.com/v3/campaigns")
    error = _client(script, ApiFlavour.V3).classify(response)
    assert isinstance(error, RateLimited) and error.wait_seconds is None


def test_401_is_auth_expired_and_not_retried_and_keeps_the_key_out_of_the_message():
    script = Script([_problem(401, title="Unauthorized", detail=f"API key {KEY} has been revoked")])
    with pytest.raises(AuthExpired) as caught:
        list(_client(script, ApiFlavour.VERSIONED).items(Resource.CAMPAIGNS))

    assert len(script.requests) == 1
    message = str(caught.value)
    assert KEY not in message
    assert "revoked" in message and "urn:omnisend:request:" in message
    assert message.startswith("omnisend/5f1a2b3c4d5e6f7a8b9c0d1e HTTP 401")


def test_a_retired_version_is_fatal_and_says_to_move_on():
    script = Script([_problem(410, title="Gone", detail="API version has been retired")])
    with pytest.raises(FatalApiError, match="retired API version 2026-03-15"):
        list(_client(script, ApiFlavour.VERSIONED).items(Resource.AUTOMATIONS))
    assert len(script.requests) == 1


def test_a_503_is_retried():
    clock = FakeClock()
    script = Script(
        [
            _problem(503, title="Service Unavailable"),
            _page("automations", [AUTOMATION], after=None, has_more=False),
        ]
    )
    assert len(list(_client(script, ApiFlavour.VERSIONED, clock).items(Resource.AUTOMATIONS))) == 1
    assert len(clock.sleeps) == 1


def test_v3_campaign_becomes_seed_004_fields_with_rates_in_percent_of_sent():
    record = normalise_campaign(V3_CAMPAIGN, ApiFlavour.V3)
    assert record == {
        "campaignID": "5e4f1a2b3c4d5e6f7a8b9c0d",
        "name": "Black Friday - 2026-11-24",
        "status": "sent",
        "sent": 12000,
        "openRate": Decimal("25.000000"),
        "clickRate": Decimal("2.000000"),
        "type": "regular",
        "startDate": "2026-11-24T14:00:00Z",
        "opened": 3000,
        "clicked": 240,
        "bounced": 60,
        "unsubscribed": 18,
        "complained": 2,
    }


def test_a_draft_sent_to_nobody_has_no_rates():
    record = normalise_campaign(DRAFT, ApiFlavour.V3)
    assert record["sent"] == 0 and "openRate" not in record and "clickRate" not in record


def test_a_rate_on_the_wire_is_taken_as_sent_and_checked():
    item = {**V3_CAMPAIGN, "openRate": 31.25}
    assert normalise_campaign(item, ApiFlavour.V3)["openRate"] == Decimal("31.250000")
    with pytest.raises(RowError) as caught:
        normalise_campaign({**V3_CAMPAIGN, "openRate": 130}, ApiFlavour.V3)
    assert caught.value.field == "openRate"


def test_versioned_campaign_has_no_counters_and_takes_id_and_started_at():
    item = {
        "id": "d" * 24,
        "name": "Weekly",
        "status": "started",
        "startedAt": "2026-11-24T14:00:00Z",
    }
    assert normalise_campaign(item, ApiFlavour.VERSIONED) == {
        "campaignID": "d" * 24,
        "name": "Weekly",
        "status": "started",
        "startDate": "2026-11-24T14:00:00Z",
    }


def test_versioned_automation_says_enabled_or_disabled_from_is_enabled():
    assert normalise_automation(AUTOMATION, ApiFlavour.VERSIONED) == {
        "automationID": AUTOMATION["id"],
        "name": "Abandoned Cart",
        "status": "enabled",
        "createdAt": "2025-04-02T10:00:00Z",
    }
    disabled = normalise_automation({**AUTOMATION, "isEnabled": False}, ApiFlavour.VERSIONED)
    assert disabled["status"] == "disabled"
    with pytest.raises(RowError, match="isEnabled: expected true or false"):
        normalise_automation({**AUTOMATION, "isEnabled": "yes"}, ApiFlavour.VERSIONED)


def test_pull_keeps_good_items_and_counts_each_refused_one_with_field_and_reason():
    broken = {**V3_CAMPAIGN, "campaignID": "5e4f1a2b3c4d5e6f7a8b9c0f", "sent": "n/a"}
    nameless = {key: value for key, value in DRAFT.items() if key != "campaignID"}
    body = {"campaign": [V3_CAMPAIGN, broken, nameless, DRAFT], "paging": {"next": None}}
    script = Script([json_response(200, body)])

    result = pull(
        Resource.CAMPAIGNS,
        workspace=WORKSPACE,
        open_client=lambda connection: _client(script, ApiFlavour.V3),
    )

    assert [r["campaignID"] for r in result.records] == [
        V3_CAMPAIGN["campaignID"],
        DRAFT["campaignID"],
    ]
    assert result.refused == {"sent: expected a number, got 'n/a'": 1, "campaignID: is missing": 1}
    assert result.http["http_requests"] == 1
