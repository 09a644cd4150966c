"""One paginator per paging style the platforms use (reference/connectors.md §4, behaviour 9).

Each `pages(...)` yields parsed JSON bodies in order, fetching each page through the client's
retry loop, so every page is rate-limited and retried on its own and counts towards
`client.stats.pages`. A listing that
hands back a cursor it already gave raises RepeatedCursorError instead of looping forever, and no
listing runs past `max_pages`.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import httpx

from ownlay_pipelines.http.client import ApiClient
from ownlay_pipelines.http.errors import FatalApiError
from ownlay_pipelines.http.responses import parse_json_body

JsonPath = str | tuple[str, ...]
"""A key, or the keys leading into nested JSON objects: `("paging", "next")`."""

DEFAULT_MAX_PAGES = 10_000


class RepeatedCursorError(FatalApiError):
    """The platform returned a next-page cursor it had already returned, so following would loop."""


class PageLimitExceeded(FatalApiError):
    """A listing had more pages than `max_pages`; raise the limit if the listing really is that long."""


@dataclass(frozen=True, kw_only=True)
class Paginator(ABC):
    """A paging style: how to ask for the next page and how to tell there is none."""

    max_pages: int = DEFAULT_MAX_PAGES

    def pages(
        self,
        client: ApiClient,
        method: str,
        url: str,
        *,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
    ) -> Iterator[Any]:
        """The parsed JSON body of each page, first to last."""
        return self._walk(_Listing(client, self.max_pages), method, url, dict(params or {}), json)

    @abstractmethod
    def _walk(
        self, listing: _Listing, method: str, url: str, params: dict[str, Any], json: Any
    ) -> Iterator[Any]:
        """Fetch page after page through `listing`, yielding each body."""


def dig(body: Any, path: JsonPath) -> Any:
    """The value at `path` inside nested JSON objects, or None where any step is missing."""
    keys = (path,) if isinstance(path, str) else path
    value = body
    for key in keys:
        if not isinstance(value, Mapping):
            return None
        value = value.get(key)
    return value


class _Listing:
    """Fetches the pages of one listing, counting them and refusing loops and runaway lengths."""

    def __init__(self, client: ApiClient, max_pages: int) -> None:
        self._client = client
        self._max_pages = max_pages
        self._pages_fetched = 0
        self._page_by_cursor: dict[str, int] = {}

    def fetch(
        self,
        method: str,
        url: str,
        params: Mapping[str, Any] | None,
        json: Any,
        parse: Callable[[httpx.Response], Any] = parse_json_body,
    ) -> Any:
        if self._pages_fetched >= self._max_pages:
            raise PageLimitExceeded(
                f"{method} {httpx.URL(url).path} still had a next page after {self._max_pages} "
                "pages; raise max_pages if the listing is really that long",
                platform=self._client.platform,
                account_id=self._client.account_id,
            )
        page = self._client.request_parsed(method, url, parse, params=params, json=json)
        self._pages_fetched += 1
        self._client.stats.pages += 1
        return page

    def follow(self, cursor: object) -> None:
        """Remember `cursor`, the way to the next page; raise if an earlier page gave it too."""
        key = str(cursor)
        first_page = self._page_by_cursor.get(key)
        if first_page is not None:
            # Name positions, not the cursor: next URLs can carry access tokens.
            raise RepeatedCursorError(
                f"page {self._pages_fetched} returned the same next-page cursor as page "
                f"{first_page}; stopping instead of looping",
                platform=self._client.platform,
                account_id=self._client.account_id,
            )
        self._page_by_cursor[key] = self._pages_fetched


@dataclass(frozen=True, kw_only=True)
class NextUrlPaginator(Paginator):
    """Follows a full next-page URL in the body: Meta `paging.next`, Snapchat, Omnisend v3."""

    next_path: JsonPath = ("paging", "next")

    def _walk(
        self, listing: _Listing, method: str, url: str, params: dict[str, Any], json: Any
    ) -> Iterator[Any]:
        """Each page until one has no next URL; next URLs are fetched with GET as given."""
        body = listing.fetch(method, url, params, json)
        while True:
            yield body
            next_url = dig(body, self.next_path)
            if not next_url:
                return
            listing.follow(next_url)
            # The next URL already carries every parameter; adding ours again would duplicate them.
            body = listing.fetch("GET", next_url, None, None)


@dataclass(frozen=True, kw_only=True)
class CursorPaginator(Paginator):
    """Sends back a cursor found in the body as a query parameter (Omnisend `paging.cursors.after`)."""

    cursor_path: JsonPath
    cursor_param: str
    has_more_path: JsonPath | None = None

    def _walk(
        self, listing: _Listing, method: str, url: str, params: dict[str, Any], json: Any
    ) -> Iterator[Any]:
        """Each page until the cursor is missing or `has_more_path` says there are no more."""
        body = listing.fetch(method, url, params, json)
        while True:
            yield body
            cursor = dig(body, self.cursor_path)
            if not cursor or (self.has_more_path is not None and not dig(body, self.has_more_path)):
                return
            listing.follow(cursor)
            body = listing.fetch(method, url, {**params, self.cursor_param: cursor}, json)


@dataclass(frozen=True, kw_only=True)
class PageTokenPaginator(Paginator):
    """Repeats the identical request plus the previous page's token (Google Ads, LinkedIn finders)."""

    token_field: JsonPath = "nextPageToken"
    request_field: str = "pageToken"
    in_json_body: bool = True

    def _walk(
        self, listing: _Listing, method: str, url: str, params: dict[str, Any], json: Any
    ) -> Iterator[Any]:
        """Each page until one has no (or an empty) token; the token goes in the body or query."""
        body = listing.fetch(method, url, params, json)
        while True:
            yield body
            token = dig(body, self.token_field)
            if not token:
                return
            listing.follow(token)
            if self.in_json_body:
                body = listing.fetch(
                    method, url, params, {**(json or {}), self.request_field: token}
                )
            else:
                body = listing.fetch(method, url, {**params, self.request_field: token}, json)


def _body_and_next_link(response: httpx.Response) -> tuple[Any, str | None]:
    return parse_json_body(response), response.links.get("next", {}).get("url")


@dataclass(frozen=True, kw_only=True)
class LinkHeaderPaginator(Paginator):
    """Follows the `Link: <…>; rel="next"` response header (Shopify REST `page_info`)."""

    def _walk(
        self, listing: _Listing, method: str, url: str, params: dict[str, Any], json: Any
    ) -> Iterator[Any]:
        """Each page until a response has no rel="next" link."""
        body, next_url = listing.fetch(method, url, params, json, _body_and_next_link)
        while True:
            yield body
            if not next_url:
                return
            listing.follow(next_url)
            # Shopify rejects filters sent beside page_info; the link already carries them.
            body, next_url = listing.fetch("GET", next_url, None, None, _body_and_next_link)


@dataclass(frozen=True, kw_only=True)
class StartingAfterPaginator(Paginator):
    """Asks for the records after the last id seen while `has_more` is true (Stripe lists)."""

    data_field: JsonPath = "data"
    has_more_field: JsonPath = "has_more"
    id_field: str = "id"

    def _walk(
        self, listing: _Listing, method: str, url: str, params: dict[str, Any], json: Any
    ) -> Iterator[Any]:
        """Each page until `has_more` is false or a page has no records to continue after."""
        body = listing.fetch(method, url, params, json)
        while True:
            yield body
            records = dig(body, self.data_field) or []
            if not dig(body, self.has_more_field) or not records:
                return
            last_id = dig(records[-1], self.id_field)
            if not last_id:
                return
            listing.follow(last_id)
            body = listing.fetch(method, url, {**params, "starting_after": last_id}, json)


@dataclass(frozen=True, kw_only=True)
class OffsetPaginator(Paginator):
    """Steps an offset by the records received (Mailchimp count/offset, GA4 limit/offset in JSON)."""

    limit_param: str
    offset_param: str
    page_size: int
    records_path: JsonPath
    total_path: JsonPath | None
    in_json_body: bool = False

    def _walk(
        self, listing: _Listing, method: str, url: str, params: dict[str, Any], json: Any
    ) -> Iterator[Any]:
        """Each page until the total is reached, a page is empty, or (no total) a page is short."""
        offset = 0
        while True:
            window = {self.limit_param: self.page_size, self.offset_param: offset}
            if self.in_json_body:
                body = listing.fetch(method, url, params, {**(json or {}), **window})
            else:
                body = listing.fetch(method, url, {**params, **window}, json)
            yield body
            records = dig(body, self.records_path) or []
            # Step by what arrived, not by page_size: servers may cap a page below what we asked.
            offset += len(records)
            total = dig(body, self.total_path) if self.total_path is not None else None
            if not records:
                return
            if total is not None and offset >= int(total):
                return
            if total is None and len(records) < self.page_size:
                return


@dataclass(frozen=True, kw_only=True)
class PageNumberPaginator(Paginator):
    """Counts pages 1, 2, … up to the total the body reports (TikTok `data.page_info.total_page`)."""

    page_param: str = "page"
    page_size_param: str = "page_size"
    page_size: int
    total_pages_path: JsonPath

    def _walk(
        self, listing: _Listing, method: str, url: str, params: dict[str, Any], json: Any
    ) -> Iterator[Any]:
        """Pages 1 through the reported total; a body without a total is the only page."""
        page = 1
        while True:
            numbered = {self.page_param: page, self.page_size_param: self.page_size}
            body = listing.fetch(method, url, {**params, **numbered}, json)
            yield body
            total_pages = dig(body, self.total_pages_path)
            if total_pages is None or page >= int(total_pages):
                return
            page += 1
