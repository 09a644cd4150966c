from __future__ import annotations

import json

import httpx
import pytest

from ownlay_pipelines.http.clock import FakeClock
from ownlay_pipelines.http.pagination import OffsetPaginator, PageNumberPaginator
from ownlay_pipelines_tests.http.fake_api import Answer, ScriptedApi, make_client, reply


def _body(request: httpx.Request) -> dict[str, object]:
    return json.loads(request.content)


# --- offset (Mailchimp count/offset, GA4 limit/offset) ----------------------------------------

MAILCHIMP = OffsetPaginator(
    limit_param="count",
    offset_param="offset",
    page_size=2,
    records_path="campaigns",
    total_path="total_items",
)


def _mailchimp(count: int, total: int) -> Answer:
    return reply(json={"campaigns": [{"id": "c"}] * count, "total_items": total})


def test_offset_advances_by_records_received_until_the_total(clock: FakeClock) -> None:
    api = ScriptedApi(_mailchimp(2, 5), _mailchimp(2, 5), _mailchimp(1, 5))

    pages = list(MAILCHIMP.pages(make_client(api, clock), "GET", "campaigns"))

    assert len(pages) == 3
    assert [request.url.params["offset"] for request in api.requests] == ["0", "2", "4"]
    assert {request.url.params["count"] for request in api.requests} == {"2"}


def test_offset_stops_at_an_empty_page_before_the_total(clock: FakeClock) -> None:
    api = ScriptedApi(_mailchimp(2, 9), _mailchimp(0, 9))

    assert len(list(MAILCHIMP.pages(make_client(api, clock), "GET", "campaigns"))) == 2


def test_ga4_offset_goes_in_the_json_body_and_stops_at_row_count(clock: FakeClock) -> None:
    report = {"dateRanges": [{"startDate": "2026-01-01", "endDate": "2026-01-01"}]}
    api = ScriptedApi(
        reply(json={"rows": [{}] * 3, "rowCount": 5}), reply(json={"rows": [{}] * 2, "rowCount": 5})
    )
    ga4 = OffsetPaginator(
        limit_param="limit",
        offset_param="offset",
        page_size=3,
        records_path="rows",
        total_path="rowCount",
        in_json_body=True,
    )

    pages = list(ga4.pages(make_client(api, clock), "POST", "properties/1:runReport", json=report))

    assert len(pages) == 2
    assert [_body(request) for request in api.requests] == [
        {**report, "limit": 3, "offset": 0},
        {**report, "limit": 3, "offset": 3},
    ]


def test_ga4_report_without_rows_or_row_count_is_one_page(clock: FakeClock) -> None:
    api = ScriptedApi(reply(json={"metadata": {"currencyCode": "EUR"}}))
    ga4 = OffsetPaginator(
        limit_param="limit",
        offset_param="offset",
        page_size=3,
        records_path="rows",
        total_path="rowCount",
    )

    assert len(list(ga4.pages(make_client(api, clock), "POST", "properties/1:runReport"))) == 1


# --- page number (TikTok page_info) -----------------------------------------------------------

TIKTOK = PageNumberPaginator(page_size=1000, total_pages_path=("data", "page_info", "total_page"))


def _tiktok(page: int, total_page: int) -> Answer:
    page_info = {"page": page, "page_size": 1000, "total_number": 1375, "total_page": total_page}
    return reply(json={"code": 0, "message": "OK", "data": {"list": [], "page_info": page_info}})


def test_page_number_counts_up_to_the_reported_total(clock: FakeClock) -> None:
    api = ScriptedApi(_tiktok(1, 3), _tiktok(2, 3), _tiktok(3, 3))

    pages = list(
        TIKTOK.pages(
            make_client(api, clock), "GET", "report/integrated/get/", params={"advertiser_id": "7"}
        )
    )

    assert len(pages) == 3
    assert [dict(request.url.params) for request in api.requests] == [
        {"advertiser_id": "7", "page": str(n), "page_size": "1000"} for n in (1, 2, 3)
    ]


@pytest.mark.parametrize(
    "body", [{"code": 0, "data": {"list": []}}, {"data": {"page_info": {"total_page": 0}}}]
)
def test_page_number_without_a_positive_total_is_one_page(body: object, clock: FakeClock) -> None:
    api = ScriptedApi(reply(json=body))

    assert len(list(TIKTOK.pages(make_client(api, clock), "GET", "report/integrated/get/"))) == 1
