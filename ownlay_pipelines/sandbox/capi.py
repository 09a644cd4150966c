"""The four Conversions APIs, simulated in their wire formats, with a match-rate report.

One `CapiSandbox` answers Meta (`graph.facebook.com/{v}/{pixel}/events`), Google Ads
(`googleads.googleapis.com/{v}/customers/{cid}:uploadClickConversions`), TikTok
(`business-api.tiktok.com/open_api/v1.3/event/track/`) and Snapchat
(`tr.snapchat.com/v3/{pixel}/events`) as an httpx transport. Each checks credentials, batch
limits and required fields the way the platform does and answers with its error bodies: Meta
and TikTok refuse a whole batch for one bad event, Google reports `partialFailureError` rows,
Snapchat a status per event. `fail_next` injects 5xx or throttling answers.

Like a platform, it knows the people behind its visitors: their real e-mails and phones in
canonical form (`SandboxPerson`). It hashes them *its own way* (not with capi/normalize.py) and
counts, per destination, how many received events carry a hash it recognises — the match rate
— so a wrong normalisation shows up as a lower rate. It also counts events received twice with
the same dedup id after being accepted (`duplicates`). With `journal`, every received event is
appended to a file, which survives a SIGKILL of the process using the transport.
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
import time
import uuid
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

META_HOST = "graph.facebook.com"
GOOGLE_HOST = "googleads.googleapis.com"
TIKTOK_HOST = "business-api.tiktok.com"
SNAPCHAT_HOST = "tr.snapchat.com"
MAX_BATCH = {"meta": 1_000, "google": 2_000, "tiktok": 1_000, "snapchat": 2_000}


@dataclass(frozen=True)
class SandboxPerson:
    """A visitor as the platforms know them: canonical e-mail and E.164 phone."""

    email: str
    phone_e164: str


def _sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def _platform_hashes(person: SandboxPerson) -> dict[str, set[str]]:
    """What each platform stores for this person: Meta/Snap phone digits, Google/TikTok E.164,
    Google's Gmail addresses without dots in the local part."""
    email = person.email
    local, domain = email.split("@", 1)
    google_email = (
        f"{local.replace('.', '')}@{domain}" if domain in ("gmail.com", "googlemail.com") else email
    )
    digits = person.phone_e164.lstrip("+")
    return {
        "meta": {_sha(email), _sha(digits)},
        "snapchat": {_sha(email), _sha(digits)},
        "google": {_sha(google_email), _sha("+" + digits)},
        "tiktok": {_sha(email), _sha("+" + digits)},
    }


@dataclass
class DestinationTally:
    """What one destination received: events, accepted, matched, duplicates, test events."""

    received: int = 0
    accepted: int = 0
    matched: int = 0
    duplicates: int = 0
    test_events: int = 0
    accepted_ids: set[str] = field(default_factory=set)

    @property
    def match_rate(self) -> float:
        return self.matched / self.accepted if self.accepted else 0.0


class CapiSandbox:
    """The four CAPI endpoints in one httpx transport (see module docstring)."""

    def __init__(
        self,
        people: Iterable[SandboxPerson] = (),
        *,
        journal: Path | None = None,
        known_gclids: Iterable[str] | None = None,
    ) -> None:
        self._known: dict[str, set[str]] = defaultdict(set)
        for person in people:
            for platform, hashes in _platform_hashes(person).items():
                self._known[platform] |= hashes
        self._known_gclids = set(known_gclids) if known_gclids is not None else None
        self.tallies: dict[tuple[str, str], DestinationTally] = defaultdict(DestinationTally)
        self.fail_next: dict[str, list[int]] = defaultdict(list)
        """Host → HTTP statuses (or 429) to answer the next requests with, in order."""
        self.requests = 0
        self._lock = threading.Lock()
        self._journal = (
            os.open(journal, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600) if journal else None
        )

    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self.handle)

    def match_rates(self) -> dict[tuple[str, str], float]:
        """(platform, account) → share of accepted events whose e-mail or phone hash matched."""
        return {key: tally.match_rate for key, tally in sorted(self.tallies.items())}

    def handle(self, request: httpx.Request) -> httpx.Response:
        with self._lock:
            self.requests += 1
            injected = self.fail_next.get(request.url.host)
            if injected:
                return _injected(request.url.host, injected.pop(0))
            handler = {
                META_HOST: self._meta,
                GOOGLE_HOST: self._google,
                TIKTOK_HOST: self._tiktok,
                SNAPCHAT_HOST: self._snapchat,
            }.get(request.url.host)
            if handler is None or request.method != "POST":
                return httpx.Response(404, json={"error": "not found"})
            try:
                body = json.loads(request.content)
            except ValueError:
                return httpx.Response(400, json={"error": {"message": "body is not JSON"}})
            return handler(request, body)

    # --- Meta -------------------------------------------------------------------------------

    def _meta(self, request: httpx.Request, body: dict[str, Any]) -> httpx.Response:
        parts = request.url.path.strip("/").split("/")
        if len(parts) != 3 or parts[2] != "events":
            return httpx.Response(404, json=_meta_error(803, None, "Unknown path"))
        if not request.url.params.get("access_token"):
            return httpx.Response(400, json=_meta_error(190, None, "Invalid OAuth access token."))
        data = body.get("data")
        if not isinstance(data, list) or not data:
            return httpx.Response(400, json=_meta_error(100, 2804003, "data must be a list"))
        if len(data) > MAX_BATCH["meta"]:
            return httpx.Response(400, json=_meta_error(100, 2804016, "Too many events"))
        for event in data:
            problem = _meta_like_problem(event, website_needs_ua=True)
            if problem:
                return httpx.Response(400, json=_meta_error(100, 2804019, problem))
        self._accept("meta", parts[1], data, test=bool(body.get("test_event_code")))
        return httpx.Response(
            200,
            json={"events_received": len(data), "messages": [], "fbtrace_id": _trace()},
        )

    # --- Google Ads -------------------------------------------------------------------------

    def _google(self, request: httpx.Request, body: dict[str, Any]) -> httpx.Response:
        path = request.url.path
        if not path.endswith(":uploadClickConversions") or "/customers/" not in path:
            return httpx.Response(404, json=_google_error(404, "NOT_FOUND", "Unknown method"))
        customer = path.rsplit("/", 1)[1].split(":")[0]
        auth = request.headers.get("Authorization", "")
        if not auth.startswith("Bearer ") or not request.headers.get("developer-token"):
            return httpx.Response(
                401, json=_google_error(401, "UNAUTHENTICATED", "Request is missing credentials")
            )
        conversions = body.get("conversions")
        if body.get("partialFailure") is not True:
            return httpx.Response(
                400, json=_google_error(400, "INVALID_ARGUMENT", "partialFailure must be true")
            )
        if not isinstance(conversions, list) or len(conversions) > MAX_BATCH["google"]:
            return httpx.Response(
                400,
                json=_google_error(
                    400,
                    "INVALID_ARGUMENT",
                    "TOO_MANY_CONVERSIONS_IN_REQUEST: upload fewer than 2001",
                ),
            )
        results: list[dict[str, Any]] = []
        errors: list[dict[str, Any]] = []
        accepted: list[dict[str, Any]] = []
        tally = self.tallies[("google", customer)]
        for index, conversion in enumerate(conversions):
            code = self._google_row_error(conversion, tally)
            if code:
                results.append({})
                errors.append(
                    {
                        "errorCode": {"conversionUploadErrorCode": code},
                        "message": code.replace("_", " ").lower(),
                        "location": {
                            "fieldPathElements": [{"fieldName": "conversions", "index": index}]
                        },
                    }
                )
                continue
            results.append(
                {
                    "gclid": conversion.get("gclid", ""),
                    "conversionAction": conversion["conversionAction"],
                    "conversionDateTime": conversion["conversionDateTime"],
                }
            )
            accepted.append(conversion)
        if not body.get("validateOnly"):
            self._accept_google(customer, accepted)
        payload: dict[str, Any] = {"results": results}
        if errors:
            payload["partialFailureError"] = {
                "code": 3,
                "message": f"{errors[0]['message']}, at conversions[{_index(errors[0])}]",
                "details": [
                    {
                        "@type": "type.googleapis.com/google.ads.googleads.v23.errors.GoogleAdsFailure",
                        "errors": errors,
                    }
                ],
            }
        return httpx.Response(200, json=payload, headers={"request-id": _trace()})

    def _google_row_error(self, conversion: dict[str, Any], tally: DestinationTally) -> str | None:
        if not conversion.get("conversionAction") or not conversion.get("conversionDateTime"):
            return "INVALID_CONVERSION_ACTION"
        gclid = conversion.get("gclid")
        identifiers = conversion.get("userIdentifiers") or []
        if len(identifiers) > 5:
            return "TOO_MANY_USER_IDENTIFIERS"
        if gclid and self._known_gclids is not None and gclid not in self._known_gclids:
            return "UNPARSEABLE_GCLID"
        if not gclid and not identifiers:
            return "CLICK_NOT_FOUND"
        order_id = str(conversion.get("orderId", ""))
        if order_id and order_id in tally.accepted_ids:
            tally.duplicates += 1
            return "ORDER_ID_ALREADY_IN_USE"
        return None

    def _accept_google(self, customer: str, conversions: list[dict[str, Any]]) -> None:
        tally = self.tallies[("google", customer)]
        for conversion in conversions:
            hashes = {
                value
                for identifier in conversion.get("userIdentifiers", [])
                for key, value in identifier.items()
                if key in ("hashedEmail", "hashedPhoneNumber")
            }
            self._count(tally, "google", str(conversion.get("orderId", "")), hashes, customer)

    # --- TikTok -----------------------------------------------------------------------------

    def _tiktok(self, request: httpx.Request, body: dict[str, Any]) -> httpx.Response:
        if request.url.path != "/open_api/v1.3/event/track/":
            return httpx.Response(404, json={"code": 40400, "message": "Not found"})
        if not request.headers.get("Access-Token"):
            return _tiktok_answer(40105, "The access token is invalid or has been revoked.")
        data = body.get("data")
        pixel = body.get("event_source_id")
        if body.get("event_source") != "web" or not pixel:
            return _tiktok_answer(40002, "event_source and event_source_id are required")
        if not isinstance(data, list) or not data or len(data) > MAX_BATCH["tiktok"]:
            return _tiktok_answer(40002, "data must hold 1 to 1000 events")
        for index, event in enumerate(data):
            if not event.get("event") or not event.get("event_id"):
                return _tiktok_answer(40002, f"data[{index}]: event and event_id are required")
            if not isinstance(event.get("event_time"), int):
                return _tiktok_answer(40002, f"data[{index}].event_time must be Unix seconds")
        tally = self.tallies[("tiktok", str(pixel))]
        for event in data:
            user = event.get("user", {})
            hashes = {user[k] for k in ("email", "phone") if isinstance(user.get(k), str)}
            self._count(tally, "tiktok", event["event_id"], hashes, str(pixel),
                        test=bool(body.get("test_event_code")))  # fmt: skip
        return _tiktok_answer(0, "OK")

    # --- Snapchat ---------------------------------------------------------------------------

    def _snapchat(self, request: httpx.Request, body: dict[str, Any]) -> httpx.Response:
        parts = request.url.path.strip("/").split("/")
        if len(parts) not in (3, 4) or parts[0] != "v3" or parts[2] != "events":
            return httpx.Response(404, json={"status": "FAILED", "reason": "Unknown path"})
        if not request.url.params.get("access_token"):
            return httpx.Response(401, json={"status": "FAILED", "reason": "Unauthorized"})
        validate_only = len(parts) == 4 and parts[3] == "validate"
        data = body.get("data")
        if not isinstance(data, list) or not data or len(data) > MAX_BATCH["snapchat"]:
            return httpx.Response(
                400, json={"status": "FAILED", "reason": "data must hold 1 to 2000 events"}
            )
        pixel = parts[1]
        tally = self.tallies[("snapchat", pixel)]
        statuses = []
        for event in data:
            problem = _meta_like_problem(event, website_needs_ua=False)
            user = event.get("user_data", {})
            if not problem and not (
                user.get("em") or user.get("ph")
                or (user.get("client_ip_address") and user.get("client_user_agent"))
            ):  # fmt: skip
                problem = "at least one of em, ph, or client_ip_address with client_user_agent"
            if problem:
                statuses.append({"status": "FAILED", "reason": problem})
                continue
            statuses.append({"status": "SUCCESS"})
            if not validate_only:
                self._count(tally, "snapchat", event["event_id"], _listed_hashes(user), pixel)
        failed = sum(s["status"] == "FAILED" for s in statuses)
        return httpx.Response(
            200,
            json={
                "status": "SUCCESS"
                if not failed
                else ("FAILED" if failed == len(data) else "PARTIAL"),
                "request_id": _trace(),
                "events": statuses,
            },
        )

    # --- shared -----------------------------------------------------------------------------

    def _accept(
        self, platform: str, account: str, data: list[dict[str, Any]], *, test: bool
    ) -> None:
        tally = self.tallies[(platform, account)]
        for event in data:
            hashes = _listed_hashes(event.get("user_data", {}))
            self._count(tally, platform, str(event["event_id"]), hashes, account, test=test)

    def _count(
        self,
        tally: DestinationTally,
        platform: str,
        dedup_id: str,
        hashes: set[str],
        account: str,
        *,
        test: bool = False,
    ) -> None:
        tally.received += 1
        if self._journal is not None:
            line = f"{platform}\t{account}\t{dedup_id}\t{time.time():.6f}\n"
            os.write(self._journal, line.encode())
        if test:
            tally.test_events += 1
            return
        if dedup_id in tally.accepted_ids:
            tally.duplicates += 1
            return
        tally.accepted_ids.add(dedup_id)
        tally.accepted += 1
        if hashes & self._known[platform]:
            tally.matched += 1


def _listed_hashes(user_data: dict[str, Any]) -> set[str]:
    found: set[str] = set()
    for key in ("em", "ph"):
        value = user_data.get(key)
        values = value if isinstance(value, list) else [value]
        found |= {v for v in values if isinstance(v, str)}
    return found


def _meta_like_problem(event: dict[str, Any], *, website_needs_ua: bool) -> str | None:
    for name in ("event_name", "event_time", "event_id", "action_source"):
        if not event.get(name):
            return f"{name} is required"
    if not isinstance(event["event_time"], int):
        return "event_time must be Unix seconds"
    user = event.get("user_data")
    if not isinstance(user, dict):
        return "user_data is required"
    if (
        website_needs_ua
        and event["action_source"] == "website"
        and not user.get("client_user_agent")
    ):
        return "client_user_agent is required for website events"
    for key in ("em", "ph"):
        for value in user.get(key) or []:
            if not (isinstance(value, str) and len(value) == 64 and value == value.lower()):
                return f"user_data.{key} must be a lowercase SHA-256 hex digest"
    return None


def _meta_error(code: int, subcode: int | None, message: str) -> dict[str, Any]:
    error: dict[str, Any] = {
        "message": message,
        "type": "OAuthException",
        "code": code,
        "fbtrace_id": _trace(),
    }
    if subcode is not None:
        error["error_subcode"] = subcode
        error["error_user_msg"] = message
    return {"error": error}


def _google_error(http: int, status: str, message: str) -> dict[str, Any]:
    return {"error": {"code": http, "message": message, "status": status}}


def _tiktok_answer(code: int, message: str) -> httpx.Response:
    return httpx.Response(
        200, json={"code": code, "message": message, "request_id": _trace(), "data": {}}
    )


def _index(error: dict[str, Any]) -> int:
    return int(error["location"]["fieldPathElements"][0]["index"])


def _injected(host: str, status: int) -> httpx.Response:
    if host == TIKTOK_HOST and status == 429:
        return _tiktok_answer(40100, "Too many requests. Please retry in some time.")
    if host == META_HOST and status == 429:
        return httpx.Response(400, json=_meta_error(17, 2446079, "User request limit reached"))
    headers = {"Retry-After": "1"} if status == 429 else {}
    return httpx.Response(status, json={"error": {"message": "injected fault"}}, headers=headers)


def _trace() -> str:
    return uuid.uuid4().hex[:20]
