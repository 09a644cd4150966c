"""Mailchimp Marketing API 3.0: campaigns, lists (audiences), campaign reports and list members.

Wire facts (reference/connectors.md §1.9): the API key ends in its data centre (`…-us21`) and the
account lives on `https://us21.api.mailchimp.com/3.0`; Basic auth with any user name and the key
as password; lists page with `count` (≤ 1000) and `offset`, the body giving `total_items`;
timestamps are ISO 8601 with offset; errors are `application/problem+json`
`{type, title, status, detail, instance}`. There is no request quota, but at most **10
simultaneous connections** per account: the client holds one of ten slots per account for the
duration of each request (threads of one process share them); beyond that Mailchimp answers
429, and heavy throttling can show up as a bare 403 without a JSON body, which is treated as a
rate limit too.

Across runs (one process each) the slots cannot see each other: the `mailchimp_api` Dagster pool
(limit 3, deploy/dagster.yaml) is what keeps all of an account's syncs within ten.

Reports keep accruing opens and clicks for weeks after a send, so reports are filed under their
send day (workspace timezone) and re-pulled for `REPORT_LOOKBACK_DAYS`. Members are not paged by
count/offset, which skips a member whenever one ahead of it changes mid-sync, but by keyset on
`last_changed`, archived ones asked for by status (`mailchimp_members.py`). The e-mail is stored
only as the keyed HMAC pseudonym. Mailchimp's own member id is the MD5 of the lower-cased
address — an unkeyed hash anyone can recompute from a list of addresses — so it is neither asked
for nor kept: no table here needs it as a join key (e-mail activity, the one endpoint keyed by
it, is not synced).
"""

from __future__ import annotations

import base64
import re
import threading
from collections.abc import Iterator, Mapping
from typing import Any

import httpx

from ownlay_pipelines.connectors import mailchimp_rows as rows
from ownlay_pipelines.connectors.mailchimp_members import audience_members
from ownlay_pipelines.connectors.streams import (
    Cadence,
    Connector,
    FetchRequest,
    Partitioning,
    Record,
    StreamSpec,
)
from ownlay_pipelines.http.client import ApiClient
from ownlay_pipelines.http.errors import (
    ApiError,
    AuthExpired,
    FatalApiError,
    MalformedCredential,
    PermissionDenied,
    RateLimited,
    TransientError,
)
from ownlay_pipelines.http.pagination import OffsetPaginator
from ownlay_pipelines.http.rate_limit import RateLimit
from ownlay_pipelines.http.responses import describe_response, json_object
from ownlay_pipelines.schema.platforms import Platform

API_VERSION = "3.0"
PAGE_SIZE = 1000
MAX_CONNECTIONS = 10
REPORT_LOOKBACK_DAYS = 30
DATA_CENTRE = re.compile(r"^[a-z]{2,4}[0-9]{1,3}$")

_slots_lock = threading.Lock()
_connection_slots: dict[str, threading.BoundedSemaphore] = {}


def connection_slots(account_id: str) -> threading.BoundedSemaphore:
    """The ten connection slots of one Mailchimp account, shared by every client in the process."""
    with _slots_lock:
        return _connection_slots.setdefault(account_id, threading.BoundedSemaphore(MAX_CONNECTIONS))


def data_centre(api_key: str) -> str:
    """`us21` from `…-us21` (surrounding whitespace of a pasted key ignored); a key without one
    is a configuration error naming the credential and the expected form, never the key."""
    key, dash, suffix = api_key.strip().rpartition("-")
    if not (key and dash and DATA_CENTRE.fullmatch(suffix)):
        raise MalformedCredential(
            credential="api_key",
            problem="has no data-centre suffix (it should end like '-us21'); copy the whole "
            "key from Mailchimp's Account → Extras → API keys",
            platform=Platform.MAILCHIMP.value,
        )
    return suffix


class MailchimpClient(ApiClient):
    """One Mailchimp account; the data centre comes from the API key."""

    platform = Platform.MAILCHIMP.value

    def __init__(self, *, api_key: str, account_id: str, **kwargs: Any) -> None:
        kwargs.setdefault(
            "base_url", f"https://{data_centre(api_key)}.api.mailchimp.com/{API_VERSION}"
        )
        super().__init__(account_id=account_id, **kwargs)
        self._basic = base64.b64encode(f"ownlay:{api_key.strip()}".encode()).decode()
        self._slots = connection_slots(account_id)

    def auth_headers(self) -> dict[str, str]:
        return {"Authorization": f"Basic {self._basic}"}

    def request_parsed(self, method: str, url: str, parse: Any, **kwargs: Any) -> Any:
        """Every call (`request`, `request_json` and paging go through here) holds one of the
        account's ten connection slots while it runs, retries included."""
        with self._slots:
            return super().request_parsed(method, url, parse, **kwargs)

    def classify(self, response: httpx.Response) -> ApiError | None:
        if response.is_success:
            return None
        status = response.status_code
        problem = json_object(response)
        message = str(problem.get("detail") or problem.get("title") or describe_response(response))
        where = {"status": status, "code": str(problem.get("title") or status)}
        if status == 429 or (status == 403 and not problem):
            return RateLimited(f"{message} (more than {MAX_CONNECTIONS} connections?)", **where)
        if status == 401:
            return AuthExpired(f"{message}; the API key was disabled or is wrong", **where)
        if status == 403:
            return PermissionDenied(message, **where)
        if status >= 500:
            return TransientError(message, **where)
        return FatalApiError(message, **where)

    def items(
        self, path: str, key: str, params: Mapping[str, Any] | None = None
    ) -> Iterator[Record]:
        """Every item under `key` of the list at `path`, page by page (count/offset)."""
        paginator = OffsetPaginator(
            limit_param="count",
            offset_param="offset",
            page_size=PAGE_SIZE,
            records_path=key,
            total_path="total_items",
        )
        for page in paginator.pages(self, "GET", path, params=dict(params or {})):
            yield from page.get(key, [])


def _send_window(request: FetchRequest) -> dict[str, str]:
    assert request.date_range is not None
    start, end = request.date_range.bounds_in(request.workspace.zone)
    return {"since_send_time": start.isoformat(), "before_send_time": end.isoformat()}


def _fetch_reports(client: ApiClient, request: FetchRequest) -> Iterator[Record]:
    assert isinstance(client, MailchimpClient)
    # Every campaign type: plain-text, A/B (variate) and RSS sends have reports too.
    yield from client.items("reports", "reports", _send_window(request))


def _fetch_campaigns(client: ApiClient, request: FetchRequest) -> Iterator[Record]:
    assert isinstance(client, MailchimpClient)
    yield from client.items("campaigns", "campaigns")


def _fetch_lists(client: ApiClient, request: FetchRequest) -> Iterator[Record]:
    assert isinstance(client, MailchimpClient)
    yield from client.items("lists", "lists")


def _fetch_members(client: ApiClient, request: FetchRequest) -> Iterator[Record]:
    """Each audience's members, read consistently and with the address already keyed-hashed
    (`mailchimp_members.py`); without the hash key nothing is fetched."""
    assert isinstance(client, MailchimpClient)
    hasher = rows.member_hasher()
    for audience in client.items("lists", "lists", {"fields": "lists.id,total_items"}):
        yield from audience_members(client, str(audience["id"]), hasher, PAGE_SIZE)


STREAMS: tuple[StreamSpec, ...] = (
    StreamSpec(
        platform=Platform.MAILCHIMP,
        table="reports",
        description="One row per sent Mailchimp campaign, filed under its send day (workspace "
        "timezone): sends, opens, clicks, bounces, unsubscribes as Mailchimp reports them now.",
        partitioning=Partitioning.DATE_AND_WORKSPACE,
        cadence=Cadence.DAILY,
        schema=rows.REPORT_SCHEMA,
        primary_key=("account_id", "campaign_id"),
        fetch=_fetch_reports,
        normalise=rows.normalise_report,
        restatement_lookback_days=REPORT_LOOKBACK_DAYS,
        wire_date_path="send_time",
    ),
    StreamSpec(
        platform=Platform.MAILCHIMP,
        # Not "campaigns": that table name means ad campaigns to the attribution and unified
        # models, which match conversions against every `raw/<platform>/campaigns` snapshot.
        table="email_campaigns",
        description="One row per Mailchimp campaign: title, subject, type, status, audience, "
        "created and sent times.",
        partitioning=Partitioning.WORKSPACE,
        cadence=Cadence.DAILY,
        schema=rows.CAMPAIGN_SCHEMA,
        primary_key=("account_id", "campaign_id"),
        fetch=_fetch_campaigns,
        normalise=rows.normalise_campaign,
    ),
    StreamSpec(
        platform=Platform.MAILCHIMP,
        table="lists",
        description="One row per Mailchimp audience (list): name, members, unsubscribes, created.",
        partitioning=Partitioning.WORKSPACE,
        cadence=Cadence.DAILY,
        schema=rows.LIST_SCHEMA,
        primary_key=("account_id", "list_id"),
        fetch=_fetch_lists,
        normalise=rows.normalise_list,
    ),
    StreamSpec(
        platform=Platform.MAILCHIMP,
        table="members",
        description="One row per audience member: status and last change; the e-mail only as "
        "a keyed HMAC pseudonym (Mailchimp's MD5 id is not kept).",
        partitioning=Partitioning.WORKSPACE,
        cadence=Cadence.DAILY,
        schema=rows.MEMBER_SCHEMA,
        primary_key=("account_id", "list_id", "email_hash"),
        fetch=_fetch_members,
        normalise=rows.normalise_member,
    ),
)


def build_client(*, credentials: Mapping[str, str], **client_options: Any) -> MailchimpClient:
    """A client for one account; `credentials` holds the resolved `api_key` (with `-dc`)."""
    return MailchimpClient(api_key=credentials["api_key"], **client_options)


CONNECTOR = Connector(
    platform=Platform.MAILCHIMP,
    build_client=build_client,
    # No published request quota; the connection cap is enforced by the client's slots. This
    # limit only keeps one sync from hammering an account.
    rate_limits=(RateLimit(requests=10, per_seconds=1.0),),
    streams=STREAMS,
    credential_names=("api_key",),
)
