"""Google Ads API v21 REST simulator on googleads.googleapis.com: search and searchStream.

What it reproduces (reference/connectors.md §1.2 and §5): GAQL in a JSON body; Bearer token,
`developer-token` and optional `login-customer-id` headers; camelCase rows with int64 values as
strings and money in micros; fixed pages (10,000 rows; smaller when a test asks) linked by opaque
`nextPageToken`s that are validated; searchStream as a JSON array of batches; and Google's error
envelope — `google.rpc` status plus a GoogleAdsFailure detail naming the error enum — for quota
(429 with `retryDelay`), expired tokens (401), transient failures (500) and bad queries (400).
"""

from __future__ import annotations

import base64
import itertools
import json
import re
from dataclasses import dataclass
from typing import Any

import httpx

from ownlay_pipelines.sandbox.entities import CampaignDayKey, SandboxAccount
from ownlay_pipelines.sandbox.faults import Fault, FaultDice, FaultPlan
from ownlay_pipelines.sandbox.gaql import GaqlError, parse_gaql
from ownlay_pipelines.sandbox.google_ads_fields import Row, field_mask, render
from ownlay_pipelines.sandbox.google_ads_query import run_query
from ownlay_pipelines.sandbox.seeding import rng_for
from ownlay_pipelines.sandbox.world import SandboxWorld

HOST = "googleads.googleapis.com"
API_VERSION = "v21"
PAGE_SIZE = 10_000
FAILURE_TYPE = f"type.googleapis.com/google.ads.googleads.{API_VERSION}.errors.GoogleAdsFailure"
PATH = re.compile(
    r"^/(?P<version>v\d+)/customers/(?P<customer>[^/]+)/googleAds:(?P<method>search|searchStream)$"
)
BODY_KEYS = frozenset({"query", "pageToken", "validateOnly", "searchSettings", "summaryRowSetting"})
CREDENTIALS_HELP = (
    "Expected OAuth 2 access token, login cookie or other valid authentication credential. "
    "See https://developers.google.com/identity/sign-in/web/devconsole-project."
)


class AdsError(Exception):
    """An error response: HTTP status, google.rpc status and the GoogleAdsFailure error, if any."""

    def __init__(
        self,
        http_status: int,
        status: str,
        message: str,
        error_code: dict[str, str] | None = None,
        detail: str = "",
        details: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.http_status = http_status
        self.status = status
        self.message = message
        self.error_code = error_code
        self.detail = detail
        self.details = details

    def body(self, request_id: str) -> dict[str, Any]:
        """Google's REST error envelope (the detail `@type` names this API version)."""
        error: dict[str, Any] = {
            "code": self.http_status,
            "message": self.message,
            "status": self.status,
        }
        if self.error_code:
            failure: dict[str, Any] = {
                "errorCode": self.error_code,
                "message": self.detail or self.message,
            }
            if self.details:
                failure["details"] = self.details
            error["details"] = [
                {
                    "@type": FAILURE_TYPE,
                    "errors": [failure],
                    "requestId": request_id,
                }
            ]
        return {"error": error}


def invalid_argument(kind: str, value: str, detail: str) -> AdsError:
    """HTTP 400 INVALID_ARGUMENT carrying one GoogleAdsFailure error such as a queryError."""
    return AdsError(
        400, "INVALID_ARGUMENT", "Request contains an invalid argument.", {kind: value}, detail
    )


@dataclass(frozen=True)
class PageToken:
    """What a `nextPageToken` stands for: the same query on the same customer, from `offset`."""

    customer_id: str
    query: str
    offset: int


class GoogleAdsSimulator:
    """The Google Ads REST API for every customer of the world, with the plan's faults injected."""

    platform = "google_ads"
    host = HOST

    def __init__(
        self, world: SandboxWorld, faults: FaultPlan | None = None, *, page_size: int = PAGE_SIZE
    ) -> None:
        if page_size < 1:
            raise ValueError(f"page_size must be at least 1, not {page_size}")
        self.world = world
        self.page_size = page_size
        self.dice = FaultDice(faults or FaultPlan(), self.platform)
        self.malformed_keys: set[CampaignDayKey] = set()
        """Identities of every metrics row served malformed so far (tests count quarantine)."""
        self.page_tokens: dict[str, PageToken] = {}
        self._requests = itertools.count()

    def use_faults(self, plan: FaultPlan) -> None:
        """Switch to a new fault plan; its decisions start from the first again."""
        self.dice = FaultDice(plan, self.platform)

    def handle(self, request: httpx.Request) -> httpx.Response:
        """Answer one HTTP request as googleads.googleapis.com would."""
        request_id = self._request_id()
        try:
            status, body = 200, self._serve(request, request_id)
        except AdsError as error:
            status, body = error.http_status, error.body(request_id)
        return httpx.Response(status, json=body, headers={"request-id": request_id})

    def _serve(self, request: httpx.Request, request_id: str) -> Any:
        match = PATH.match(request.url.path)
        if match is None or request.method != "POST" or match["version"] != API_VERSION:
            raise AdsError(
                404,
                "NOT_FOUND",
                f"The requested URL {request.url.path} was not found (the sandbox serves POST "
                f"/{API_VERSION}/customers/{{id}}/googleAds:search and :searchStream).",
            )
        account = self._authorise(request, match["customer"])
        if self.dice.roll(Fault.THROTTLE):
            raise AdsError(
                429,
                "RESOURCE_EXHAUSTED",
                "Resource has been exhausted (e.g. check quota).",
                {"quotaError": "RESOURCE_TEMPORARILY_EXHAUSTED"},
                "Too many requests. Retry in 30 seconds.",
                {
                    "quotaErrorDetails": {
                        "rateScope": "ACCOUNT",
                        "rateName": "Requests per service per method",
                        "retryDelay": "30s",
                    }
                },
            )
        if self.dice.roll(Fault.SERVER_ERROR):
            raise AdsError(
                500,
                "INTERNAL",
                "Internal error encountered.",
                {"internalError": "TRANSIENT_ERROR"},
                "The request failed due to a transient error. Retry the request.",
            )
        body = _json_body(request)
        query_text = body.get("query")
        if not isinstance(query_text, str) or not query_text.strip():
            raise invalid_argument(
                "requestError", "REQUIRED_FIELD_MISSING", "The request body needs a GAQL 'query'."
            )
        try:
            query = parse_gaql(query_text)
            rows = run_query(self.world, account, query)
        except GaqlError as error:
            raise invalid_argument("queryError", error.code, error.message) from None
        mask = field_mask(query.fields)
        if match["method"] == "searchStream":
            if "pageToken" in body:
                raise invalid_argument(
                    "requestError",
                    "INVALID_PAGE_TOKEN",
                    "searchStream does not page; drop pageToken.",
                )
            batches = [
                rows[i : i + self.page_size] for i in range(0, len(rows), self.page_size)
            ] or [[]]
            return [self._batch(b, query.fields, query.resource, mask, request_id) for b in batches]
        offset = self._offset(body.get("pageToken"), account, query_text)
        page = self._batch(
            rows[offset : offset + self.page_size], query.fields, query.resource, mask, request_id
        )
        if offset + self.page_size < len(rows):
            page["nextPageToken"] = self._issue_token(
                PageToken(account.account_id, query_text, offset + self.page_size)
            )
        if (body.get("searchSettings") or {}).get("returnTotalResultsCount"):
            page["totalResultsCount"] = str(len(rows))
        return page

    def _authorise(self, request: httpx.Request, customer_id: str) -> SandboxAccount:
        if not request.headers.get("authorization", "").startswith("Bearer "):
            raise AdsError(
                401,
                "UNAUTHENTICATED",
                f"Request is missing required authentication credential. {CREDENTIALS_HELP}",
            )
        if self.dice.token_expired():
            raise AdsError(
                401,
                "UNAUTHENTICATED",
                f"Request had invalid authentication credentials. {CREDENTIALS_HELP}",
                {"authenticationError": "OAUTH_TOKEN_EXPIRED"},
                "OAuth token in the header has expired.",
            )
        # Google reports a missing developer token as a RequestError, i.e. INVALID_ARGUMENT.
        if not request.headers.get("developer-token"):
            raise invalid_argument(
                "requestError",
                "DEVELOPER_TOKEN_PARAMETER_MISSING",
                "The developer-token parameter is required for all requests.",
            )
        if not customer_id.isdigit():
            raise invalid_argument(
                "authenticationError",
                "CLIENT_CUSTOMER_ID_INVALID",
                f"Client customer ID '{customer_id}' is not a number (no dashes).",
            )
        try:
            return self.world.account(self.platform, customer_id)
        except KeyError:
            raise AdsError(
                403,
                "PERMISSION_DENIED",
                "The caller does not have permission",
                {"authorizationError": "USER_PERMISSION_DENIED"},
                "User doesn't have permission to access customer. Note: If you're accessing a "
                "client customer, the manager's customer id must be set in the "
                "'login-customer-id' header. See "
                "https://developers.google.com/google-ads/api/docs/concepts/call-structure#cid",
            ) from None

    def _batch(
        self, rows: list[Row], fields: tuple[str, ...], resource: str, mask: str, request_id: str
    ) -> dict[str, Any]:
        results = [self._result(row, fields, resource) for row in rows]
        batch: dict[str, Any] = {"results": results} if results else {}
        # proto3 JSON leaves out an empty repeated field: a page with no rows has no "results".
        return batch | {
            "fieldMask": mask,
            "requestId": request_id,
            "queryResourceConsumption": str(10 + len(rows)),
        }

    def _result(self, row: Row, fields: tuple[str, ...], resource: str) -> dict[str, Any]:
        result = render(row, fields, resource)
        plan = self.dice.plan
        if row.key is not None and plan.row_is_malformed(self.platform, row.key):
            self.malformed_keys.add(row.key)
            metrics = result.get("metrics", {})
            if plan.malformation(self.platform, row.key, 2) == 0 and "costMicros" in metrics:
                metrics["costMicros"] = "12.5.0"
            else:
                result.pop("segments", None)
        return result

    def _offset(self, token: object, account: SandboxAccount, query: str) -> int:
        if token is None:
            return 0
        issued = self.page_tokens.get(str(token))
        if issued is None or issued.customer_id != account.account_id or issued.query != query:
            raise invalid_argument(
                "requestError",
                "INVALID_PAGE_TOKEN",
                "Page token is invalid: it was not issued for this customer and query.",
            )
        return issued.offset

    def _issue_token(self, token: PageToken) -> str:
        raw = rng_for(self.world.seed, "page-token", len(self.page_tokens)).randbytes(30)
        text = base64.urlsafe_b64encode(raw).decode()
        self.page_tokens[text] = token
        return text

    def _request_id(self) -> str:
        raw = rng_for(self.world.seed, "request-id", next(self._requests)).randbytes(16)
        return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _json_body(request: httpx.Request) -> dict[str, Any]:
    try:
        body = json.loads(request.content or b"{}")
    except ValueError:
        body = None
    if not isinstance(body, dict):
        raise AdsError(
            400, "INVALID_ARGUMENT", "Invalid JSON payload received. Expected a JSON object."
        )
    if "pageSize" in body:
        raise invalid_argument(
            "requestError",
            "PAGE_SIZE_NOT_SUPPORTED",
            "Setting the page size is not supported: search pages are a fixed 10,000 rows.",
        )
    unknown = sorted(set(body) - BODY_KEYS)
    if unknown:
        raise AdsError(
            400,
            "INVALID_ARGUMENT",
            f'Invalid JSON payload received. Unknown name "{unknown[0]}": Cannot find field.',
        )
    return body
