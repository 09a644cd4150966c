from __future__ import annotations

import json

import httpx
import pytest

from ownlay_pipelines.http.clock import FakeClock
from ownlay_pipelines.http.pagination import (
    CursorPaginator,
    LinkHeaderPaginator,
    NextUrlPaginator,
    PageLimitExceeded,
    PageTokenPaginator,
    RepeatedCursorError,
    StartingAfterPaginator,
    dig,
)
from ownlay_pipelines_tests.http.fake_api import Answer, ScriptedApi, make_client, reply

META = "https://graph.facebook.com/v25.0/act_123/insights"


def _body(request: httpx.Request) -> dict[str, object]:
    return json.loads(request.content)


def test_dig_follows_nested_keys_and_returns_none_where_a_step_is_missing() -> None:
    body = {"paging": {"cursors": {"after": "MjQZD"}}, "data": []}

    assert dig(body, ("paging", "cursors", "after")) == "MjQZD"
    assert dig(body, "data") == []
    assert dig(body, ("paging", "next")) is None
    assert dig(body, ("data", "first")) is None


# --- next URL (Meta paging.next) -------------------------------------------------------------


def test_next_url_follows_each_link_as_given_until_the_last_page(clock: FakeClock) -> None:
    api = ScriptedApi(
        reply(json={"data": [{"id": "1"}], "paging": {"next": f"{META}?limit=1&after=A"}}),
        reply(json={"data": [{"id": "2"}], "paging": {"next": f"{META}?limit=1&after=B"}}),
        reply(json={"data": [{"id": "3"}], "paging": {"cursors": {"after": "C"}}}),
    )
    client = make_client(api, clock)

    pages = list(NextUrlPaginator().pages(client, "GET", META, params={"limit": 1}))

    assert [page["data"][0]["id"] for page in pages] == ["1", "2", "3"]
    assert [str(request.url) for request in api.requests] == [
        f"{META}?limit=1",
        f"{META}?limit=1&after=A",
        f"{META}?limit=1&after=B",
    ]
    assert client.stats.pages == 3


def test_next_url_page_without_records_but_with_a_link_continues(clock: FakeClock) -> None:
    api = ScriptedApi(
        reply(json={"data": [], "paging": {"next": f"{META}?after=A"}}),
        reply(json={"data": [{"id": "1"}], "paging": {}}),
    )

    pages = list(NextUrlPaginator().pages(make_client(api, clock), "GET", META))

    assert [page["data"] for page in pages] == [[], [{"id": "1"}]]


def test_next_url_reads_snapchat_next_link(clock: FakeClock) -> None:
    api = ScriptedApi(
        reply(json={"campaigns": [], "paging": {"next_link": "https://adsapi.example.test/p2"}}),
        reply(json={"campaigns": [], "paging": {}}),
    )
    paginator = NextUrlPaginator(next_path=("paging", "next_link"))

    assert len(list(paginator.pages(make_client(api, clock), "GET", "campaigns"))) == 2


def test_next_url_that_repeats_raises_repeated_cursor_error(clock: FakeClock) -> None:
    api = ScriptedApi(
        reply(json={"data": [], "paging": {"next": f"{META}?after=A"}}),
        reply(json={"data": [], "paging": {"next": f"{META}?after=B"}}),
        reply(json={"data": [], "paging": {"next": f"{META}?after=A"}}),
    )

    with pytest.raises(
        RepeatedCursorError, match="page 3 returned the same next-page cursor as page 1"
    ):
        list(NextUrlPaginator().pages(make_client(api, clock), "GET", META))
    assert len(api.requests) == 3


def test_listing_longer_than_max_pages_raises_page_limit_exceeded(clock: FakeClock) -> None:
    pages = [reply(json={"paging": {"next": f"{META}?after={n}"}}) for n in range(10)]
    api = ScriptedApi(*pages)

    with pytest.raises(PageLimitExceeded, match="still had a next page after 3 pages"):
        list(NextUrlPaginator(max_pages=3).pages(make_client(api, clock), "GET", META))
    assert len(api.requests) == 3


def test_a_failing_page_is_retried_on_its_own(clock: FakeClock) -> None:
    api = ScriptedApi(
        reply(json={"data": [{"id": "1"}], "paging": {"next": f"{META}?after=A"}}),
        reply(503),
        reply(json={"data": [{"id": "2"}], "paging": {}}),
    )
    client = make_client(api, clock)

    pages = list(NextUrlPaginator().pages(client, "GET", META))

    assert len(pages) == 2
    assert str(api.requests[1].url) == str(api.requests[2].url) == f"{META}?after=A"
    assert (client.stats.pages, client.stats.retries) == (2, 1)


# --- cursor in body, sent back as a param (Omnisend versioned API) ---------------------------

OMNISEND_CURSOR = CursorPaginator(
    cursor_path=("paging", "cursors", "after"),
    cursor_param="after",
    has_more_path=("paging", "hasMore"),
)


def _omnisend(after: str | None, has_more: bool, contacts: int = 1) -> Answer:
    paging = {"limit": 1, "hasMore": has_more, "cursors": {"before": None, "after": after}}
    return reply(json={"contacts": [{"contactID": "c"}] * contacts, "paging": paging})


def test_cursor_is_sent_back_with_the_original_params_until_has_more_is_false(
    clock: FakeClock,
) -> None:
    api = ScriptedApi(
        _omnisend("X1", True), _omnisend("X2", True, contacts=0), _omnisend("X3", False)
    )

    pages = list(
        OMNISEND_CURSOR.pages(make_client(api, clock), "GET", "contacts", params={"limit": 1})
    )

    assert len(pages) == 3
    assert [dict(request.url.params) for request in api.requests] == [
        {"limit": "1"},
        {"limit": "1", "after": "X1"},
        {"limit": "1", "after": "X2"},
    ]


def test_missing_cursor_ends_the_listing(clock: FakeClock) -> None:
    api = ScriptedApi(_omnisend(None, True))

    assert len(list(OMNISEND_CURSOR.pages(make_client(api, clock), "GET", "contacts"))) == 1


def test_repeated_cursor_raises(clock: FakeClock) -> None:
    api = ScriptedApi(_omnisend("X1", True), _omnisend("X1", True))

    with pytest.raises(RepeatedCursorError, match=r"page 2 .* as page 1"):
        list(OMNISEND_CURSOR.pages(make_client(api, clock), "GET", "contacts"))


# --- page token (Google Ads search, LinkedIn finders) -----------------------------------------

GAQL = {"query": "SELECT campaign.id, metrics.clicks FROM campaign"}


def test_page_token_repeats_the_identical_json_body_with_the_token(clock: FakeClock) -> None:
    api = ScriptedApi(
        reply(json={"results": [{"campaign": {"id": "1"}}], "nextPageToken": "T1"}),
        reply(json={"results": [], "nextPageToken": "T2"}),
        reply(json={"results": [{"campaign": {"id": "3"}}], "nextPageToken": ""}),
    )
    client = make_client(api, clock)

    pages = list(
        PageTokenPaginator().pages(
            client, "POST", "customers/1234567890/googleAds:search", json=GAQL
        )
    )

    assert len(pages) == 3
    assert [_body(request) for request in api.requests] == [
        GAQL,
        {**GAQL, "pageToken": "T1"},
        {**GAQL, "pageToken": "T2"},
    ]


def test_page_token_as_query_param_for_linkedin(clock: FakeClock) -> None:
    api = ScriptedApi(
        reply(json={"elements": [{}], "metadata": {"nextPageToken": "DgFx"}}),
        reply(json={"elements": [{}], "metadata": {}}),
    )
    paginator = PageTokenPaginator(token_field=("metadata", "nextPageToken"), in_json_body=False)

    list(paginator.pages(make_client(api, clock), "GET", "adAccounts", params={"q": "search"}))

    assert api.requests[1].url.params["pageToken"] == "DgFx"
    assert api.requests[1].url.params["q"] == "search"


def test_repeated_page_token_raises(clock: FakeClock) -> None:
    api = ScriptedApi(reply(json={"results": [], "nextPageToken": "T1"}))

    with pytest.raises(RepeatedCursorError):
        list(PageTokenPaginator().pages(make_client(api, clock), "POST", "search", json=GAQL))
    assert len(api.requests) == 2


# --- Link header (Shopify REST) ---------------------------------------------------------------

SHOP = "https://acme.myshopify.com/admin/api/2025-10/orders.json"


def _shopify(orders: int, next_page_info: str | None) -> Answer:
    headers = {}
    if next_page_info is not None:
        headers["Link"] = f'<{SHOP}?limit=250&page_info={next_page_info}>; rel="next"'
    return reply(json={"orders": [{"id": n} for n in range(orders)]}, headers=headers)


def test_link_header_next_url_replaces_all_params_after_the_first_page(clock: FakeClock) -> None:
    api = ScriptedApi(_shopify(2, "p2"), _shopify(0, "p3"), _shopify(1, None))
    params = {"status": "any", "updated_at_min": "2026-01-01T00:00:00Z", "limit": 250}

    pages = list(LinkHeaderPaginator().pages(make_client(api, clock), "GET", SHOP, params=params))

    assert [len(page["orders"]) for page in pages] == [2, 0, 1]
    assert api.requests[0].url.params["status"] == "any"
    assert str(api.requests[1].url) == f"{SHOP}?limit=250&page_info=p2"
    assert str(api.requests[2].url) == f"{SHOP}?limit=250&page_info=p3"


def test_repeated_link_raises(clock: FakeClock) -> None:
    api = ScriptedApi(_shopify(1, "p2"), _shopify(1, "p2"))

    with pytest.raises(RepeatedCursorError):
        list(LinkHeaderPaginator().pages(make_client(api, clock), "GET", SHOP))


# --- starting_after (Stripe) ------------------------------------------------------------------


def _stripe(ids: list[str], has_more: bool) -> Answer:
    data = [{"id": charge_id, "object": "charge"} for charge_id in ids]
    return reply(json={"object": "list", "url": "/v1/charges", "has_more": has_more, "data": data})


def test_starting_after_asks_for_records_after_the_last_id_while_has_more(clock: FakeClock) -> None:
    api = ScriptedApi(_stripe(["ch_3", "ch_2"], True), _stripe(["ch_1"], False))

    pages = list(
        StartingAfterPaginator().pages(
            make_client(api, clock), "GET", "charges", params={"limit": 2}
        )
    )

    assert [[record["id"] for record in page["data"]] for page in pages] == [
        ["ch_3", "ch_2"],
        ["ch_1"],
    ]
    assert dict(api.requests[1].url.params) == {"limit": "2", "starting_after": "ch_2"}


def test_starting_after_stops_at_an_empty_page_even_if_has_more(clock: FakeClock) -> None:
    api = ScriptedApi(_stripe([], True))

    assert len(list(StartingAfterPaginator().pages(make_client(api, clock), "GET", "charges"))) == 1


def test_repeated_last_id_raises(clock: FakeClock) -> None:
    api = ScriptedApi(_stripe(["ch_2"], True), _stripe(["ch_2"], True))

    with pytest.raises(RepeatedCursorError):
        list(StartingAfterPaginator().pages(make_client(api, clock), "GET", "charges"))
